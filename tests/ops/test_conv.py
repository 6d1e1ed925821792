"""ops/matmul.py, ops/conv3d.py and the space/batch ops of ops/conv.py: one-op models against the
interpreter and numpy; lint checks and transplant for Conv3D."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, inputs

import tflite2keras as t2k
from tflite2keras.ops.matmul import check_adjoints
from tflite2keras.verification.reference import make_interpreter, run
from tflite2keras.writer.flatjson import from_json, to_json

RNG = np.random.default_rng(7)
W3 = RNG.uniform(-1, 1, (3, 5, 7)).astype(np.float32)    # (batch 3, K 5, N 7)
W1 = RNG.uniform(-1, 1, (1, 5, 7)).astype(np.float32)    # edited to rank 2: (5, 7)
W1T = RNG.uniform(-1, 1, (1, 1, 7, 5)).astype(np.float32)  # edited to rank 2: (7, 5), with adj_y
W4 = RNG.uniform(-1, 1, (1, 3, 5, 7)).astype(np.float32)
F3 = RNG.uniform(-1, 1, (3, 1, 2, 3, 4)).astype(np.float32)   # DHWIO
F3T = RNG.uniform(-1, 1, (3, 1, 2, 4, 3)).astype(np.float32)  # DHWOI
F2T = RNG.uniform(-1, 1, (2, 1, 4, 5)).astype(np.float32)  # HWOI: kernel below the strides (3, 2)
F2T_SAME = RNG.uniform(-1, 1, (3, 4, 4, 5)).astype(np.float32)
IMAGE3D = (7, 9, 11, 3)
SHAPE = (7, 9, 5)
PADS = [[1, 0], [2, 1]]  # (7, 9) -> (8, 12), blocks (2, 3)


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _same_pads(size: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...]) -> list[tuple[int, int]]:
    pads = []
    for n, k, s in zip(size, window, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def np_conv3d(x: np.ndarray, f: np.ndarray, strides: tuple[int, ...], padding: str,
              dilation: tuple[int, ...] = (1, 1, 1)) -> np.ndarray:
    """NDHWC input, DHWIO filter, TF's SAME / VALID rule."""
    k = f.shape[:3]
    window = tuple((kk - 1) * d + 1 for kk, d in zip(k, dilation))
    pads = _same_pads(x.shape[1:4], window, strides) if padding == "SAME" else [(0, 0)] * 3
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(n - w) // s + 1 for n, w, s in zip(xp.shape[1:4], window, strides)]
    y = np.zeros((x.shape[0], *out, f.shape[-1]), np.float64)
    for a, b, c in np.ndindex(*k):
        start = (a * dilation[0], b * dilation[1], c * dilation[2])
        patch = xp[(slice(None), *(slice(st, st + (o - 1) * s + 1, s) for st, o, s in zip(start, out, strides)))]
        y += np.einsum("ndhwi,io->ndhwo", patch, f[a, b, c])
    return y.astype(np.float32)


