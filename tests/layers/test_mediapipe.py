"""MediaPipe custom-op layers against numpy references written from MediaPipe's C++ kernels.

The references mirror ``mediapipe/util/tflite/operations/*.cc`` step by step in float32
(loops, one batch entry at a time). ``Convolution2DTransposeBias`` is checked against
the TFLite interpreter on the selfie models, where XNNPACK runs it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import flatbuffers
import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.layers.mediapipe import (
    Landmarks2TransformMatrix,
    TransformLandmarks,
    TransformTensorBilinear,
)
from tflite2keras.ops import custom_options
from tflite2keras.ops.mediapipe import (
    conv2d_transpose_arguments,
    transpose_conv_bias_output_size,
)

F = np.float32
ATOL = 1e-5


# -- references (from the C++ kernels) -----------------------------------------------
def ref_transform_tensor_bilinear(image: np.ndarray, matrix: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    batch, height, width, channels = image.shape
    out = np.zeros((batch, out_h, out_w, channels), np.float32)
    for b in range(batch):
        m = np.asarray(matrix[b], np.float32).reshape(-1)[:8]
        # Half-pixel correction, evaluated in double as in the kernel.
        xt3 = F(float(m[3]) + (float(m[0]) * 0.5 + float(m[1]) * 0.5 - 0.5))
        yt3 = F(float(m[7]) + (float(m[4]) * 0.5 + float(m[5]) * 0.5 - 0.5))
        for oy in range(out_h):
            for ox in range(out_w):
                x, y = F(ox), F(oy)
                tx = ((m[0] * x + m[1] * y) + m[2] * F(0)) + xt3 * F(1)
                ty = ((m[4] * x + m[5] * y) + m[6] * F(0)) + yt3 * F(1)
                if tx < 0 or tx > width - 1 or ty < 0 or ty > height - 1:
                    continue

                def read(h: int, w: int) -> np.ndarray:
                    inside = 0 <= h < height and 0 <= w < width
                    return image[b, h, w].astype(np.float64) if inside else np.zeros(channels)

                fx, fy = math.floor(tx), math.floor(ty)
                q11, q21, q12, q22 = read(fy, fx), read(fy, fx + 1), read(fy + 1, fx), read(fy + 1, fx + 1)
                right, lower = float(tx - F(fx)), float(ty - F(fy))
                upper_row = (1.0 - right) * q11 + right * q21
                lower_row = (1.0 - right) * q12 + right * q22
                out[b, oy, ox] = lower * lower_row + (1.0 - lower) * upper_row
    return out


def _dot(row: Any, vector: Any) -> np.float32:
    total = F(0)  # the kernels' order: sum = 0; sum += a[k] * v[k]
    for a, v in zip(row, vector):
        total = total + F(a) * F(v)
    return total


def _matvec(matrix: list[list[Any]], vector: list[Any]) -> list[np.float32]:
    return [_dot(row, vector) for row in matrix]


def _matmul4(a: list[list[Any]], b: list[list[Any]]) -> list[list[np.float32]]:
    return [[_dot(a[r], [b[k][c] for k in range(4)]) for c in range(4)] for r in range(4)]


def ref_landmarks_to_transform_matrix(landmarks: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    out = np.zeros((landmarks.shape[0], 4, 4), np.float32)
    for b in range(landmarks.shape[0]):
        lm = np.asarray(landmarks[b], np.float32)
        left, right = lm[options["left_rotation_idx"]], lm[options["right_rotation_idx"]]
        r = F(options["target_rotation_radians"]) - F(np.arctan2(right[1] - left[1], right[0] - left[0]))
        rot = [[np.cos(r), -np.sin(r), F(0)], [np.sin(r), np.cos(r), F(0)], [F(0), F(0), F(1)]]
        inv = [[np.cos(-r), -np.sin(-r), F(0)], [np.sin(-r), np.cos(-r), F(0)], [F(0), F(0), F(1)]]
        points = [_matvec(rot, [lm[i, 0], lm[i, 1], F(1)]) for i in options["subset_idxs"]]
        lo = [min(p[k] for p in points) for k in (0, 1)]
        hi = [max(p[k] for p in points) for k in (0, 1)]
        center = _matvec(inv, [(lo[0] + hi[0]) / F(2), (lo[1] + hi[1]) / F(2), F(1)])

        def affine(a: Any, b_: Any, tx: Any, c: Any, d: Any, ty: Any) -> list[list[np.float32]]:
            return [[F(a), F(b_), F(0), F(tx)], [F(c), F(d), F(0), F(ty)],
                    [F(0), F(0), F(1), F(0)], [F(0), F(0), F(0), F(1)]]

        t = affine(1, 0, 0, 0, 1, 0)
        t = _matmul4(t, affine(1, 0, center[0], 0, 1, center[1]))
        t = _matmul4(t, affine(np.cos(-r), -np.sin(-r), 0, np.sin(-r), np.cos(-r), 0))
        sx = F(options["scale_x"]) * (hi[0] - lo[0]) / F(options["output_width"])
        sy = F(options["scale_y"]) * (hi[1] - lo[1]) / F(options["output_height"])
        t = _matmul4(t, affine(sx, 0, 0, 0, sy, 0))
        shift_x, shift_y = -1.0 * (options["output_width"] / 2.0), -1.0 * (options["output_height"] / 2.0)
        t = _matmul4(t, affine(1, 0, shift_x, 0, 1, shift_y))
        out[b] = np.array(t, np.float32)
    return out


def ref_transform_landmarks(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    out = np.array(landmarks, np.float32)
    for b in range(landmarks.shape[0]):
        m = np.asarray(matrix[b], np.float32).reshape(-1)[:8]
        for i in range(landmarks.shape[1]):
            point = [landmarks[b, i, 0], landmarks[b, i, 1], F(0), F(1)]
            out[b, i, 0], out[b, i, 1] = _matvec([m[:4], m[4:8]], point)
    return out


def ref_transpose_conv_bias(x: np.ndarray, w_ohwi: np.ndarray, bias: np.ndarray, strides: tuple[int, int],
                            padding: str) -> np.ndarray:
    (sh, sw), (_, kh, kw, _) = strides, w_ohwi.shape
    batch, in_h, in_w, _ = x.shape
    # Prepare/Eval: SAME pads P = max(0, k - (n - 1) % s - 1) in all, P // 2 before; else nothing.
    same = padding == "SAME"
    pad_h, pad_w = (max(0, k - (n - 1) % s - 1) if same else 0 for n, k, s in ((in_h, kh, sh), (in_w, kw, sw)))
    out_h, out_w = sh * (in_h - 1) + kh - pad_h, sw * (in_w - 1) + kw - pad_w
    pad_h, pad_w = pad_h // 2, pad_w // 2
    out = np.broadcast_to(bias.astype(np.float64), (batch, out_h, out_w, len(bias))).copy()
    for iy in range(in_h):
        for ix in range(in_w):
            for fy in range(kh):
                for fx in range(kw):
                    oy, ox = iy * sh - pad_h + fy, ix * sw - pad_w + fx
                    if 0 <= oy < out_h and 0 <= ox < out_w:
                        out[:, oy, ox] += x[:, iy, ix].astype(np.float64) @ w_ohwi[:, fy, fx].T
    return out.astype(np.float32)


# -- helpers -------------------------------------------------------------------------
def _affine(rows: list[tuple[float, float, float]], batch: int = 1) -> np.ndarray:
    """(batch, 4, 4) matrices whose rows 0 and 1 are ``(a, b, t)`` -> ``[a, b, 0, t]``."""
    m = np.eye(4, dtype=np.float32)
    for r, (a, b, t) in enumerate(rows):
        m[r, [0, 1, 3]] = a, b, t
    return np.repeat(m[None], batch, axis=0)


def _random_affines(rng: np.random.Generator, batch: int, center: tuple[float, float]) -> np.ndarray:
    out = []
    for _ in range(batch):
        angle, scale, shear = rng.uniform(-np.pi, np.pi), rng.uniform(0.6, 1.7), rng.uniform(-0.3, 0.3)
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        tx, ty = np.array(center) + rng.uniform(-3.0, 3.0, 2)
        out.append(_affine([(c, -s + shear, tx), (s, c, ty)])[0])
    return np.stack(out)


def _call(layer: keras.layers.Layer, *inputs: np.ndarray) -> np.ndarray:
    return np.asarray(layer(list(inputs) if len(inputs) > 1 else inputs[0]))


# -- TransformTensorBilinear ---------------------------------------------------------
IMAGE = np.random.default_rng(1).uniform(-1, 1, (1, 5, 7, 3)).astype(np.float32)


def test_bilinear_identity_copies_and_zero_fills() -> None:
    out = _call(TransformTensorBilinear(6, 9), IMAGE, _affine([]))
    np.testing.assert_allclose(out, ref_transform_tensor_bilinear(IMAGE, _affine([]), 6, 9), atol=ATOL)
    np.testing.assert_array_equal(out[:, :5, :7], IMAGE)  # x = width - 1 exactly is still inside
    assert not out[:, 5:].any() and not out[:, :, 7:].any()


def test_bilinear_integer_translation() -> None:
    matrix = _affine([(1, 0, 2), (0, 1, 1)])
    out = _call(TransformTensorBilinear(5, 7), IMAGE, matrix)
    np.testing.assert_allclose(out, ref_transform_tensor_bilinear(IMAGE, matrix, 5, 7), atol=ATOL)
    np.testing.assert_array_equal(out[:, :4, :5], IMAGE[:, 1:, 2:])
    assert not out[:, 4:].any() and not out[:, :, 5:].any()


def test_bilinear_fractional_shift_drops_whole_pixels_outside() -> None:
    shift = _affine([(1, 0, -0.25)])
    left = _call(TransformTensorBilinear(5, 7), IMAGE, shift)
    np.testing.assert_allclose(left, ref_transform_tensor_bilinear(IMAGE, shift, 5, 7), atol=ATOL)
    assert not left[:, :, 0].any()  # x = -0.25 is outside: 0, not a blend with a zero border
    np.testing.assert_allclose(left[:, :, 1:], 0.75 * IMAGE[:, :, 1:] + 0.25 * IMAGE[:, :, :-1], atol=ATOL)
    right = _call(TransformTensorBilinear(5, 7), IMAGE, _affine([(1, 0, 0.25)]))
    assert not right[:, :, 6].any()  # x = 6.25 > width - 1
    np.testing.assert_allclose(right[:, :, :6], 0.75 * IMAGE[:, :, :6] + 0.25 * IMAGE[:, :, 1:], atol=ATOL)


def test_bilinear_rotation_by_90_degrees() -> None:
    matrix = _affine([(0, -1, 7), (1, 0, 0)])  # about pixel centres: (x + .5, y + .5) -> (7 - (y + .5), x + .5)
    out = _call(TransformTensorBilinear(7, 5), IMAGE, matrix)
    np.testing.assert_allclose(out, ref_transform_tensor_bilinear(IMAGE, matrix, 7, 5), atol=ATOL)
    np.testing.assert_array_equal(out, np.rot90(IMAGE, k=1, axes=(1, 2)))


def test_bilinear_random_matrices_per_batch_entry() -> None:
    rng = np.random.default_rng(2)
    image = rng.uniform(-1, 1, (3, 11, 13, 3)).astype(np.float32)
    matrix = _random_affines(rng, 3, (6.0, 5.0))
    out = _call(TransformTensorBilinear(7, 9), image, matrix)
    np.testing.assert_allclose(out, ref_transform_tensor_bilinear(image, matrix, 7, 9), atol=ATOL)
    assert 0 < np.count_nonzero(out[..., 0]) < out[..., 0].size  # some samples fall outside


def test_bilinear_reads_the_first_eight_matrix_values() -> None:
    rng = np.random.default_rng(3)
    image = rng.uniform(-1, 1, (2, 5, 7, 3)).astype(np.float32)
    # A 3x3 matrix is read flat, as the kernel does: rows (1, .2, .3, 1.5) and (.1, .9, 1.2, 0).
    matrix = np.array([[[1, 0.2, 0.3], [1.5, 0.1, 0.9], [1.2, 0, 9]]] * 2, np.float32)
    out = _call(TransformTensorBilinear(3, 5), image, matrix)
    np.testing.assert_allclose(out, ref_transform_tensor_bilinear(image, matrix, 3, 5), atol=ATOL)


def test_bilinear_is_differentiable() -> None:
    image = tf.Variable(IMAGE)
    matrix = tf.Variable(_affine([(0.9, 0.1, 1.3), (-0.1, 0.9, 0.7)]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(TransformTensorBilinear(4, 5)([image, matrix]) ** 2)
    grads = tape.gradient(loss, [image, matrix])
    assert all(g is not None and np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0 for g in grads)


# -- Landmarks2TransformMatrix -------------------------------------------------------
OPTIONS = {"left_rotation_idx": 2, "right_rotation_idx": 7, "subset_idxs": [0, 3, 5, 7, 9], "output_height": 5,
           "output_width": 7, "scale_x": 1.5, "scale_y": 1.25, "target_rotation_radians": 0.3}


def test_landmarks_to_matrix_random() -> None:
    landmarks = np.random.default_rng(4).uniform(0, 16, (3, 11, 3)).astype(np.float32)
    out = _call(Landmarks2TransformMatrix(**OPTIONS), landmarks)
    np.testing.assert_allclose(out, ref_landmarks_to_transform_matrix(landmarks, OPTIONS), atol=ATOL)


def test_landmarks_to_matrix_axis_aligned() -> None:
    points = np.array([[[1, 2, 5], [9, 2, 0], [4, 7, 0], [3, 1, 0]]], np.float32)  # box x 1..9, y 1..7
    options = {**OPTIONS, "left_rotation_idx": 0, "right_rotation_idx": 1, "subset_idxs": [0, 1, 2, 3],
               "target_rotation_radians": 0.0}
    out = _call(Landmarks2TransformMatrix(**options), points)
    sx, sy = 1.5 * 8 / 7, 1.25 * 6 / 5
    expected = _affine([(sx, 0, 5 - sx * 3.5), (0, sy, 4 - sy * 2.5)])
    np.testing.assert_allclose(out, expected, atol=ATOL)
    np.testing.assert_allclose(out, ref_landmarks_to_transform_matrix(points, options), atol=ATOL)


def test_landmarks_to_matrix_rotation_by_90_degrees() -> None:
    points = np.array([[[2, 2, 0], [2, 6, 0], [0, 4, 0], [3, 4, 0]]], np.float32)  # axis points down (+y)
    options = {**OPTIONS, "left_rotation_idx": 0, "right_rotation_idx": 1, "subset_idxs": [0, 1, 2, 3],
               "target_rotation_radians": 0.0, "scale_x": 1.0, "scale_y": 1.0}
    out = _call(Landmarks2TransformMatrix(**options), points)[0]
    np.testing.assert_allclose(out, ref_landmarks_to_transform_matrix(points, options)[0], atol=ATOL)
    # The crop's x axis runs along left -> right, its y axis to the left (-x); the box is 4 x 3.
    np.testing.assert_allclose(out[:2, :2], [[0, -3 / 5], [4 / 7, 0]], atol=ATOL)
    np.testing.assert_allclose(out @ [3.5, 2.5, 0, 1], [1.5, 4, 0, 1], atol=ATOL)  # crop centre -> box centre


# -- TransformLandmarks --------------------------------------------------------------
def test_transform_landmarks_hand_made() -> None:
    points = np.array([[[1, 2, 7], [-3, 0.5, -1]]], np.float32)
    cases = {"identity": (_affine([]), points[..., :2]),
             "translation": (_affine([(1, 0, 2.5), (0, 1, -1)]), points[..., :2] + [2.5, -1]),
             "rotation90": (_affine([(0, -1, 0), (1, 0, 0)]), np.stack([-points[..., 1], points[..., 0]], -1))}
    for matrix, expected in cases.values():
        np.testing.assert_allclose(_call(TransformLandmarks(), points[..., :2], matrix), expected, atol=ATOL)
        out3 = _call(TransformLandmarks(), points, matrix)
        np.testing.assert_allclose(out3, np.concatenate([expected, points[..., 2:]], -1), atol=ATOL)


@pytest.mark.parametrize("dims", [2, 3])
def test_transform_landmarks_random(dims: int) -> None:
    rng = np.random.default_rng(5)
    landmarks = rng.uniform(0, 16, (3, 13, dims)).astype(np.float32)
    matrix = rng.uniform(-2, 2, (3, 4, 4)).astype(np.float32)  # columns 2 and rows 2, 3 are ignored
    out = _call(TransformLandmarks(), landmarks, matrix)
    np.testing.assert_allclose(out, ref_transform_landmarks(landmarks, matrix), atol=ATOL)


def test_bad_shapes_raise() -> None:
    with pytest.raises(t2k.errors.InvalidArgumentError, match="2 or 3"):
        TransformLandmarks()([np.zeros((1, 3, 4), "float32"), _affine([])])
    with pytest.raises(t2k.errors.InvalidArgumentError, match="out of range"):
        Landmarks2TransformMatrix(**OPTIONS)(np.zeros((1, 9, 3), "float32"))
    with pytest.raises(t2k.errors.InvalidArgumentError, match="at least 8"):
        TransformTensorBilinear(2, 2)([IMAGE, np.eye(2, dtype="float32")[None]])


# -- the real ops of face_landmark_with_attention ------------------------------------
def _truncated_run(path: Path, keep_ops: int, outputs: list[int]) -> dict[int, np.ndarray]:
    """Run the model's first ``keep_ops`` ops (which precede its custom ops) in the interpreter."""
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema

    data = path.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    graph.operators, graph.outputs = graph.operators[:keep_ops], outputs
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    interpreter = Interpreter(model_content=bytes(builder.Output()))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).uniform(0, 1, detail["shape"]).astype(np.float32)
    interpreter.set_tensor(detail["index"], image)
    interpreter.invoke()
    return {t: np.array(interpreter.get_tensor(t)) for t in outputs}


