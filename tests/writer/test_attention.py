"""rewrite_custom_ops lowers face_landmark_with_attention's MediaPipe ops to builtin subgraphs.

Each lowered op, alone in a file (its custom options taken from the corpus model, its
shapes odd where the op allows), runs in the stock interpreter with every resolver and
equals the numpy references of tests/test_mediapipe.py. The whole rewritten model
runs everywhere and equals the Keras model converted from the original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from test_mediapipe import (
    _random_affines,
    ref_landmarks_to_transform_matrix,
    ref_transform_landmarks,
    ref_transform_tensor_bilinear,
)

import tflite2keras as t2k
from tflite2keras.errors import UnsupportedOpError
from tflite2keras.ops import custom_options
from tflite2keras.verification.reference import make_interpreter, random_inputs, run
from tflite2keras.writer.rewrite import rewrite_custom_ops

KERNELS = ("xnnpack", "builtin", "builtin_ref")
ATOL = 1e-5
FACE = "face_landmark_with_attention"


@pytest.fixture(scope="module")
def face(corpus_model: Callable[[str], Path]) -> bytes:
    return corpus_model(FACE).read_bytes()


def _one_op_model(data: bytes, index: int, shapes: list[tuple[int, ...]]) -> bytes:
    """A file holding only op ``index`` of ``data`` (same code and options), with tensors of ``shapes``
    (inputs, then the output)."""
    big = schema.ModelT.InitFromPackedBuf(data, 0)
    op = big.subgraphs[0].operators[index]
    model, graph = schema.ModelT(), schema.SubGraphT()
    model.version, model.buffers, model.operatorCodes = 3, [schema.BufferT()], [big.operatorCodes[op.opcodeIndex]]
    graph.tensors = []
    for k, shape in enumerate(shapes):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = f"t{k}", list(shape), schema.TensorType.FLOAT32, 0
        graph.tensors.append(tensor)
    op.opcodeIndex, op.inputs, op.outputs = 0, list(range(len(shapes) - 1)), [len(shapes) - 1]
    graph.operators, graph.inputs, graph.outputs = [op], op.inputs, op.outputs
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _ops(data: bytes, code: str) -> list[Any]:
    return [op for op in t2k.read(data).operators if op.opcode == code]


def _lowered_runs(data: bytes, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    report = rewrite_custom_ops(data)
    assert len(report.replaced) == 1 and not report.kept
    tfl = t2k.read(report.data)
    assert not any(op.is_custom for op in tfl.operators)
    return {k: run(make_interpreter(tfl, kernels=k), inputs)[0][0] for k in KERNELS}


@pytest.mark.parametrize("crop", [0, 1, 2])
@pytest.mark.parametrize("count", [468, 469])
def test_landmarks_to_matrix_lowered(face: bytes, crop: int, count: int) -> None:
    op = _ops(face, "Landmarks2TransformMatrix")[crop]
    options = custom_options.parse(op.opcode, op.custom_options, index=op.index)
    assert max(options["subset_idxs"]) < count
    data = _one_op_model(face, op.index, [(1, count, 3), (1, 4, 4)])
    rng = np.random.default_rng(crop)
    landmarks = rng.uniform(0, 48, (1, count, 3)).astype(np.float32)
    expected = ref_landmarks_to_transform_matrix(landmarks, options)
    for kernels, got in _lowered_runs(data, [landmarks]).items():  # translations reach ~60: a few ulps
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=ATOL, err_msg=kernels)


@pytest.mark.parametrize("shapes", [((1, 48, 48, 32), (16, 16)), ((1, 13, 11, 5), (7, 9)), ((1, 5, 6, 3), (8, 5))])
def test_transform_tensor_bilinear_lowered(face: bytes, shapes: tuple[tuple[int, ...], tuple[int, int]]) -> None:
    (image_shape, (out_h, out_w)), op = shapes, _ops(face, "TransformTensorBilinear")[0]
    data = _one_op_model(face, op.index, [image_shape, (1, 4, 4), (1, out_h, out_w, image_shape[3])])
    rng = np.random.default_rng(sum(image_shape))
    for trial in range(3):
        image = rng.normal(0, 2, image_shape).astype(np.float32)
        matrix = _random_affines(rng, 1, (0.0, 0.0))  # then the output's centre onto the image's, +-3
        for r, (inside, outside) in enumerate(((image_shape[2], out_w), (image_shape[1], out_h))):
            matrix[0, r, 3] += inside / 2 - matrix[0, r, 0] * out_w / 2 - matrix[0, r, 1] * out_h / 2
        matrix = matrix.astype(np.float32)
        expected = ref_transform_tensor_bilinear(image, matrix, out_h, out_w)
        assert np.count_nonzero(expected) > expected.size // 4  # most samples fall inside
        for kernels, got in _lowered_runs(data, [image, matrix]).items():
            np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=f"{kernels}, trial {trial}")


@pytest.mark.parametrize("shape", [(1, 80, 2), (1, 5, 2), (1, 7, 3), (1, 1, 3)])
def test_transform_landmarks_lowered(face: bytes, shape: tuple[int, ...]) -> None:
    op = _ops(face, "TransformLandmarks")[0]
    data = _one_op_model(face, op.index, [shape, (1, 4, 4), shape])
    rng = np.random.default_rng(shape[1])
    points = rng.uniform(0, 64, shape).astype(np.float32)
    matrix = rng.normal(0, 1, (1, 4, 4)).astype(np.float32)
    expected = ref_transform_landmarks(points, matrix)
    for kernels, got in _lowered_runs(data, [points, matrix]).items():
        np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=kernels)


def test_lowering_builds_the_converters_layers(face: bytes) -> None:
    """The lowering traces the very layer the op's converter builds (one builder per op)."""
    from tflite2keras.ops.mediapipe import ATTENTION_LAYERS, attention_layer
    from tflite2keras.writer import attention

    assert attention.LOWERED == tuple(ATTENTION_LAYERS)
    model = t2k.convert(face)
    for name in attention.LOWERED:
        op = _ops(face, name)[0]
        options = attention.options_of(name, op.custom_options, op.index)
        shape = t2k.read(face).tensor(op.outputs[0]).shape
        lowered = attention.make_layer(name, options, shape)
        converted = next(la for la in model.layers if type(la).__name__ == name)
        assert type(lowered) is type(converted) is type(attention_layer(name, options, shape))
        assert {k: v for k, v in lowered.get_config().items() if k != "name"} == \
            {k: v for k, v in converted.get_config().items() if k != "name"}
    with pytest.raises(UnsupportedOpError, match="no Keras layer for custom op Unknown"):
        attention.make_layer("Unknown", {}, (1,))