def np_conv_transpose(x: np.ndarray, f: np.ndarray, strides: tuple[int, ...], padding: str,
                      out: tuple[int, ...]) -> np.ndarray:
    """N(D)HWC input, (D)HWOI filter, output extents ``out``; TFLite pads as the forward conv from ``out``."""
    k, size = f.shape[:-2], x.shape[1:-1]
    full = [(n - 1) * s + kk for n, s, kk in zip(size, strides, k)]
    before = [max(fu - o, 0) // 2 if padding == "SAME" else 0 for fu, o in zip(full, out)]
    y = np.zeros((x.shape[0], *[max(fu, b + o) for fu, b, o in zip(full, before, out)], f.shape[-2]), np.float64)
    for offset in np.ndindex(*k):
        index = tuple(slice(st, st + (n - 1) * s + 1, s) for st, n, s in zip(offset, size, strides))
        y[(slice(None), *index)] += np.tensordot(x, f[offset], axes=([-1], [1]))
    return y[(slice(None), *(slice(b, b + o) for b, o in zip(before, out)))].astype(np.float32)


def np_lrn(x: np.ndarray, radius: int, bias: float, alpha: float, beta: float) -> np.ndarray:
    squares = x.astype(np.float64) ** 2
    channels = x.shape[-1]
    total = np.stack([squares[..., max(0, c - radius):c + radius + 1].sum(-1) for c in range(channels)], -1)
    return (x / (bias + alpha * total) ** beta).astype(np.float32)


def np_space_to_batch(x: np.ndarray, block: list[int], pads: list[list[int]]) -> np.ndarray:
    xp = np.pad(x, [(0, 0), *map(tuple, pads)] + [(0, 0)] * (x.ndim - 1 - len(block)))
    chunks = [xp[(slice(None), *(slice(o, None, b) for o, b in zip(offset, block)))] for offset in np.ndindex(*block)]
    return np.concatenate(chunks, axis=0)


def np_batch_to_space(y: np.ndarray, block: list[int], crops: list[list[int]]) -> np.ndarray:
    n = y.shape[0] // int(np.prod(block))
    out = np.zeros((n, *(d * b for d, b in zip(y.shape[1:], block)), *y.shape[1 + len(block):]), y.dtype)
    for i, offset in enumerate(np.ndindex(*block)):
        out[(slice(None), *(slice(o, None, b) for o, b in zip(offset, block)))] = y[i * n:(i + 1) * n]
    return out[(slice(None), *(slice(a, d - c) for (a, c), d in zip(crops, out.shape[1:])))]


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "batch_matmul": ("BATCH_MATMUL", ((3, 7, 5), (3, 5, 9)), tf.linalg.matmul, np.matmul),
    "batch_matmul_adj_xy": ("BATCH_MATMUL", ((3, 5, 7), (3, 9, 5)),
                            lambda a, b: tf.linalg.matmul(a, b, transpose_a=True, transpose_b=True),
                            lambda a, b: _swap(a) @ _swap(b)),
    "batch_matmul_einsum": ("BATCH_MATMUL", ((3, 7, 5), (3, 9, 5)), lambda a, b: tf.einsum("nhqd,nhkd->nhqk", a, b),
                            lambda a, b: a @ _swap(b)),
    "batch_matmul_const": ("BATCH_MATMUL", ((3, 9, 5),), lambda a: tf.linalg.matmul(a, W3), lambda a: a @ W3),
    "batch_matmul_const_adj_y": ("BATCH_MATMUL", ((3, 9, 5),),
                                 lambda a: tf.linalg.matmul(a, _swap(W3).copy(), transpose_b=True), lambda a: a @ W3),
    "batch_matmul_const_rank4": ("BATCH_MATMUL", ((3, 9, 5),), lambda a: tf.linalg.matmul(a, W4), lambda a: a @ W4),
    "batch_matmul_const_rank2": ("BATCH_MATMUL", ((9, 5),), lambda a: tf.linalg.matmul(a, W1), lambda a: a @ W1[0]),
    "batch_matmul_const_rank2_adj_y": ("BATCH_MATMUL", ((3, 9, 5),),
                                       lambda a: tf.linalg.matmul(a, W1T, transpose_b=True),
                                       lambda a: a @ _swap(W1T[0, 0])),
    "conv3d_same": ("CONV_3D", (IMAGE3D,), lambda x: tf.nn.conv3d(x, F3, [1, 2, 1, 3, 1], "SAME"),
                    lambda x: np_conv3d(x, F3, (2, 1, 3), "SAME")),
    "conv3d_valid": ("CONV_3D", (IMAGE3D,), lambda x: tf.nn.conv3d(x, F3, [1, 1, 2, 3, 1], "VALID"),
                     lambda x: np_conv3d(x, F3, (1, 2, 3), "VALID")),
    "conv3d_dilated": ("CONV_3D", (IMAGE3D,), lambda x: tf.nn.conv3d(x, F3, [1, 1, 1, 1, 1], "VALID"),
                       lambda x: np_conv3d(x, F3, (1, 1, 1), "VALID", (2, 1, 3))),
    "conv3d_dilated_same": ("CONV_3D", (IMAGE3D,), lambda x: tf.nn.conv3d(x, F3, [1, 1, 1, 1, 1], "SAME"),
                            lambda x: np_conv3d(x, F3, (1, 1, 1), "SAME", (2, 1, 3))),
    "conv3d_bias_relu6": ("CONV_3D", (IMAGE3D,), lambda x: tf.nn.relu6(tf.nn.conv3d(x, F3, [1, 2, 1, 3, 1], "SAME")
                                                                        + W3[0, 0, :4] * 3),
                          lambda x: np.clip(np_conv3d(x, F3, (2, 1, 3), "SAME") + W3[0, 0, :4] * 3, 0, 6)),
    "conv3d_transpose_same": ("CONV_3D_TRANSPOSE", (IMAGE3D,),
                              lambda x: tf.nn.conv3d_transpose(x, F3T, [1, 14, 9, 33, 4], [1, 2, 1, 3, 1], "SAME"),
                              lambda x: np_conv_transpose(x, F3T, (2, 1, 3), "SAME", (14, 9, 33))),
    "conv3d_transpose_valid": ("CONV_3D_TRANSPOSE", (IMAGE3D,),
                               lambda x: tf.nn.conv3d_transpose(x, F3T, [1, 15, 9, 32, 4], [1, 2, 1, 3, 1], "VALID"),
                               lambda x: np_conv_transpose(x, F3T, (2, 1, 3), "VALID", (15, 9, 32))),
    "conv3d_transpose_bias_relu": ("CONV_3D_TRANSPOSE", (IMAGE3D,),
                                   lambda x: tf.nn.relu(tf.nn.conv3d_transpose(x, F3T, [1, 7, 9, 11, 4], [1] * 5, "SAME")
                                                        + W3[0, 0, :4]),
                                   lambda x: np.maximum(np_conv_transpose(x, F3T, (1, 1, 1), "SAME", (7, 9, 11))
                                                        + W3[0, 0, :4], 0)),
    "transpose_conv_valid_short_kernel": ("TRANSPOSE_CONV", (SHAPE,),
                                          lambda x: tf.nn.conv2d_transpose(x, F2T, [1, 20, 17, 4], (3, 2), "VALID"),
                                          lambda x: np_conv_transpose(x, F2T, (3, 2), "VALID", (20, 17))),
    "transpose_conv_same_output_padding": ("TRANSPOSE_CONV", (SHAPE,),
                                           lambda x: tf.nn.conv2d_transpose(x, F2T_SAME, [1, 13, 17, 4], 2, "SAME"),
                                           lambda x: np_conv_transpose(x, F2T_SAME, (2, 2), "SAME", (13, 17))),
    "lrn": ("LOCAL_RESPONSE_NORMALIZATION", (SHAPE,),
            lambda x: tf.nn.local_response_normalization(x, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75),
            lambda x: np_lrn(x, 2, 1.5, 0.3, 0.75)),
    "lrn_wide_radius": ("LOCAL_RESPONSE_NORMALIZATION", ((3, 5, 9),),
                        lambda x: tf.nn.local_response_normalization(x * 2, depth_radius=5),
                        lambda x: np_lrn(x * 2, 5, 1.0, 1.0, 0.5)),
    "space_to_batch": ("SPACE_TO_BATCH_ND", (SHAPE,), lambda x: tf.space_to_batch_nd(x, [2, 3], PADS),
                       lambda x: np_space_to_batch(x, [2, 3], PADS)),
    "space_to_batch_3d": ("SPACE_TO_BATCH_ND", ((9, 5),), lambda x: tf.space_to_batch_nd(x, [4], [[2, 1]]),
                          lambda x: np_space_to_batch(x, [4], [[2, 1]])),
    "batch_to_space": ("BATCH_TO_SPACE_ND", (SHAPE,),
                       lambda x: tf.batch_to_space(tf.space_to_batch_nd(x, [2, 3], PADS), [3, 2], [[2, 0], [1, 2]]),
                       lambda x: np_batch_to_space(np_space_to_batch(x, [2, 3], PADS), [3, 2], [[2, 0], [1, 2]])),
}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"batch_matmul_adj_xy": "BatchMatMul", "batch_matmul_const": "BatchMatMul", "conv3d_bias_relu6": "Conv3D",
          "conv3d_transpose_bias_relu": "Conv3DTranspose", "lrn": "LocalResponseNormalization",
          "space_to_batch": "SpaceToBatch", "batch_to_space": "BatchToSpace"}