@pytest.fixture(scope="module")
def face(corpus_model: Callable[[str], Path]) -> dict[str, Any]:
    path = corpus_model("face_landmark_with_attention")
    model = t2k.read(path)
    custom = [op for op in model.operators if op.is_custom]
    first = custom[0].index
    inputs = sorted({t for op in custom for t in op.inputs
                     if model.producer(t) is not None and model.producer(t).index < first})
    return {"model": model, "ops": custom, "values": _truncated_run(path, first, inputs)}


def _options(op: Any) -> dict[str, Any]:
    return custom_options.parse(op.opcode, op.custom_options, index=op.index)


@pytest.mark.parametrize("crop", [0, 1, 2], ids=["op192-lips", "op193-eye", "op194-eye"])
def test_face_attention_crop_with_real_options(face: dict[str, Any], crop: int) -> None:
    model, values = face["model"], face["values"]
    to_matrix = [op for op in face["ops"] if op.opcode == "Landmarks2TransformMatrix"][crop]
    sampler = next(op for op in face["ops"]
                   if op.opcode == "TransformTensorBilinear" and op.inputs[1] == to_matrix.outputs[0])
    options = _options(to_matrix)
    landmarks = values[to_matrix.inputs[0]]
    assert landmarks.shape == model.tensor(to_matrix.inputs[0]).shape == (1, 468, 3)
    matrix = _call(Landmarks2TransformMatrix(**options), landmarks)
    assert matrix.shape == model.tensor(to_matrix.outputs[0]).shape
    np.testing.assert_allclose(matrix, ref_landmarks_to_transform_matrix(landmarks, options), atol=ATOL)
    centre = matrix[0] @ [options["output_width"] / 2, options["output_height"] / 2, 0, 1]
    assert 0 < centre[0] < 48 and 0 < centre[1] < 48  # the crop centre lies on the 48 x 48 feature map

    features = values[sampler.inputs[0]]
    sampled = _call(TransformTensorBilinear(**_options(sampler)), features, matrix)
    assert sampled.shape == model.tensor(sampler.outputs[0]).shape == (1, 16, 16, 32)
    assert np.isfinite(sampled).all() and np.count_nonzero(sampled) > sampled.size // 2
    np.testing.assert_allclose(sampled, ref_transform_tensor_bilinear(features, matrix, 16, 16), atol=ATOL)

    mapped_back = 0
    for op in face["ops"]:  # TransformLandmarks maps crop landmarks back with MUL(matrix, constant)
        scale = model.producer(op.inputs[1]) if op.opcode == "TransformLandmarks" else None
        if scale is None or scale.inputs[0] != to_matrix.outputs[0]:
            continue
        mapped_back += 1
        assert _options(op) == {}
        back = matrix * model.constant(scale.inputs[1])
        shape = model.tensor(op.inputs[0]).shape
        points = np.random.default_rng(op.index).uniform(0, 64, shape).astype(np.float32)
        out = _call(TransformLandmarks(), points, back)
        assert out.shape == model.tensor(op.outputs[0]).shape and np.isfinite(out).all()
        np.testing.assert_allclose(out, ref_transform_landmarks(points, back), atol=ATOL)
    assert mapped_back == (1 if crop == 0 else 2)  # lips: 80 points; each eye: 71 contour + 5 iris points


