"""Pooling ops."""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedOpError
from ..registry import OpSpec, register_op
from . import checks

_POOL_CHECKS = (checks.pool_size, checks.strides, checks.padding)


def _pool(kind: str) -> Any:
    def convert(ctx: Any, op: Any) -> list[Any]:
        import keras

        name = ctx.name(op)
        layer = getattr(keras.layers, kind)(
            (op.options["filter_height"], op.options["filter_width"]),
            strides=checks.op_strides(op),
            padding=op.options.get("padding", "VALID").lower(), name=name)
        return [ctx.activate(layer(ctx.input(op, 0)), op, name)]
    return convert


def convert_mean(ctx: Any, op: Any) -> list[Any]:
    import keras

    axes = sorted(int(a) % 4 for a in ctx.constant(op, 1).reshape(-1)) if ctx.is_constant(op, 1) else None
    if axes != [1, 2] or len(ctx.input(op, 0).shape) != 4:
        raise UnsupportedOpError(f"op {op.index} (MEAN) over axes {axes}: only the spatial mean of NHWC "
                                 "tensors has a converter")
    layer = keras.layers.GlobalAveragePooling2D(keepdims=bool(op.options.get("keep_dims")), name=ctx.name(op))
    return [layer(ctx.input(op, 0))]


register_op(OpSpec("MAX_POOL_2D", layers=("MaxPooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("MaxPooling2D")))
register_op(OpSpec("AVERAGE_POOL_2D", layers=("AveragePooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("AveragePooling2D")))
register_op(OpSpec("MEAN", layers=("GlobalAveragePooling2D",), converter=convert_mean))
