"""ops/conv.py: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED and the space/batch ops
against the interpreter and numpy; ops/transpose_geometry.py's output geometry; lint checks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, model_case, tflite_of

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run

RNG = np.random.default_rng(7)
F2T = RNG.uniform(-1, 1, (2, 1, 4, 5)).astype(np.float32)  # HWOI: kernel below the strides (3, 2)
F2T_SAME = RNG.uniform(-1, 1, (3, 4, 4, 5)).astype(np.float32)
SHAPE = (7, 9, 5)
PADS = [[1, 0], [2, 1]]  # (7, 9) -> (8, 12), blocks (2, 3)


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


L = keras.layers

#: id -> (opcode under test, input shapes, TF function, numpy reference), or a Keras-model case (model_case).
CASES: dict[str, Case] = {
    "conv_2d_layer": model_case("CONV_2D", lambda: L.Conv2D(5, (3, 5), strides=2, padding="same", activation="relu")),
    "depthwise_conv_2d_layer": model_case("DEPTHWISE_CONV_2D", lambda: L.DepthwiseConv2D((5, 3), depth_multiplier=2)),
    "transpose_conv_layer": model_case("TRANSPOSE_CONV",
                                       lambda: L.Conv2DTranspose(5, (3, 5), strides=2, padding="same")),
    "fully_connected_layer": model_case("FULLY_CONNECTED", lambda: L.Dense(7, activation="relu"), (9,)),
    "transpose_conv_valid_short_kernel": ("TRANSPOSE_CONV", (SHAPE,),
                                          lambda x: tf.nn.conv2d_transpose(x, F2T, [1, 20, 17, 4], (3, 2), "VALID"),
                                          lambda x: np_conv_transpose(x, F2T, (3, 2), "VALID", (20, 17))),
    "transpose_conv_same_output_padding": ("TRANSPOSE_CONV", (SHAPE,),
                                           lambda x: tf.nn.conv2d_transpose(x, F2T_SAME, [1, 13, 17, 4], 2, "SAME"),
                                           lambda x: np_conv_transpose(x, F2T_SAME, (2, 2), "SAME", (13, 17))),
    "space_to_batch": ("SPACE_TO_BATCH_ND", (SHAPE,), lambda x: tf.space_to_batch_nd(x, [2, 3], PADS),
                       lambda x: np_space_to_batch(x, [2, 3], PADS)),
    "space_to_batch_3d": ("SPACE_TO_BATCH_ND", ((9, 5),), lambda x: tf.space_to_batch_nd(x, [4], [[2, 1]]),
                          lambda x: np_space_to_batch(x, [4], [[2, 1]])),
    "batch_to_space": ("BATCH_TO_SPACE_ND", (SHAPE,),
                       lambda x: tf.batch_to_space(tf.space_to_batch_nd(x, [2, 3], PADS), [3, 2], [[2, 0], [1, 2]]),
                       lambda x: np_batch_to_space(np_space_to_batch(x, [2, 3], PADS), [3, 2], [[2, 0], [1, 2]])),
}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"space_to_batch": "SpaceToBatch", "batch_to_space": "BatchToSpace"}
#: The output_shape input of TRANSPOSE_CONV holds the batch (1): the interpreter runs at batch 1 only.
BATCH_1 = {"transpose_conv_valid_short_kernel", "transpose_conv_same_output_padding"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    data = tflite_of(CASES[name], function_to_tflite)
    check_case(CASES[name], data, tmp_path, RELOAD.get(name), (1,) if name in BATCH_1 else (1, 3))


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


def test_space_batch_lint(function_to_tflite: Any) -> None:
    data = tflite_of(CASES["batch_to_space"], function_to_tflite)
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
