"""The ops of a file that carry weights: the ones a Keras layer's variables stand for.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> [op.opcode for op in weight_ops(read(tiny.tflite()))]
    ['CONV_2D', 'CONV_2D']
"""

from __future__ import annotations

from ..tflite.model import Operator, TFLiteModel
from .fold import fold
from .registry import find


def weight_ops(model: TFLiteModel) -> list[Operator]:
    """The ops of ``model`` that carry at least one constant weight input, in graph order (not
    those that :mod:`tflite2keras.ops.fold` folds: they build no layer), by :func:`~tflite2keras.ops.spec.is_weight`."""
    folded = fold(model)
    out = []
    for op in model.operators:
        spec = find(op.opcode)
        if spec is None or not spec.weights or op.outputs and all(t in folded for t in op.outputs):
            continue
        if any(op.has_input(w.slot) and w.holds_weight(model, op.inputs[w.slot]) for w in spec.weights):
            out.append(op)
    return out