# -- Convolution2DTransposeBias as Conv2DTranspose -----------------------------------
def _conv_transpose(weights_ohwi: np.ndarray, bias: np.ndarray, arguments: dict[str, Any],
                    x: np.ndarray) -> np.ndarray:
    layer = keras.layers.Conv2DTranspose(weights_ohwi.shape[0], weights_ohwi.shape[1:3], **arguments)
    layer.build(x.shape)
    layer.set_weights([weights_ohwi.transpose(1, 2, 0, 3), bias])  # OHWI -> HWOI
    return np.asarray(layer(x))


@pytest.mark.parametrize(("in_hw", "kernel", "strides", "padding"), [
    ((5, 7), (2, 2), (2, 2), "SAME"), ((6, 4), (2, 2), (2, 2), "SAME"), ((5, 6), (3, 3), (2, 2), "SAME"),
    ((4, 7), (4, 3), (3, 2), "SAME"), ((5, 5), (1, 2), (3, 3), "SAME"), ((3, 5), (3, 2), (1, 1), "SAME"),
    ((5, 7), (2, 3), (3, 2), "VALID"), ((3, 5), (1, 1), (2, 3), "VALID"),
], ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v)
def test_conv2d_transpose_mapping(in_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
                                  padding: str) -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (2, *in_hw, 3)).astype(np.float32)
    weights = rng.uniform(-1, 1, (4, *kernel, 3)).astype(np.float32)
    bias = rng.uniform(-1, 1, 4).astype(np.float32)
    options = {"padding": padding, "stride_height": strides[0], "stride_width": strides[1]}
    out = _conv_transpose(weights, bias, conv2d_transpose_arguments(options, in_hw, kernel), x)
    expected = ref_transpose_conv_bias(x, weights, bias, strides, padding)
    assert expected.shape[1:3] == tuple(map(transpose_conv_bias_output_size, in_hw, kernel, strides, [padding] * 2))
    np.testing.assert_allclose(out, expected, atol=ATOL)


