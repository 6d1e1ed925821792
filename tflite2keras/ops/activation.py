"""Activations, including PReLU and its per-channel alpha."""

from __future__ import annotations

from typing import Any

from ..layout import RESHAPE
from ..registry import OpSpec, WeightSlot, register_op
from . import checks


def _layer(factory: Any) -> Any:
    def convert(ctx: Any, op: Any) -> list[Any]:
        return [factory(ctx.name(op))(ctx.input(op, 0))]
    return convert


def convert_prelu(ctx: Any, op: Any) -> list[Any]:
    from ..layers import PReLU

    x = ctx.input(op, 0)
    shape = tuple(x.shape[1:])
    alpha = ctx.tfl.tensor(op.inputs[1]).shape
    alpha = (1,) * (len(shape) - len(alpha)) + tuple(alpha)
    shared = [i + 1 for i, (a, d) in enumerate(zip(alpha, shape)) if a == 1 and d != 1]
    layer = PReLU(shared_axes=shared or None, name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def _keras() -> Any:
    import keras

    return keras.layers


register_op(OpSpec(
    "PRELU", layers=("PReLU",), checks=(checks.prelu_shared_axes,), converter=convert_prelu,
    weights=(WeightSlot(1, "alpha", RESHAPE, optional=False),),
))
register_op(OpSpec("RELU", layers=("ReLU", "Activation"), converter=_layer(lambda n: _keras().ReLU(name=n))))
register_op(OpSpec("RELU6", layers=("ReLU", "Activation"),
                   converter=_layer(lambda n: _keras().ReLU(max_value=6.0, name=n))))
register_op(OpSpec("LOGISTIC", layers=("Activation",),
                   converter=_layer(lambda n: _keras().Activation("sigmoid", name=n))))
register_op(OpSpec("TANH", layers=("Activation",), converter=_layer(lambda n: _keras().Activation("tanh", name=n))))
register_op(OpSpec("HARD_SWISH", layers=("Activation",),
                   converter=_layer(lambda n: _keras().Activation("hard_swish", name=n))))
register_op(OpSpec("SOFTMAX", layers=("Softmax", "Activation"),
                   converter=_layer(lambda n: _keras().Softmax(name=n))))
