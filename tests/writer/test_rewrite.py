"""tflite2keras.writer.rewrite: custom ops replaced by builtins, checked against the original in the interpreter."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from oneop import SchemaFile

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.verification import reference
from tflite2keras.writer.rewrite import RewriteReport, rewrite_custom_ops

SELFIE = ("selfie_segmentation", "selfie_segmentation_landscape")
MODES = ("fused", "add")


def _custom_model(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], padding: str,
                  bias: bool = True, cin: int = 3, cout: int = 5, seed: int = 0, zero_bias: bool = False) -> bytes:
    """A one-op model: MediaPipe's Convolution2DTransposeBias with its output sized by MediaPipe's rule.

    ``zero_bias`` stores a bias of zeros (the stock runtime's custom kernel wants three inputs).
    """
    rng = np.random.default_rng(seed)

    def size(n: int, k: int, s: int) -> int:
        return s * (n - 1) + k - (max(0, k - 1 - (n - 1) % s) if padding == "SAME" else 0)

    built = SchemaFile()
    model, graph, tensor = built.model, built.graph, built.tensor
    x = tensor("x", [1, *in_hw, cin])
    inputs = [x, tensor("w", [cout, *kernel, cin], rng.normal(size=(cout, *kernel, cin)))]
    if bias:
        inputs.append(tensor("b", [cout], rng.normal(size=cout) * (not zero_bias)))
    y = tensor("y", [1, size(in_hw[0], kernel[0], stride[0]), size(in_hw[1], kernel[1], stride[1]), cout])
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "Convolution2DTransposeBias"
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, inputs, [y]
    op.customOptions = list(struct.pack("<iii", 1 if padding == "SAME" else 2, stride[1], stride[0]))
    graph.operators, graph.inputs, graph.outputs = [op], [x], [y]
    model.operatorCodes = [code]
    return built.bytes()


def _max_error(original: t2k.TFLiteModel, rewritten: t2k.TFLiteModel, kernels: str) -> float:
    """Max |rewritten - original| over seeded samples; the original runs on XNNPACK (which has the custom op)."""
    before = reference.make_interpreter(original)
    after = reference.make_interpreter(rewritten, kernels=kernels)
    worst = 0.0
    for sample in reference.random_inputs(original, 2, seed=7):
        want, _ = reference.run(before, sample)
        got, _ = reference.run(after, sample)
        worst = max([worst] + [float(np.max(np.abs(g - w))) for g, w in zip(got, want)])
    return worst


def _check_rewritten(original: t2k.TFLiteModel, report: RewriteReport, runnable: t2k.TFLiteModel | None = None,
                     other_kernels_atol: float = 1e-5) -> t2k.TFLiteModel:
    """No custom op is left; XNNPACK matches ``runnable`` (default: ``original``) within 1e-5, other kernels
    within ``other_kernels_atol``."""
    rewritten = t2k.read(report.data)
    assert not [op.opcode for op in rewritten.operators if op.is_custom]
    for kernels in reference.KERNELS:
        atol = 1e-5 if kernels == "xnnpack" else other_kernels_atol
        assert _max_error(runnable or original, rewritten, kernels) <= atol, kernels
    return rewritten


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SELFIE)
def test_selfie_rewritten_runs_everywhere_and_matches(corpus_model: Callable[[str], Path], tmp_path: Path,
                                                      name: str, mode: str) -> None:
    original = t2k.read(corpus_model(name))
    dst = tmp_path / f"{name}_{mode}.tflite"
    report = rewrite_custom_ops(corpus_model(name), dst, transpose_conv_bias=mode)
    assert report.path == str(dst) and dst.read_bytes() == report.data
    assert [(r.index, r.custom_code) for r in report.replaced] == [(244, "Convolution2DTransposeBias")]
    assert not report.kept and report.ops_added == (1 if mode == "fused" else 2)
    # The original runs only on XNNPACK (its delegate has the custom op): against the builtin kernels the
    # other 245 ops add the interpreter's own XNNPACK-vs-builtin noise (up to 3e-5 seen); the one-op
    # models of test_odd_sizes_match_the_custom_op hold every kernel set to 1e-5.
    rewritten = _check_rewritten(original, report, other_kernels_atol=1e-4)
    assert len(rewritten.operators) == len(original.operators) + (mode == "add")
    assert len(rewritten.tensors) == len(original.tensors) + len(report.tensors_added)
    conv = rewritten.operators[244]
    custom = original.operators[244]
    assert conv.opcode == "TRANSPOSE_CONV" and conv.version == (3 if mode == "fused" else 1)
    assert conv.inputs[1:3] == (custom.inputs[1], custom.inputs[0])
    assert rewritten.constant(conv.inputs[0]).tolist() == [1, *original.tensor(custom.outputs[0]).shape[1:]]
    if mode == "fused":
        assert conv.inputs[3] == custom.inputs[2] and conv.outputs == custom.outputs
    else:
        add = rewritten.operators[245]
        assert len(conv.inputs) == 3 and add.opcode == "ADD"
        assert add.inputs == (conv.outputs[0], custom.inputs[2]) and add.outputs == custom.outputs
    for t in (custom.inputs[1], custom.inputs[2]):  # the weights keep their tensors, buffers and values
        np.testing.assert_array_equal(rewritten.constant(t), original.constant(t))
    assert t2k.verify(t2k.convert(dst), dst).ok


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("in_hw, kernel, stride, padding, bias", [
    ((5, 7), (3, 3), (2, 2), "SAME", True),
    ((5, 7), (3, 2), (2, 3), "VALID", True),
    ((3, 5), (1, 1), (2, 2), "VALID", True),
    ((7, 5), (3, 3), (3, 1), "SAME", False),
])
def test_odd_sizes_match_the_custom_op(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                                       padding: str, bias: bool, mode: str) -> None:
    original = t2k.read(_custom_model(in_hw, kernel, stride, padding, bias=bias))
    report = rewrite_custom_ops(original, transpose_conv_bias=mode)
    runnable = None if bias else t2k.read(_custom_model(in_hw, kernel, stride, padding, zero_bias=True))
    rewritten = _check_rewritten(original, report, runnable)
    fused = mode == "fused" or not bias
    assert [op.opcode for op in rewritten.operators] == ["TRANSPOSE_CONV"] + ([] if fused else ["ADD"])
    assert rewritten.operators[0].options["padding"] == padding
    assert (rewritten.operators[0].options["stride_h"], rewritten.operators[0].options["stride_w"]) == stride
    assert report.buffers_reused == [1, 2][: 1 + bias] and report.buffers_added == [3 if bias else 2]


def test_opcode_table_and_alignment() -> None:
    data = rewrite_custom_ops(_custom_model((5, 5), (3, 3), (2, 2), "SAME"), transpose_conv_bias="add").data
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    codes = [(c.builtinCode, c.deprecatedBuiltinCode, c.version, c.customCode) for c in model.operatorCodes]
    assert codes == [(schema.BuiltinOperator.TRANSPOSE_CONV, schema.BuiltinOperator.TRANSPOSE_CONV, 1, None),
                     (schema.BuiltinOperator.ADD, schema.BuiltinOperator.ADD, 1, None)]
    tfl = t2k.read(data)
    assert all(start % 16 == 0 for start, length in tfl._buffers if length)


def test_size_rule_mismatch_is_kept() -> None:
    data = _custom_model((5, 5), (3, 3), (2, 2), "SAME")
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    model.subgraphs[0].tensors[3].shape = [1, 10, 10, 5]  # not MediaPipe's 9
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    report = rewrite_custom_ops(data)
    assert report.unchanged and report.data == data
    assert [(i, code) for _, i, code, _ in report.kept] == [(0, "Convolution2DTransposeBias")]
    assert "size rule" in report.kept[0][3]


def test_model_without_custom_ops_is_identical(corpus_model: Callable[[str], Path]) -> None:
    path = corpus_model("palm_detection_lite")
    report = rewrite_custom_ops(path)
    assert report.unchanged and not report.kept and report.data == path.read_bytes()
    assert "identical" in str(report)
    before, after = t2k.read(path), t2k.read(report.data)
    assert after.operators == before.operators and after.tensors == before.tensors
    assert (after.inputs, after.outputs, after.signature_defs) == (before.inputs, before.outputs, before.signature_defs)


def test_unknown_custom_ops_are_kept_and_listed() -> None:
    text = t2k.to_json(_custom_model((5, 7), (3, 3), (2, 2), "SAME"))
    assert text.count('"Convolution2DTransposeBias"') == 2  # the operator code and the op's opcode name
    unknown = t2k.from_json(text.replace('"Convolution2DTransposeBias"', '"MyUnknownOp"'))
    report = rewrite_custom_ops(unknown)
    assert [(i, code) for _, i, code, _ in report.kept] == [(0, "MyUnknownOp")]
    assert report.unchanged and report.data == unknown
    assert "MyUnknownOp" in str(report) and "MyUnknownOp" in report._repr_html_()


def test_attention_ops_are_all_lowered(corpus_model: Callable[[str], Path]) -> None:
    path = corpus_model("face_landmark_with_attention")
    custom = [(op.index, op.opcode) for op in t2k.read(path).operators if op.is_custom]
    report = rewrite_custom_ops(path)
    assert len(custom) == 11 and len(report.replaced) == 11 and not report.kept
    assert "builtin ops" in str(report)


def test_report_rendering_and_measure() -> None:
    report = rewrite_custom_ops(_custom_model((9, 11), (3, 3), (2, 2), "SAME"), measure=True, repeats=3)
    assert report.latency_before and report.latency_after and report.speedup
    text = str(report)
    assert "TRANSPOSE_CONV v3" in text and "latency" in text and "y/output_shape" in text
    assert "<table>" in report._repr_html_() and "TRANSPOSE_CONV v3" in report._repr_html_()
    assert rewrite_custom_ops(report.data).unchanged  # nothing left to replace


def test_bad_mode_and_atomic_write(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="transpose_conv_bias"):
        rewrite_custom_ops(_custom_model((5, 5), (2, 2), (2, 2), "SAME"), transpose_conv_bias="split")
    dst = tmp_path / "out.tflite"
    report = rewrite_custom_ops(_custom_model((5, 5), (2, 2), (2, 2), "SAME"), dst)
    assert dst.read_bytes() == report.data and [p.name for p in tmp_path.iterdir()] == ["out.tflite"]