@pytest.mark.filterwarnings("ignore:.*experimental_preserve_all_tensors")
@pytest.mark.parametrize("name", ["selfie_segmentation", "selfie_segmentation_landscape"])
def test_selfie_transpose_conv_matches_interpreter(corpus_model: Callable[[str], Path], name: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = corpus_model(name)
    model = t2k.read(path)
    op = next(op for op in model.operators if op.opcode == "Convolution2DTransposeBias")
    # Only the XNNPACK delegate implements this op: BUILTIN_WITHOUT_DEFAULT_DELEGATES fails with
    # "unresolved custom op". Under XNNPACK, preserved intermediates are still written.
    interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).uniform(0, 1, detail["shape"]).astype(np.float32)
    interpreter.set_tensor(detail["index"], image)
    interpreter.invoke()
    x, expected = interpreter.get_tensor(op.inputs[0]), interpreter.get_tensor(op.outputs[0])
    weights, bias = model.constant(op.inputs[1]), model.constant(op.inputs[2])
    arguments = conv2d_transpose_arguments(_options(op), x.shape[1:3], weights.shape[1:3])
    assert arguments == {"strides": (2, 2), "padding": "same", "output_padding": None}
    out = _conv_transpose(weights, bias, arguments, x)
    assert out.shape == expected.shape == model.tensor(op.outputs[0]).shape
    error = np.abs(out - expected).max() / np.abs(expected).max()
    print(f"{name}: max|keras - tflite| / max|tflite| = {error:.2e}, max|tflite| = {np.abs(expected).max():.1f}")
    assert error < 1e-6