#: The output_shape input of CONV_3D_TRANSPOSE holds the batch (1): the interpreter runs at batch 1 only.
BATCH_1 = {"conv3d_transpose_same", "conv3d_transpose_valid", "conv3d_transpose_bias_relu",
           "transpose_conv_valid_short_kernel", "transpose_conv_same_output_padding"}


def edit(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The model with ``change`` applied to its JSON form (see :mod:`tflite2keras.writer.flatjson`)."""
    doc = json.loads(to_json(data))
    change(doc)
    return from_json(json.dumps(doc))


def _ops(doc: dict[str, Any], opcode: str) -> list[dict[str, Any]]:
    return [op for op in doc["subgraphs"][0]["operators"] if op.get("opcode") == opcode]


def _reshape_constant(shape: list[int]) -> Callable[[dict[str, Any]], None]:
    """Give the BATCH_MATMUL's constant operand ``shape`` (same size): a rank-2 right operand."""
    def change(doc: dict[str, Any]) -> None:
        tensor = doc["subgraphs"][0]["tensors"][_ops(doc, "BATCH_MATMUL")[0]["inputs"][1]]
        tensor["shape"] = shape
        tensor.pop("shape_signature", None)
    return change


def _dilate(dilation: tuple[int, int, int]) -> Callable[[dict[str, Any]], None]:
    """Set the CONV_3D's dilation (the converter never writes one) and its output tensor's shape."""
    def change(doc: dict[str, Any]) -> None:
        op = _ops(doc, "CONV_3D")[0]
        tensors = doc["subgraphs"][0]["tensors"]
        for axis, d in zip("dhw", dilation):
            op["builtin_options"][f"dilation_{axis}_factor"] = d
        size, kernel = tensors[op["inputs"][0]]["shape"], tensors[op["inputs"][1]]["shape"]
        same = op["builtin_options"]["padding"] == "SAME"
        out = [n if same else n - (k - 1) * d for n, k, d in zip(size[1:4], kernel[:3], dilation)]
        tensors[op["outputs"][0]]["shape"] = [1, *out, kernel[4]]
        tensors[op["outputs"][0]].pop("shape_signature", None)
    return change


def _fuse_bias(opcode: str, slot: int) -> Callable[[dict[str, Any]], None]:
    """Move the ADD of a constant bias (and its fused activation) that follows the conv into the conv."""
    def change(doc: dict[str, Any]) -> None:
        graph = doc["subgraphs"][0]
        conv, add = _ops(doc, opcode)[0], _ops(doc, "ADD")[0]
        assert add["inputs"][0] == conv["outputs"][0]
        inputs = conv["inputs"] + [-1] * (slot + 1 - len(conv["inputs"]))
        inputs[slot] = add["inputs"][1]
        conv["inputs"], conv["outputs"] = inputs, add["outputs"]
        conv["builtin_options"]["fused_activation_function"] = add["builtin_options"]["fused_activation_function"]
        graph["operators"].remove(add)
        for follower in graph["operators"]:  # TF puts RELU6 / RELU after the ADD: fold it in too
            if follower.get("opcode") in ("RELU", "RELU6") and follower["inputs"] == conv["outputs"]:
                conv["builtin_options"]["fused_activation_function"] = follower["opcode"]
                conv["outputs"] = follower["outputs"]
                graph["operators"].remove(follower)
                break
    return change


#: Cases whose file is edited after conversion (ops or options the TF converter does not write).
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "batch_matmul_const_rank2": _reshape_constant([5, 7]),
    "batch_matmul_const_rank2_adj_y": _reshape_constant([7, 5]),
    "conv3d_dilated": _dilate((2, 1, 3)),
    "conv3d_dilated_same": _dilate((2, 1, 3)),
    "conv3d_bias_relu6": _fuse_bias("CONV_3D", 2),
    "conv3d_transpose_bias_relu": _fuse_bias("CONV_3D_TRANSPOSE", 3),
}