def test_mismatched_output_shape_raises(face: bytes) -> None:
    op = _ops(face, "TransformLandmarks")[0]
    data = _one_op_model(face, op.index, [(1, 7, 3), (1, 4, 4), (1, 7, 2)])
    with pytest.raises(UnsupportedOpError, match=r"TransformLandmarks \(op 0\)"):
        rewrite_custom_ops(data)


def test_face_model_rewritten_matches_keras(face: bytes, corpus_image: Callable[..., Any]) -> None:
    import tensorflow as tf

    before = t2k.read(face)
    report = rewrite_custom_ops(face)
    custom = [(op.index, op.opcode) for op in before.operators if op.is_custom]
    assert [(r.index, r.custom_code) for r in report.replaced] == custom and len(custom) == 11
    assert not report.kept and report.ops_added == sum(len(r.new_indices) for r in report.replaced)
    for r in report.replaced:
        assert r.became.startswith(f"{len(r.new_indices)} builtin ops: "), r.became
    assert "GATHER" in next(r.became for r in report.replaced if r.custom_code == "TransformTensorBilinear")
    assert "ATAN2" in report.replaced[0].became and "builtin ops" in str(report)
    after = t2k.read(report.data)
    assert not any(op.is_custom for op in after.operators)
    assert [t.shape for t in map(after.tensor, after.outputs)] == [t.shape for t in map(before.tensor, before.outputs)]

    keras_model = t2k.convert(face)
    shape = tuple(before.tensor(before.inputs[0]).shape)
    image = corpus_image("astronaut")[None, 0:200, 150:350].astype(np.float32) / 255.0
    samples = random_inputs(after, 1) + [[tf.image.resize(image, shape[1:3]).numpy()]]
    for s, sample in enumerate(samples):
        got = {k: run(make_interpreter(after, kernels=k), sample)[0] for k in KERNELS}
        expected = keras_model(sample[0])
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        for o, ref in enumerate(expected):
            ref = np.asarray(ref).reshape(got["xnnpack"][o].shape)
            noise = float(np.abs(got["xnnpack"][o] - got["builtin"][o]).max())
            bound = max(1e-4 + 1e-5 * float(np.abs(ref).max()), 2 * noise)
            for kernels, values in got.items():
                error = float(np.abs(values[o] - ref).max())
                assert error <= bound, f"sample {s}, output {o}, {kernels}: {error:.3g} > {bound:.3g}"
