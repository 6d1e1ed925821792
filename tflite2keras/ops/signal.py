"""Spectral ops: ``RFFT2D`` and the complex-to-float ``COMPLEX_ABS``, ``REAL`` and ``IMAG``.

Audio models compute spectrograms in the graph: ``tf.signal.rfft2d`` (and ``rfft`` or
``stft``, which TFLite writes as ``RFFT2D`` of one row between two RESHAPEs) followed by
``tf.abs`` or ``tf.math.real`` / ``imag``. ``RFFT2D`` becomes :class:`~tflite2keras.layers.RFFT2D`,
a ``complex64`` Keras tensor as in the file; the other three become
:class:`~tflite2keras.layers.ComplexPart`.

``RFFT2D`` transforms the last two axes, so its input needs a third (the batch). Its
``fft_length`` input must be constant and, as TFLite's kernel requires, powers of two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

#: opcode -> :class:`~tflite2keras.layers.ComplexPart` part.
COMPLEX_PARTS = {"COMPLEX_ABS": "abs", "REAL": "real", "IMAG": "imag"}


def convert_rfft2d(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import RFFT2D

    shape = ctx.tfl.tensor(op.inputs[0]).shape
    if len(shape) < 3:
        raise UnsupportedOpError(f"op {op.index} (RFFT2D) of a rank-{len(shape)} input transforms the batch axis")
    if not ctx.is_constant(op, 1):
        raise UnsupportedOpError(f"op {op.index} (RFFT2D) has a non-constant fft_length (input 1)")
    lengths = [int(n) for n in np.asarray(ctx.constant(op, 1)).reshape(-1)]
    if len(lengths) != 2 or any(n < 1 or n & (n - 1) for n in lengths):
        raise UnsupportedOpError(f"op {op.index} (RFFT2D) has fft_length={lengths}: TFLite's kernel takes two "
                                 "powers of two")
    return [RFFT2D(lengths, name=ctx.name(op))(ctx.input(op, 0))]


def convert_complex_part(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import ComplexPart

    return [ComplexPart(COMPLEX_PARTS[op.opcode], name=ctx.name(op))(ctx.input(op, 0))]


register_op(OpSpec("RFFT2D", layers=("RFFT2D",), converter=convert_rfft2d))
for _opcode in COMPLEX_PARTS:
    register_op(OpSpec(_opcode, layers=("ComplexPart",), converter=convert_complex_part))
