"""The op registry: every registered op has a one-op test against the interpreter (a family's CASES or a named test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import pytest
from oneop import model_cases, opcodes_tested

import tflite2keras as t2k
from tflite2keras.ops import registry
from tflite2keras.ops.layout import Layout
from tflite2keras.ops.registry import OpSpec, WeightSlot
from tflite2keras.tflite.model import DECODING_OPS
from tflite2keras.weights.align import align
from tflite2keras.weights.matching import match_layers

#: Ops that no converter test can produce; each is tested elsewhere, named here.
TESTED_ELSEWHERE = {
    "Convolution2DTransposeBias": "test_mediapipe.py::test_selfie_transpose_conv_matches_interpreter",
    "Landmarks2TransformMatrix": "test_mediapipe.py::test_face_attention_crop_with_real_options",
    "TransformTensorBilinear": "test_mediapipe.py::test_face_attention_crop_with_real_options",
    "TransformLandmarks": "test_mediapipe.py::test_face_attention_crop_with_real_options",
    "DEQUANTIZE": "test_encoding.py::test_a_dequantized_constant_is_the_constant_whatever_the_registry_says",
    "DENSIFY": "test_convert.py::test_corpus_model_verifies_per_output_and_per_layer",  # the sparse models
    "QUANTIZE": "test_encoding.py::test_align_looks_through_quantize",
    "SHAPE": "test_reshape.py::test_flatten_dense_reshape_at_a_free_batch",
}
TESTED_ELSEWHERE.update(dict.fromkeys(["VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"],
                                      "test_streaming.py::test_every_step_agrees_with_the_interpreter"))
#: Ops that only change how a tensor is stored: no Keras layer stands for them (see ops/encoding.py).
ENCODING_OPS = sorted(op for op, spec in registry.specs().items()
                      if not spec.layers and (op in DECODING_OPS or spec.transparent))


def test_every_registered_op_has_a_test() -> None:
    """Every registered op has a case in a family's CASES (tests/ops/test_*.py) or a named test."""
    tested = set(TESTED_ELSEWHERE) | set(opcodes_tested())
    missing = sorted(set(registry.specs()) - tested)
    assert not missing, f"registered ops without a one-op test: {missing}"
    for where in TESTED_ELSEWHERE.values():
        file, test = where.split("::")
        assert f"def {test}(" in next(Path(__file__).parents[1].rglob(file)).read_text(), f"{where} does not exist"


MODEL_CASES = model_cases()


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_one_op_model(name: str, to_tflite: Any) -> None:
    """Every Keras-model case of the families' CASES: the model written by the TF converter, and the
    same architecture under other weights, transplanted, lints clean, verifies and pairs a layer with the op."""
    opcode, build = MODEL_CASES[name].opcode, MODEL_CASES[name].model
    keras.utils.set_random_seed(1)
    source = build()
    data = to_tflite(source)
    tfl = t2k.read(data)
    assert opcode in {op.opcode for op in tfl.operators}
    keras.utils.set_random_seed(2)
    target = build()
    if target.weights:
        t2k.transplant(target, data)
    assert not t2k.lint(target, data)
    report = t2k.verify(target, data, samples=2, per_layer=True)
    assert report.ok, str(report)
    matches, _, _ = match_layers(target, tfl, None, None, ())
    paired = {p.op.opcode for p in align(target, tfl, matches)}
    assert opcode in paired, f"no Keras layer was paired with {opcode}: {paired}"


def test_custom_transpose_conv_matches_transpose_conv_layout() -> None:
    custom = registry.get("Convolution2DTransposeBias")
    builtin = registry.get("TRANSPOSE_CONV")
    assert custom.layers == builtin.layers == ("Conv2DTranspose",)
    assert custom.weights[0].layout == builtin.weights[0].layout == Layout("OHWI", "HWOI")
    assert [w.slot for w in custom.weights] == [1, 2]  # MediaPipe: (input, weights, bias)


def test_duplicate_registration_needs_override(scratch_registry: None) -> None:
    spec = OpSpec("TEST_ONLY_OP", layers=("Conv2D",), weights=(WeightSlot(1, "kernel", Layout("OHWI", "HWIO")),))
    registry.register_op(spec, override=True)
    with pytest.raises(ValueError, match="override=True"):
        registry.register_op(spec)
    assert registry.get("TEST_ONLY_OP").weight_roles == ("kernel",)


def test_unknown_op_is_unsupported() -> None:
    with pytest.raises(t2k.UnsupportedOpError, match="register_op"):
        registry.get("NO_SUCH_OP")


#: Ops that build no layer of their own: resource-variable ops become state inputs and outputs.
STATE_OPS = ["ASSIGN_VARIABLE", "CALL_ONCE", "READ_VARIABLE", "VAR_HANDLE"]


def test_encoding_ops_build_nothing() -> None:
    assert ENCODING_OPS == ["DENSIFY", "DEQUANTIZE", "QUANTIZE"]
    for opcode in ENCODING_OPS:
        spec = registry.get(opcode)
        assert not spec.weights and not spec.checks and not spec.fused_activation
        # activations: identities (QUANTIZE's refuses a scaled int32 output first)
        assert spec.converter is None or spec.converter.__name__ == "convert_identity"


@pytest.mark.parametrize("opcode", sorted(set(registry.specs()) - set(ENCODING_OPS) - set(STATE_OPS)))
def test_spec_is_well_formed(opcode: str) -> None:
    spec = registry.get(opcode)
    assert spec.layers or spec.fold, f"{opcode} maps onto no Keras layer class and does not fold"
    for slot in spec.weights:
        if slot.layout.source != "*":
            assert len(slot.layout.permutation) == len(slot.layout.target)


def test_override_before_first_lookup_keeps_the_builtin_ops(fresh_python: Callable[[str], Any]) -> None:
    """A notebook may replace a builtin op before anything looked one up (fresh interpreter)."""
    code = (
        "from tflite2keras.ops.registry import OpSpec, register_op, get, find\n"
        "mine = register_op(OpSpec('CONV_2D', layers=('MyConv',)), override=True)\n"
        "assert get('CONV_2D') is mine, get('CONV_2D')\n"
        "assert get('DEPTHWISE_CONV_2D').layers == ('DepthwiseConv2D',)\n"
        "assert find('MAX_POOL_2D') is not None\n"
    )
    done = fresh_python(code)
    assert done.returncode == 0, done.stderr


def test_readme_coverage_table_is_current() -> None:
    """The README's op table is the generated one: regenerate it with ``tflite2keras ops --markdown``."""
    from pathlib import Path

    from tflite2keras.ops.coverage import coverage

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    shown = readme.split("<!-- coverage:start -->\n", 1)[1].split("\n<!-- coverage:end -->", 1)[0]
    assert shown == coverage().markdown(), "README's op table is stale: paste `tflite2keras ops --markdown`"
    assert coverage().converters == len([c for c in coverage().opcodes if c.isupper()])
    assert "<table>" in coverage()._repr_html_() and "CONV_2D" in str(coverage())
