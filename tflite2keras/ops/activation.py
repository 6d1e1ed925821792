"""Activations, including PReLU and its per-channel alpha."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..layout import RESHAPE
from ..model import Operator, TFLiteModel
from ..registry import Mismatch, OpSpec, WeightSlot, register_op


def _layer(factory: Any) -> Any:
    def convert(ctx: Any, op: Any) -> list[Any]:
        return [factory(ctx.name(op))(ctx.input(op, 0))]
    return convert


def shared_axes(input_shape: Sequence[int | None], alpha_shape: Sequence[int]) -> tuple[int, ...]:
    """The axes (1-based, batch excluded) over which PReLU's alpha is shared.

    ``alpha_shape`` broadcasts against the non-batch ``input_shape`` from the right; an axis is
    shared where alpha has extent 1 and the input does not.

    Example:
        >>> shared_axes((16, 24, 8), (1, 1, 8)), shared_axes((16, 24, 8), (8,)), shared_axes((1, 24, 8), (1, 24, 8))
        ((1, 2), (1, 2), ())
    """
    alpha = (1,) * (len(input_shape) - len(alpha_shape)) + tuple(alpha_shape)
    return tuple(i + 1 for i, (a, d) in enumerate(zip(alpha, input_shape)) if a == 1 and d != 1)


def check_shared_axes(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: the Keras alpha is shared over the axes the TFLite alpha is."""
    in_shape = model.tensor(op.inputs[0]).shape[1:]
    tfl = shared_axes(in_shape, model.tensor(op.inputs[1]).shape)
    keras = shared_axes(in_shape, tuple(layer.alpha.shape))
    if keras != tfl:
        yield "shared_axes", keras or None, tfl or None


def convert_prelu(ctx: Any, op: Any) -> list[Any]:
    from ..layers import PReLU

    x = ctx.input(op, 0)
    shared = shared_axes(tuple(x.shape[1:]), ctx.tfl.tensor(op.inputs[1]).shape)
    layer = PReLU(shared_axes=list(shared) or None, name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def _keras() -> Any:
    import keras

    return keras.layers


register_op(OpSpec(
    "PRELU", layers=("PReLU",), checks=(check_shared_axes,), converter=convert_prelu,
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
def convert_softmax(ctx: Any, op: Any) -> list[Any]:
    """SOFTMAX over the last axis of ``beta * x`` (a Rescaling in front when ``beta != 1``)."""
    x, name = ctx.input(op, 0), ctx.name(op)
    beta = float(op.options.get("beta", 1.0))
    if beta != 1.0:
        x = _keras().Rescaling(beta, name=ctx.suffixed(name, "beta"))(x)
    return [_keras().Softmax(name=name)(x)]


register_op(OpSpec("SOFTMAX", layers=("Softmax", "Activation"), converter=convert_softmax))