def case_data(name: str, function_to_tflite: Any) -> bytes:
    case = CASES[name]
    data = function_to_tflite(case[2], *case[1])
    return edit(data, EDITS[name]) if name in EDITS else data


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    data = case_data(name, function_to_tflite)
    check_case(CASES[name], data, tmp_path, RELOAD.get(name), (1,) if name in BATCH_1 else (1, 3))


def test_fused_bias_and_activation_are_in_the_edited_files(function_to_tflite: Any) -> None:
    for name, opcode in (("conv3d_bias_relu6", "CONV_3D"), ("conv3d_transpose_bias_relu", "CONV_3D_TRANSPOSE")):
        tfl = t2k.read(case_data(name, function_to_tflite))
        (op,) = tfl.operators
        assert op.opcode == opcode and op.options["fused_activation_function"] in ("RELU", "RELU6")
        assert op.has_input(2 if opcode == "CONV_3D" else 3)


def test_batch_matmul_const_is_a_trainable_weight(function_to_tflite: Any) -> None:
    model = t2k.convert(case_data("batch_matmul_const_adj_y", function_to_tflite))
    layer = next(la for la in model.layers if type(la).__name__ == "BatchMatMul")
    assert [v.name for v in layer.trainable_weights] == ["kernel"] and layer.adj_y
    np.testing.assert_array_equal(layer.kernel.numpy(), _swap(W3))


