"""ops/encoding.py: DEQUANTIZE, DENSIFY and QUANTIZE, known to model, convert and align by their spec flags."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.ops import registry
from tflite2keras.ops.registry import OpSpec
from tflite2keras.tflite.model import DECODING_OPS
from tflite2keras.weights.align import align


def _conv() -> keras.Model:
    keras.utils.set_random_seed(7)
    inputs = keras.Input((9, 7, 3))
    return keras.Model(inputs, keras.layers.Conv2D(5, 3, name="conv")(inputs))


@pytest.mark.parametrize("opcode,decodes,transparent", [
    ("DEQUANTIZE", True, True), ("DENSIFY", True, False), ("QUANTIZE", False, True), ("PAD", False, True),
])
def test_flags(opcode: str, decodes: bool, transparent: bool) -> None:
    assert (opcode in DECODING_OPS, registry.get(opcode).transparent) == (decodes, transparent)


def test_a_dequantized_constant_is_the_constant_whatever_the_registry_says(to_tflite: Any,
                                                                            scratch_registry: None) -> None:
    """Decoding a stored weight is a fact of the file format (tflite.model.DECODING_OPS): a notebook's
    override of DEQUANTIZE's spec does not make the fp16 kernel a tensor."""
    tfl = t2k.read(to_tflite(_conv(), "fp16"))
    conv = next(op for op in tfl.operators if op.opcode == "CONV_2D")
    assert tfl.producer(conv.inputs[1]).opcode == "DEQUANTIZE" and tfl.is_constant(conv.inputs[1])
    registry.register_op(OpSpec("DEQUANTIZE"), override=True)
    again = t2k.read(tfl.data)
    assert again.is_constant(conv.inputs[1])
    np.testing.assert_array_equal(again.constant(conv.inputs[1]), tfl.constant(conv.inputs[1]))


def test_align_looks_through_quantize(to_tflite: Any) -> None:
    model = _conv()
    tfl = t2k.read(to_tflite(model, "int8"))
    conv = next(op for op in tfl.operators if op.opcode == "CONV_2D")
    assert tfl.producer(conv.inputs[0]).opcode == "QUANTIZE"
    pairs = {p.layer.name: p.op.index for p in align(model, tfl, [])}
    assert pairs["conv"] == conv.index
