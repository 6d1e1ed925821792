"""A file of another architecture: pairing answers at once, and says what it could not pair.

transplant and per-layer verify raise a MappingError that counts the unpaired Keras weight
layers and TFLite weight ops and names the first of each; lint lists each as a finding.
The walk back through residual adds (``align._sources``) visits each Keras tensor once.
"""

from __future__ import annotations

import re
import time
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import MappingError
from tflite2keras.ops.slots import weight_ops
from tflite2keras.testdata import tiny
from tflite2keras.weights import align
from tflite2keras.weights.pairs import weight_layers

#: CPU seconds a mismatched pairing may take, with a wide margin: it takes well under a second.
CPU_BOUND = 20.0
#: Keras tensors one walk back may visit: more than any test model here has (a walk that
#: revisits shared paths takes 2**blocks on a residual chain and is stopped at this count).
WALK_LIMIT = 5000


class _Counting(dict):  # type: ignore[type-arg]
    """``tensor_of`` that counts membership tests (one per tensor the walk visits) and stops a runaway walk."""

    def __init__(self, items: dict[int, int], limit: int) -> None:
        super().__init__(items)
        self.lookups, self.limit = 0, limit

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        if self.lookups > self.limit:
            raise AssertionError(f"the walk back visited more than {self.limit} Keras tensors")
        return super().__contains__(key)


@pytest.fixture(autouse=True)
def walks(monkeypatch: pytest.MonkeyPatch) -> list[_Counting]:
    """Every walk back the test makes, counted, each stopped past :data:`WALK_LIMIT` tensors."""
    walk, made = align._sources, []

    def counted(keras_tensors: Any, tensor_of: dict[int, int]) -> Any:
        made.append(_Counting(tensor_of, limit=WALK_LIMIT))
        return walk(keras_tensors, made[-1])

    monkeypatch.setattr(align, "_sources", counted)
    return made


def _residual_chain(blocks: int) -> keras.Model:
    """On tiny's input, ``blocks`` residual blocks ``x + conv(x)``: 2**blocks paths lead back to the input."""
    inputs = keras.Input(tiny.SHAPE, name="image")
    x = inputs
    for i in range(blocks):
        x = keras.layers.Add(name=f"block{i}_add")([x, keras.layers.Conv2D(3, 1, name=f"block{i}_conv")(x)])
    return keras.Model(inputs, x)


def test_walk_back_visits_each_tensor_once_on_a_residual_chain(walks: list[_Counting]) -> None:
    model = _residual_chain(40)
    assert align._sources(model.outputs, {id(model.inputs[0]): 7}) == ((model.inputs[0], 7),)
    assert [w.lookups for w in walks] == [1 + 2 * 40]  # each Keras tensor once (2**40 paths lead back)


def test_pairing_a_residual_chain_with_another_file_stays_linear(walks: list[_Counting]) -> None:
    """Structural matching walks back from every unpaired layer: each walk is bounded by the graph."""
    model = _residual_chain(40)
    data = tiny.tflite()
    with pytest.raises(MappingError, match="40 of 40 Keras weight layers and 2 of 2 TFLite weight ops"):
        t2k.transplant(model, data)
    findings = t2k.lint(model, data)
    assert walks and max(w.lookups for w in walks) <= 2 * len(model.layers)  # 2**40 before
    unpaired = [f for f in findings if f.kind == "unpaired"]
    assert [f.layer for f in unpaired if f.op_index is None] == [la.name for la in model.layers[1:]]
    assert [(f.op_index, f.opcode) for f in unpaired if f.op_index is not None] == [(0, "CONV_2D"), (2, "CONV_2D")]


def _counts(message: str) -> tuple[int, int, int, int]:
    found = re.search(r"(\d+) of (\d+) Keras weight layers and (\d+) of (\d+) TFLite weight ops could not be paired",
                      message)
    assert found, message
    return tuple(int(g) for g in found.groups())  # type: ignore[return-value]


def test_transplant_of_another_architecture_counts_and_names_what_is_unpaired(corpus_model: Any) -> None:
    model = t2k.zoo.blazepalm("lite")
    path = corpus_model("face_detection_short_range")
    before = [np.asarray(v.numpy()).tobytes() for v in model.weights]
    start = time.process_time()
    with pytest.raises(MappingError) as caught:
        t2k.transplant(model, path)
    seconds = time.process_time() - start
    assert seconds < CPU_BOUND, seconds
    message = str(caught.value)
    layers, of_layers, ops, of_ops = _counts(message)
    assert of_layers == len(weight_layers(model)) and of_ops == len(weight_ops(t2k.read(path)))
    assert 0 < layers < of_layers and 0 < ops < of_ops
    assert re.search(r"first Keras layer with no TFLite op: '\w+' \((PReLU|Conv2D|DepthwiseConv2D): ", message), message
    first_op = r"first TFLite weight op with no Keras layer: op \d+ (CONV_2D|DEPTHWISE_CONV_2D) "
    assert re.search(first_op, message), message
    assert f"Keras layers with no TFLite op ({layers})" in message and f"no Keras layer takes ({ops})" in message
    assert [np.asarray(v.numpy()).tobytes() for v in model.weights] == before