@pytest.mark.parametrize("shapes, function, match", [
    (((5, 9),), lambda a: tf.linalg.matmul(W1[0].T.copy(), a), "constant left operand"),
    (((9, 5),), lambda a: tf.linalg.matmul(a, W3), "spans the batch axis"),
], ids=["const_lhs", "const_spans_batch"])
def test_batch_matmul_unsupported(shapes: Any, function: Any, match: str, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, *shapes)
    assert "BATCH_MATMUL" in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\(BATCH_MATMUL\).*{match}"):
        t2k.convert(data)


def test_conv3d_strides_with_dilation_is_unsupported(function_to_tflite: Any) -> None:
    data = edit(function_to_tflite(lambda x: tf.nn.conv3d(x, F3, [1, 2, 1, 1, 1], "SAME"), IMAGE3D), _dilate((1, 2, 1)))
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(CONV_3D\).*strides \(2, 1, 1\) and dilation \(1, 2, 1\)"):
        t2k.convert(data)


def test_conv3d_transpose_dilation_is_unsupported(function_to_tflite: Any) -> None:
    def dilate(doc: dict[str, Any]) -> None:
        _ops(doc, "CONV_3D_TRANSPOSE")[0]["builtin_options"]["dilation_h_factor"] = 2

    data = edit(case_data("conv3d_transpose_same", function_to_tflite), dilate)
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(CONV_3D_TRANSPOSE\) with dilation \(1, 2, 1\)"):
        t2k.convert(data)


def test_transpose_padding_beyond_keras_is_unsupported() -> None:
    from tflite2keras.ops.conv import transpose_padding

    op = SimpleNamespace(index=4, opcode="CONV_3D_TRANSPOSE")
    assert transpose_padding(op, (7, 9, 11), (13, 17, 31), (3, 4, 2), (2, 2, 3), "SAME") == \
        {"padding": "same", "output_padding": (0, 1, 1)}
    with pytest.raises(t2k.UnsupportedOpError, match=r"op 4 \(CONV_3D_TRANSPOSE\).*output_padding \(2, 0\)"):
        transpose_padding(op, (7, 9), (14, 17), (4, 3), (2, 2), "SAME")  # 14 = 7 * 2 needs p = 2 with k = 4


@pytest.mark.parametrize("mode", ["SAME", "VALID"])
def test_transpose_geometry_is_mediapipes_and_keras_reproduces_it(mode: str) -> None:
    """One home for a transposed convolution's output geometry (converters, lint and rewrite call it):
    without a stored size it is MediaPipe's rule; a Conv2DTranspose with :func:`transpose_padding`'s
    arguments gives that size, and the crops are what that size takes from the full result."""
    from tflite2keras.ops.transpose_geometry import (
        transpose_geometry,
        transpose_padding,
    )

    for n, k, s in ((n, k, s) for n in range(1, 7) for k in range(1, 5) for s in range(1, 4)):
        pad = max(0, k - 1 - (n - 1) % s) if mode == "SAME" else 0  # MediaPipe's kernel
        geometry = transpose_geometry(mode, (n, n + 1), (k, 1), (s, 1))
        assert geometry.out == (s * (n - 1) + k - pad, n + 1), (n, k, s)
        assert geometry.crops[:2] == (pad // 2, pad - pad // 2)
        assert transpose_geometry(mode, (n,), (k,), (s,), out=geometry.out[:1]) == \
            type(geometry)(geometry.out[:1], geometry.crops[:2], geometry.forward[:1])
        arguments = transpose_padding(None, (n, n + 1), geometry.out, (k, 1), (s, 1), mode)
        layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), **arguments)
        assert tuple(layer.compute_output_shape((1, n, n + 1, 1))[1:3]) == geometry.out, (n, k, s, arguments)


