"""ops/pool.py: L2_POOL_2D and LOCAL_RESPONSE_NORMALIZATION against the interpreter and numpy; MAX_POOL_2D
and AVERAGE_POOL_2D from Keras layers; the lint checks of L2_POOL_2D and LOCAL_RESPONSE_NORMALIZATION.

The TF converter never writes ``L2_POOL_2D`` (it keeps ``sqrt(avg_pool(x * x))`` as three ops), so
each L2 case converts an ``AVERAGE_POOL_2D`` and renames the op in the file: both read the same
``Pool2DOptions``. The case's numpy reference is the L2 pool.
"""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, model_case, tflite_of

import tflite2keras as t2k
from tflite2keras.writer.flatjson import from_json, to_json

SHAPE = (7, 9, 5)


def np_l2_pool(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int], padding: str) -> np.ndarray:
    """sqrt(mean of squares) over the window's cells inside the image (TFLite's count under SAME)."""
    size = x.shape[1:3]
    if padding == "SAME":
        out = [-(-n // s) for n, s in zip(size, strides)]
        before = [max((o - 1) * s + k - n, 0) // 2 for o, s, k, n in zip(out, strides, window, size)]
    else:
        out, before = [(n - k) // s + 1 for n, k, s in zip(size, window, strides)], [0, 0]
    y = np.zeros((x.shape[0], *out, x.shape[3]), np.float64)
    for i, j in np.ndindex(*out):
        top, left = i * strides[0] - before[0], j * strides[1] - before[1]
        cells = x[:, max(top, 0):top + window[0], max(left, 0):left + window[1]].astype(np.float64)
        y[:, i, j] = np.sqrt((cells ** 2).mean(axis=(1, 2)))
    return y.astype(np.float32)


def np_lrn(x: np.ndarray, radius: int, bias: float, alpha: float, beta: float) -> np.ndarray:
    squares = x.astype(np.float64) ** 2
    channels = x.shape[-1]
    total = np.stack([squares[..., max(0, c - radius):c + radius + 1].sum(-1) for c in range(channels)], -1)
    return (x / (bias + alpha * total) ** beta).astype(np.float32)


#: id -> (opcode under test, input shapes, TF function (an L2_POOL_2D case's AVERAGE_POOL_2D becomes L2_POOL_2D),
#: numpy reference), or a Keras-model case (model_case).
CASES: dict[str, Case] = {
    "l2_pool_valid": ("L2_POOL_2D", (SHAPE,), lambda x: tf.nn.avg_pool2d(x, (3, 2), (2, 1), "VALID"),
                      lambda x: np_l2_pool(x, (3, 2), (2, 1), "VALID")),
    "l2_pool_same": ("L2_POOL_2D", (SHAPE,), lambda x: tf.nn.avg_pool2d(x, (2, 3), (2, 2), "SAME"),
                     lambda x: np_l2_pool(x, (2, 3), (2, 2), "SAME")),
    "l2_pool_same_relu_n1_to_1": ("L2_POOL_2D", (SHAPE,), lambda x: tf.nn.avg_pool2d(x * 3, 3, 1, "SAME"),
                                  lambda x: np.minimum(np_l2_pool(x * 3, (3, 3), (1, 1), "SAME"), 1)),
    "lrn": ("LOCAL_RESPONSE_NORMALIZATION", (SHAPE,),
            lambda x: tf.nn.local_response_normalization(x, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75),
            lambda x: np_lrn(x, 2, 1.5, 0.3, 0.75)),
    "lrn_wide_radius": ("LOCAL_RESPONSE_NORMALIZATION", ((3, 5, 9),),
                        lambda x: tf.nn.local_response_normalization(x * 2, depth_radius=5),
                        lambda x: np_lrn(x * 2, 5, 1.0, 1.0, 0.5)),
    "max_pool_layer": model_case("MAX_POOL_2D", lambda: keras.layers.MaxPooling2D((3, 2), strides=(2, 1))),
    "average_pool_layer": model_case("AVERAGE_POOL_2D", lambda: keras.layers.AveragePooling2D((2, 3), padding="same")),
}
#: Fused activations written into the renamed op.
ACTIVATIONS = {"l2_pool_same_relu_n1_to_1": "RELU_N1_TO_1"}
RELOAD = {"l2_pool_same": "L2Pooling2D", "lrn": "LocalResponseNormalization"}


def l2_pool_file(data: bytes, activation: str = "NONE") -> bytes:
    """``data`` with its AVERAGE_POOL_2D renamed L2_POOL_2D (and given the fused ``activation``)."""
    doc = json.loads(to_json(data))
    code = next(c for c in doc["operator_codes"] if c["builtin_code"] == "AVERAGE_POOL_2D")
    code["builtin_code"] = code["deprecated_builtin_code"] = "L2_POOL_2D"
    for op in doc["subgraphs"][0]["operators"]:
        if op.get("opcode") == "AVERAGE_POOL_2D":
            op["opcode"] = "L2_POOL_2D"
            op["builtin_options"]["fused_activation_function"] = activation
    return from_json(json.dumps(doc))


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    data = tflite_of(case, function_to_tflite)
    if case[0] != "L2_POOL_2D":
        check_case(case, data, tmp_path, RELOAD.get(name))
        return
    model = check_case(case, l2_pool_file(data, ACTIVATIONS.get(name, "NONE")), tmp_path, RELOAD.get(name))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "L2Pooling2D" in kinds and ("Activation" in kinds) == (name in ACTIVATIONS)


def test_l2_pool_lint(function_to_tflite: Any) -> None:
    import keras

    from tflite2keras.layers import L2Pooling2D

    data = l2_pool_file(function_to_tflite(CASES["l2_pool_same"][2], SHAPE))

    def model(**changes: Any) -> Any:
        inputs = keras.Input(SHAPE)
        config = {"pool_size": (2, 3), "strides": (2, 2), "padding": "same", **changes}
        return keras.Model(inputs, L2Pooling2D(**config, name="pool")(inputs))

    assert not t2k.lint(model(), data)
    findings = t2k.lint(model(pool_size=(3, 3), padding="valid"), data)
    assert {f.field for f in findings} == {"pool_size", "padding"}, str(findings)


def test_lrn_checks(function_to_tflite: Any) -> None:
    from tflite2keras.layers import LocalResponseNormalization
    from tflite2keras.ops.pool import check_lrn

    tfl = t2k.read(tflite_of(CASES["lrn"], function_to_tflite))
    (op,) = tfl.operators
    layer = LocalResponseNormalization(radius=2, bias=1.5, alpha=0.3, beta=0.75)
    assert list(check_lrn(op, layer, tfl)) == []
    assert [f for f, _, _ in check_lrn(op, LocalResponseNormalization(radius=3), tfl)] == \
        ["radius", "bias", "alpha", "beta"]
