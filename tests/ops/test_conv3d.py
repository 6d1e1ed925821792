"""ops/conv3d.py: CONV_3D and CONV_3D_TRANSPOSE one-op models against the interpreter and numpy
(dilation and fused bias edited into the files); what they refuse, lint checks and transplant."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, inputs
from test_conv import np_conv_transpose

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run
from tflite2keras.writer.flatjson import from_json, to_json

RNG = np.random.default_rng(7)
W3 = RNG.uniform(-1, 1, (3, 5, 7)).astype(np.float32)  # the biases are drawn from it
F3 = RNG.uniform(-1, 1, (3, 1, 2, 3, 4)).astype(np.float32)   # DHWIO
F3T = RNG.uniform(-1, 1, (3, 1, 2, 4, 3)).astype(np.float32)  # DHWOI
IMAGE3D = (7, 9, 11, 3)


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


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
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
}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"conv3d_bias_relu6": "Conv3D", "conv3d_transpose_bias_relu": "Conv3DTranspose"}
#: The output_shape input of CONV_3D_TRANSPOSE holds the batch (1): the interpreter runs at batch 1 only.
BATCH_1 = {"conv3d_transpose_same", "conv3d_transpose_valid", "conv3d_transpose_bias_relu"}


def edit(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The model with ``change`` applied to its JSON form (see :mod:`tflite2keras.writer.flatjson`)."""
    doc = json.loads(to_json(data))
    change(doc)
    return from_json(json.dumps(doc))


def ops_of(doc: dict[str, Any], opcode: str) -> list[dict[str, Any]]:
    """The operators of ``doc``'s first subgraph whose opcode is ``opcode``."""
    return [op for op in doc["subgraphs"][0]["operators"] if op.get("opcode") == opcode]


def _dilate(dilation: tuple[int, int, int]) -> Callable[[dict[str, Any]], None]:
    """Set the CONV_3D's dilation (the converter never writes one) and its output tensor's shape."""
    def change(doc: dict[str, Any]) -> None:
        op = ops_of(doc, "CONV_3D")[0]
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
        conv, add = ops_of(doc, opcode)[0], ops_of(doc, "ADD")[0]
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


#: Cases whose file is edited after conversion (options the TF converter does not write).
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
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


def test_conv3d_strides_with_dilation_is_unsupported(function_to_tflite: Any) -> None:
    data = edit(function_to_tflite(lambda x: tf.nn.conv3d(x, F3, [1, 2, 1, 1, 1], "SAME"), IMAGE3D), _dilate((1, 2, 1)))
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(CONV_3D\).*strides \(2, 1, 1\) and dilation \(1, 2, 1\)"):
        t2k.convert(data)


def test_conv3d_transpose_dilation_is_unsupported(function_to_tflite: Any) -> None:
    def dilate(doc: dict[str, Any]) -> None:
        ops_of(doc, "CONV_3D_TRANSPOSE")[0]["builtin_options"]["dilation_h_factor"] = 2

    data = edit(case_data("conv3d_transpose_same", function_to_tflite), dilate)
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(CONV_3D_TRANSPOSE\) with dilation \(1, 2, 1\)"):
        t2k.convert(data)


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
