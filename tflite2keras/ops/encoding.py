"""Ops that change how a tensor is stored, not what it means: no Keras layer of their own.

``DEQUANTIZE`` (float16 or int8 weights to float32) and ``DENSIFY`` (sparse weights) are
*pass-through*: applied to a constant, their output is the same weight, decoded by
:meth:`~tflite2keras.tflite.model.TFLiteModel.constant`, and ``convert`` skips them. ``QUANTIZE``,
``DEQUANTIZE`` and ``PAD`` (registered in :mod:`tflite2keras.ops.shape`) are *transparent*:
TFLite puts them in front of an op that a Keras layer stands for, and ``align`` looks
through them when it pairs that layer with the op.

On activations, a converted model computes in float (:mod:`tflite2keras.conversion.quantized`):
``QUANTIZE`` (float to integer, or integer to integer with new parameters) and ``DEQUANTIZE``
(integer or float16 to float32) are identities; in ``fake_quant`` mode ``convert`` rounds a
quantized output to its grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tflite.model import Operator
from .contract import ConvertContext
from .prepare_shapes import same_shape
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def convert_identity(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    return [ctx.input(op, 0)]


register_op(OpSpec("DEQUANTIZE", transparent=True, converter=convert_identity,
                   prepare=(same_shape,)))
register_op(OpSpec("DENSIFY", prepare=(same_shape,)))
register_op(OpSpec("QUANTIZE", transparent=True, converter=convert_identity, prepare=(same_shape,)))
