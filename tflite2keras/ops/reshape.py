"""RESHAPE, and the shape arithmetic in front of it (folded by :mod:`tflite2keras.shapes`)."""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedOpError
from ..registry import OpSpec, register_op


def convert_reshape(ctx: Any, op: Any) -> list[Any]:
    import keras

    x = ctx.input(op, 0)
    out = ctx.tfl.tensor(op.outputs[0]).shape
    if not out or out[0] != ctx.tfl.tensor(op.inputs[0]).shape[0]:
        raise UnsupportedOpError(f"op {op.index} (RESHAPE) to {out} changes the batch dimension")
    return [keras.layers.Reshape(tuple(out[1:]), name=ctx.name(op))(x)]


register_op(OpSpec("RESHAPE", layers=("Reshape", "Flatten"), converter=convert_reshape))
