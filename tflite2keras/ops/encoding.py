"""Ops that change how a tensor is stored, not what it means: no Keras layer of their own.

``DEQUANTIZE`` (float16 or int8 weights to float32) and ``DENSIFY`` (sparse weights) are
*pass-through*: applied to a constant, their output is the same weight, decoded by
:meth:`~tflite2keras.model.TFLiteModel.constant`, and ``convert`` skips them. ``QUANTIZE``,
``DEQUANTIZE`` and ``PAD`` (registered in :mod:`tflite2keras.ops.shape`) are *transparent*:
TFLite puts them in front of an op that a Keras layer stands for, and ``align`` looks
through them when it pairs that layer with the op.
"""

from __future__ import annotations

from ..registry import OpSpec, register_op

register_op(OpSpec("DEQUANTIZE", pass_through=True, transparent=True))
register_op(OpSpec("DENSIFY", pass_through=True))
register_op(OpSpec("QUANTIZE", transparent=True))
