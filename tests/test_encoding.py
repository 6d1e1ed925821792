"""ops/encoding.py: DEQUANTIZE, DENSIFY and QUANTIZE, known to model, convert and align by their spec flags."""

from __future__ import annotations

from typing import Any

import keras
import pytest

import tflite2keras as t2k
from tflite2keras.ops import registry
from tflite2keras.weights.align import align
from tflite2keras.ops.registry import OpSpec


def _conv() -> keras.Model:
    keras.utils.set_random_seed(7)
    inputs = keras.Input((9, 7, 3))
    return keras.Model(inputs, keras.layers.Conv2D(5, 3, name="conv")(inputs))


@pytest.mark.parametrize("opcode,pass_through,transparent", [
    ("DEQUANTIZE", True, True), ("DENSIFY", True, False), ("QUANTIZE", False, True), ("PAD", False, True),
])
def test_flags(opcode: str, pass_through: bool, transparent: bool) -> None:
    spec = registry.get(opcode)
    assert (spec.pass_through, spec.transparent) == (pass_through, transparent)


def test_pass_through_is_read_from_the_spec(to_tflite: Any, scratch_registry: None) -> None:
    tfl = t2k.read(to_tflite(_conv(), "fp16"))
    conv = next(op for op in tfl.operators if op.opcode == "CONV_2D")
    assert tfl.producer(conv.inputs[1]).opcode == "DEQUANTIZE" and tfl.is_constant(conv.inputs[1])
    registry.register_op(OpSpec("DEQUANTIZE", transparent=True), override=True)
    assert not t2k.read(tfl.data).is_constant(conv.inputs[1])


def test_align_looks_through_quantize(to_tflite: Any) -> None:
    model = _conv()
    tfl = t2k.read(to_tflite(model, "int8"))
    conv = next(op for op in tfl.operators if op.opcode == "CONV_2D")
    assert tfl.producer(conv.inputs[0]).opcode == "QUANTIZE"
    pairs = {p.layer.name: p.op.index for p in align(model, tfl, [])}
    assert pairs["conv"] == conv.index
