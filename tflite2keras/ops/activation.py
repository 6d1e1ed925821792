"""Activations, including PReLU and its per-channel alpha.

Standard Keras layers where they compute the op exactly: ``ReLU`` (RELU, RELU6, RELU_0_TO_1),
``Activation`` (LOGISTIC, TANH, HARD_SWISH, RELU_N1_TO_1 as ``hard_tanh``, GELU, LOG_SOFTMAX),
``LeakyReLU``, ``ELU``, ``Softmax``; :class:`~tflite2keras.layers.L2Normalize` for L2_NORMALIZATION,
whose norm is bounded below by TFLite's 1e-6.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOpError
from ..tflite.model import Operator, TFLiteModel
from .contract import ConvertContext
from .layout import RESHAPE
from .prepare_shapes import broadcastable
from .registry import Mismatch, OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def _layer(factory: Any) -> Any:
    def convert(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
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


def convert_prelu(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
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
    weights=(WeightSlot(1, "alpha", RESHAPE, optional=False),), prepare=(broadcastable,),
))
register_op(OpSpec("RELU", layers=("ReLU", "Activation"), converter=_layer(lambda n: _keras().ReLU(name=n))))
register_op(OpSpec("RELU6", layers=("ReLU", "Activation"),
                   converter=_layer(lambda n: _keras().ReLU(max_value=6.0, name=n))))
register_op(OpSpec("LOGISTIC", layers=("Activation",),
                   converter=_layer(lambda n: _keras().Activation("sigmoid", name=n))))
register_op(OpSpec("TANH", layers=("Activation",), converter=_layer(lambda n: _keras().Activation("tanh", name=n))))
register_op(OpSpec("HARD_SWISH", layers=("Activation",),
                   converter=_layer(lambda n: _keras().Activation("hard_swish", name=n))))
register_op(OpSpec("RELU_N1_TO_1", layers=("Activation",),
                   converter=_layer(lambda n: _keras().Activation("hard_tanh", name=n))))
register_op(OpSpec("RELU_0_TO_1", layers=("ReLU",), converter=_layer(lambda n: _keras().ReLU(max_value=1.0, name=n))))
register_op(OpSpec("ELU", layers=("ELU",), converter=_layer(lambda n: _keras().ELU(alpha=1.0, name=n))))


def _last_axis(ctx: ConvertContext, op: Operator) -> Any:
    """The op's input, checked to have a non-batch last axis."""
    x = ctx.input(op, 0)
    if len(x.shape) < 2:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) on a rank-{len(x.shape)} input works on its last "
                                 "axis, the batch axis")
    return x


def convert_leaky_relu(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """LEAKY_RELU: ``x`` where positive, else ``alpha * x`` (``keras.layers.LeakyReLU``).

    Raises:
        UnsupportedOpError: ``alpha`` is negative (or NaN), which ``LeakyReLU`` refuses.
    """
    alpha = float(op.options.get("alpha", 0.0))
    if not alpha >= 0:
        raise UnsupportedOpError(f"op {op.index} (LEAKY_RELU) has alpha={alpha}; keras.layers.LeakyReLU takes "
                                 "only a non-negative slope")
    return [_keras().LeakyReLU(negative_slope=alpha, name=ctx.name(op))(ctx.input(op, 0))]


def convert_gelu(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """GELU: ``Activation("gelu")`` (erf form), or its tanh form when ``approximate``."""
    from ..layers.activation import gelu_approximate

    function = gelu_approximate if op.options.get("approximate", False) else "gelu"
    return [_keras().Activation(function, name=ctx.name(op))(ctx.input(op, 0))]


def convert_log_softmax(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """LOG_SOFTMAX over the last axis (``Activation("log_softmax")``)."""
    return [_keras().Activation("log_softmax", name=ctx.name(op))(_last_axis(ctx, op))]


def convert_l2_normalization(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """L2_NORMALIZATION over the last axis (:class:`~tflite2keras.layers.L2Normalize`)."""
    from ..layers import L2Normalize

    return [L2Normalize(name=ctx.name(op))(_last_axis(ctx, op))]


def check_leaky_relu(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: the Keras negative slope is the TFLite alpha (as float32)."""
    alpha = float(op.options.get("alpha", 0.0))
    if abs(float(layer.negative_slope) - alpha) > 1e-7 * max(1.0, abs(alpha)):
        yield "negative_slope", float(layer.negative_slope), alpha


def check_gelu(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: an approximate GELU is the tanh form, an exact one the erf form."""
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    want = "gelu_approximate" if op.options.get("approximate", False) else "gelu"
    if name != want:
        yield "activation", name, want


register_op(OpSpec("LEAKY_RELU", layers=("LeakyReLU",), checks=(check_leaky_relu,), converter=convert_leaky_relu))
register_op(OpSpec("GELU", layers=("Activation",), checks=(check_gelu,), converter=convert_gelu))
register_op(OpSpec("LOG_SOFTMAX", layers=("Activation",), converter=convert_log_softmax))
register_op(OpSpec("L2_NORMALIZATION", layers=("L2Normalize",), converter=convert_l2_normalization))


def convert_softmax(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """SOFTMAX over the last axis of ``beta * x`` (a Rescaling in front when ``beta != 1``)."""
    x, name = ctx.input(op, 0), ctx.name(op)
    beta = float(op.options.get("beta", 1.0))
    if beta != 1.0:
        x = _keras().Rescaling(beta, name=ctx.suffixed(name, "beta"))(x)
    return [_keras().Softmax(name=name)(x)]


register_op(OpSpec("SOFTMAX", layers=("Softmax", "Activation"), converter=convert_softmax))