def _conv3d_model(**changes: Any) -> keras.Model:
    first = {"filters": 5, "kernel_size": (3, 1, 2), "strides": (2, 1, 3), "padding": "same", "use_bias": False}
    first.update(changes)
    return keras.Sequential([
        keras.Input(IMAGE3D), keras.layers.Conv3D(**first, name="first"), keras.layers.ReLU(name="relu"),
        keras.layers.Conv3D(4, (1, 3, 3), use_bias=False, name="second"),
        keras.layers.Conv3DTranspose(2, (2, 3, 1), strides=(2, 1, 1), padding="same", use_bias=False, name="up"),
    ])


def test_conv3d_transplant_into_a_fresh_keras_model(to_tflite: Any) -> None:
    keras.utils.set_random_seed(1)
    data = to_tflite(_conv3d_model())
    tfl = t2k.read(data)
    assert [op.opcode for op in tfl.operators if op.opcode.startswith("CONV")] == \
        ["CONV_3D", "CONV_3D", "CONV_3D_TRANSPOSE"]
    keras.utils.set_random_seed(2)
    fresh = _conv3d_model()
    report = t2k.transplant(fresh, data)
    assert sorted(a.variable for a in report.assignments) == ["kernel"] * 3
    assert {a.layout for a in report.assignments} == {"DHWIO", "DHWOI"}
    assert not t2k.lint(fresh, data)
    for batch in (1, 3):
        feed = inputs((IMAGE3D,), batch, batch)
        want = run(make_interpreter(tfl, batch=batch), feed)[0][0]
        np.testing.assert_allclose(np.asarray(fresh(feed[0])), want, rtol=1e-5, atol=1e-4)
    converted = t2k.convert(data)
    assert [type(la).__name__ for la in converted.layers[1:]] == ["Conv3D", "ReLU", "Conv3D", "Conv3DTranspose"]


def test_conv3d_bias_in_a_keras_model_is_not_dropped(to_tflite: Any) -> None:
    """TF's converter moves a Conv3D's bias and activation into an ADD after CONV_3D: the transplant
    into a Keras Conv3D with a bias says so rather than leave the bias at zero; convert is exact."""
    def build() -> keras.Model:
        return keras.Sequential([keras.Input(IMAGE3D), keras.layers.Conv3D(4, (3, 1, 2), activation="relu",
                                                                           bias_initializer="ones", name="c")])

    data = to_tflite(build())
    assert [op.opcode for op in t2k.read(data).operators] == ["CONV_3D", "ADD"]
    with pytest.raises(t2k.errors.MappingError, match="op 1 ADD"):
        t2k.transplant(build(), data)
    assert t2k.verify(t2k.convert(data), data, samples=2, batch=3).ok


def test_conv3d_explicit_padding_lint(to_tflite: Any) -> None:
    def build(pads: Any) -> keras.Model:
        inputs = keras.Input(IMAGE3D)
        x = keras.layers.ZeroPadding3D(pads)(inputs) if pads else inputs
        conv = keras.layers.Conv3D(4, (3, 1, 2), padding="valid" if pads else "same", use_bias=False, name="conv")
        return keras.Model(inputs, conv(x))

    data = to_tflite(build(None))
    assert not t2k.lint(build(((1, 1), (0, 0), (0, 1))), data)
    findings = t2k.lint(build(((1, 1), (0, 0), (1, 0))), data)
    assert [(f.field, f.keras, f.tflite) for f in findings] == \
        [("padding", "valid (1, 1, 0, 0, 1, 0)", "SAME (1, 1, 0, 0, 0, 1)")], str(findings)


@pytest.mark.parametrize("layer, changes, field", [
    ("first", {"kernel_size": (3, 2, 1)}, "kernel_size"),
    ("first", {"strides": (1, 2, 3)}, "strides"),
    ("first", {"padding": "valid"}, "padding"),
    ("first", {"strides": (1, 1, 1), "dilation_rate": (2, 1, 1)}, "dilation_rate"),
    ("first", {"use_bias": True}, None),
    ("up", {"padding": "valid"}, "padding"),
    ("up", {"strides": (1, 1, 1)}, "strides"),
], ids=["kernel_size", "strides", "padding", "dilation", "zero_bias_is_fine", "transpose_padding",
        "transpose_strides"])
def test_conv3d_lint_fields(layer: str, changes: dict[str, Any], field: str | None, to_tflite: Any) -> None:
    data = to_tflite(_conv3d_model(padding="same"))
    model = _conv3d_model()
    config = model.get_config()
    target = next(la for la in config["layers"] if la["config"]["name"] == layer)
    target["config"].update(changes)
    changed = keras.Sequential.from_config(config)
    findings = t2k.lint(changed, data)
    fields = [f.field for f in findings if f.layer == layer]
    assert (fields == []) if field is None else (field in fields), str(findings)


