"""Pooling ops."""

from __future__ import annotations

from typing import Any

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


register_op(OpSpec("MAX_POOL_2D", layers=("MaxPooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("MaxPooling2D")))
register_op(OpSpec("AVERAGE_POOL_2D", layers=("AveragePooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("AveragePooling2D")))