def test_lint_of_another_architecture_lists_the_unpaired(corpus_model: Any) -> None:
    model = t2k.zoo.blazepalm("lite")
    path = corpus_model("face_detection_short_range")
    start = time.process_time()
    findings = t2k.lint(model, path)
    assert time.process_time() - start < CPU_BOUND
    unpaired = [f for f in findings if f.kind == "unpaired"]
    assert {f.layer_type for f in unpaired if f.op_index is None} >= {"PReLU", "Conv2D", "DepthwiseConv2D"}
    assert {f.opcode for f in unpaired if f.op_index is not None} == {"CONV_2D", "DEPTHWISE_CONV_2D"}
    assert "unpaired" in str(findings).splitlines()[0]


def test_lint_of_palm_full_against_the_lite_model_is_not_clean(corpus_model: Any) -> None:
    """The full palm file has five more blocks (a depthwise conv, a conv and a PReLU each) than the lite model."""
    path = corpus_model("palm_detection_full")
    findings = t2k.lint(t2k.zoo.blazepalm("lite"), path)
    assert str(findings) != "lint: no mismatches"
    ops = [f for f in findings if f.kind == "unpaired" and f.op_index is not None]
    assert len(ops) == len(weight_ops(t2k.read(path))) - len(weight_layers(t2k.zoo.blazepalm("lite"))) == 15
    assert [f.opcode for f in ops[:3]] == ["DEPTHWISE_CONV_2D", "CONV_2D", "PRELU"]
    assert all(f.field == "unpaired" and f.tflite and f.layer == "" for f in ops)
    assert f"op {ops[0].op_index} DEPTHWISE_CONV_2D ({ops[0].tflite}): unpaired" in str(ops[0])


def test_per_layer_verify_of_another_architecture_raises(corpus_model: Any) -> None:
    model = t2k.zoo.blazepalm("lite")
    path = corpus_model("palm_detection_full")  # same input and outputs: only the blocks differ
    start = time.process_time()
    with pytest.raises(MappingError) as caught:
        t2k.verify(model, path, samples=1, per_layer=True)
    assert time.process_time() - start < CPU_BOUND
    message = str(caught.value)
    assert message.startswith("verify(per_layer=True) from palm_detection_full.tflite: ")
    assert _counts(message)[2] == 15 and "op 31 DEPTHWISE_CONV_2D" in message
    assert not t2k.verify(model, path, samples=1).ok  # per output it still runs, and fails


def _tiny_with(extra_pool: bool = False, head: bool = True) -> keras.Model:
    """tiny's Keras model with a pool it does not have, or without its head."""
    inputs = keras.Input(tiny.SHAPE, name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, strides=2, name="pool")(x)
    if extra_pool:
        x = keras.layers.MaxPooling2D(1, name="pool2")(x)
    if head:
        x = keras.layers.Conv2D(2, 1, name="head")(x)
    return keras.Model(inputs, x)


def test_lint_reports_an_extra_weightless_layer() -> None:
    findings = t2k.lint(_tiny_with(extra_pool=True), tiny.tflite())
    assert [(f.layer, f.layer_type, f.kind, f.op_index) for f in findings] == [
        ("pool2", "MaxPooling2D", "unpaired", None)]
    assert str(findings[0]) == "pool2 (MaxPooling2D): unpaired, no TFLite op stands for it (no weights)"


def test_lint_reports_a_weight_op_no_layer_takes() -> None:
    findings = t2k.lint(_tiny_with(head=False), tiny.tflite())
    assert [(f.layer, f.kind, f.op_index, f.opcode) for f in findings] == [("", "unpaired", 2, "CONV_2D")]
    assert "lint: 1 mismatch(es) (1 unpaired)" in str(findings)


def test_a_layer_built_from_a_pattern_counts_as_paired(to_tflite: Any) -> None:
    """No weight op fills a LayerNormalization that ``convert`` built from a chain of ops: the chain does."""
    inputs = keras.Input((6, 10))
    x = keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(10, name="fc")(inputs))
    data = to_tflite(keras.Model(inputs, x))
    model = t2k.convert(data)
    assert any(isinstance(la, keras.layers.LayerNormalization) for la in model.layers)
    assert not t2k.lint(model, data)
    assert t2k.verify(model, data, samples=1, per_layer=True).ok