# -- free batch and saving -----------------------------------------------------------
Case = tuple[Callable[[], keras.layers.Layer], list[tuple[int, ...]], Callable[..., np.ndarray]]


def _cases() -> dict[str, Case]:
    return {
        "TransformTensorBilinear": (lambda: TransformTensorBilinear(7, 9), [(11, 13, 3), (4, 4)],
                                    lambda img, m: ref_transform_tensor_bilinear(img, m, 7, 9)),
        "Landmarks2TransformMatrix": (lambda: Landmarks2TransformMatrix(**OPTIONS), [(11, 3)],
                                      lambda lm: ref_landmarks_to_transform_matrix(lm, OPTIONS)),
        "TransformLandmarks": (TransformLandmarks, [(13, 3), (4, 4)], ref_transform_landmarks),
    }


def _inputs(name: str, batch: int) -> list[np.ndarray]:
    rng = np.random.default_rng(batch)
    if name == "TransformTensorBilinear":
        return [rng.uniform(-1, 1, (batch, 11, 13, 3)).astype(np.float32), _random_affines(rng, batch, (6.0, 5.0))]
    if name == "Landmarks2TransformMatrix":
        return [rng.uniform(0, 16, (batch, 11, 3)).astype(np.float32)]
    landmarks = rng.uniform(0, 16, (batch, 13, 3)).astype(np.float32)
    return [landmarks, rng.uniform(-2, 2, (batch, 4, 4)).astype(np.float32)]


@pytest.mark.parametrize("name", list(_cases()))
def test_free_batch_and_keras_file_round_trip(name: str, tmp_path: Path) -> None:
    make, shapes, reference = _cases()[name]
    inputs = [keras.Input(shape) for shape in shapes]
    layer = make()
    output = layer(inputs if len(inputs) > 1 else inputs[0])
    assert tuple(output.shape) == layer.compute_output_shape([tuple(i.shape) for i in inputs] if len(inputs) > 1
                                                             else tuple(inputs[0].shape))
    model = keras.Model(inputs, output)
    model.save(tmp_path / "x.keras")
    loaded = keras.saving.load_model(tmp_path / "x.keras", safe_mode=True)
    assert type(loaded.layers[-1]) is type(layer) and loaded.layers[-1].get_config() == layer.get_config()
    for batch in (1, 3):
        data = _inputs(name, batch)
        out = model.predict(data, verbose=0)  # in a tf.function
        assert out.shape[0] == batch
        np.testing.assert_allclose(out, reference(*data), atol=ATOL)
        np.testing.assert_array_equal(loaded.predict(data, verbose=0), out)