def test_adjoint_and_lrn_checks(function_to_tflite: Any) -> None:
    from tflite2keras.layers import LocalResponseNormalization
    from tflite2keras.ops.pool import check_lrn

    tfl = t2k.read(case_data("batch_matmul_adj_xy", function_to_tflite))
    (op,) = tfl.operators
    assert list(check_adjoints(op, SimpleNamespace(adj_x=True, adj_y=True), tfl)) == []
    assert list(check_adjoints(op, SimpleNamespace(adj_x=False, adj_y=True), tfl)) == \
        [("adj_x, adj_y", (False, True), (True, True))]
    tfl = t2k.read(case_data("lrn", function_to_tflite))
    (op,) = tfl.operators
    layer = LocalResponseNormalization(radius=2, bias=1.5, alpha=0.3, beta=0.75)
    assert list(check_lrn(op, layer, tfl)) == []
    assert [f for f, _, _ in check_lrn(op, LocalResponseNormalization(radius=3), tfl)] == \
        ["radius", "bias", "alpha", "beta"]


def test_space_batch_lint(function_to_tflite: Any) -> None:
    data = case_data("batch_to_space", function_to_tflite)
    model = t2k.convert(data)
    assert not t2k.lint(model, data)
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchToSpace":
            layer["config"]["block_shape"] = [2, 3]
        if layer["class_name"] == "SpaceToBatch":
            layer["config"]["paddings"] = [[0, 1], [2, 1]]
    findings = t2k.lint(keras.Model.from_config(config), data)
    assert [(f.layer_type, f.field) for f in findings] == [("SpaceToBatch", "paddings"), ("BatchToSpace", "block_shape")]


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.BatchMatMul(True, False), layers.BatchMatMul(adj_y=True, kernel_shape=(3, 4)),
            layers.SpaceToBatch([2, 3], [[1, 0], [0, 2]]), layers.BatchToSpace([2], [[0, 1]]),
            layers.LocalResponseNormalization(3, 2.0, 0.5, 0.25), layers.L2Pooling2D((2, 3), (1, 2), "same")]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    for bad in (lambda: layers.BatchMatMul(kernel_shape=(3,)), lambda: layers.SpaceToBatch([0], [[0, 0]]),
                lambda: layers.BatchToSpace([2, 2], [[0, 0]]), lambda: layers.LocalResponseNormalization(-1),
                lambda: layers.L2Pooling2D(2, padding="full")):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            bad()


def _fully_connected_on_rows(shape: tuple[int, ...], units: int, depth: int) -> bytes:
    """A FULLY_CONNECTED (no keep_num_dims) whose input flattens into several rows of ``depth`` per
    sample, as the interpreter allows: input ``shape``, weights ``(units, depth)``, a bias."""
    from ai_edge_litert import schema_py_generated as schema
    from oneop import SchemaFile

    built = SchemaFile()
    rng = np.random.default_rng(3)
    x = built.tensor("x", shape)
    w = built.tensor("w", (units, depth), rng.normal(size=(units, depth)).astype(np.float32))
    b = built.tensor("b", (units,), rng.normal(size=units).astype(np.float32))
    rows = int(np.prod(shape)) // depth
    y = built.tensor("y", (rows, units))
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [x, w, b], [y]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    built.model.operatorCodes, built.graph.operators = [code], [op]
    built.graph.inputs, built.graph.outputs = [x], [y]
    return built.bytes()


def test_fully_connected_on_several_rows_per_sample() -> None:
    """(1, 4, 6) into 8 columns: the interpreter computes 3 rows of 8, so the batch axis grows (a
    ``keras.layers.Reshape((8,))`` cannot do that and raised Keras's own error)."""
    data = _fully_connected_on_rows((1, 4, 6), units=5, depth=8)
    interpreter = make_interpreter(t2k.read(data))
    x = np.random.default_rng(0).normal(size=(1, 4, 6)).astype(np.float32)
    (want,), _ = run(interpreter, [x])
    assert want.shape == (3, 5)
    model = t2k.convert(data)
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-5)
    assert t2k.verify(model, data, samples=2).ok
