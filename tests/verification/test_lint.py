"""lint(): architecture mismatches found from configs alone."""

from __future__ import annotations

from typing import Any

import keras
import pytest

import tflite2keras as t2k


def _with_first(model: keras.Model, class_name: str, **changes: Any) -> tuple[keras.Model, str]:
    config = model.get_config()
    layer = next(la for la in config["layers"] if la["class_name"] == class_name)
    layer["config"].update(changes)
    return keras.Model.from_config(config), layer["config"]["name"]


@pytest.mark.parametrize("variant,source", [("lite", "palm_detection_lite"), ("full", "palm_detection_full")])
def test_zoo_palm_is_clean(variant: str, source: str, corpus_model: Any) -> None:
    findings = t2k.lint(t2k.zoo.blazepalm(variant), corpus_model(source))
    assert not findings, str(findings)
    assert str(findings) == "lint: no mismatches"


def test_zoo_face_is_clean(corpus_model: Any) -> None:
    assert not t2k.lint(t2k.zoo.blazeface(), corpus_model("face_detection_short_range"))


def test_five_by_five_pool_is_flagged(corpus_model: Any) -> None:
    model, name = _with_first(t2k.zoo.blazepalm("lite"), "MaxPooling2D", pool_size=(5, 5))
    findings = t2k.lint(model, corpus_model("palm_detection_lite"))
    assert [(f.layer, f.field, f.keras, f.tflite, f.opcode) for f in findings] == [
        (name, "pool_size", (5, 5), (2, 2), "MAX_POOL_2D")
    ]
    assert name in str(findings) and "<table" in findings._repr_html_()


@pytest.mark.parametrize("class_name,changes,field", [
    ("Conv2D", {"kernel_size": (3, 3)}, "kernel_size"),
    ("DepthwiseConv2D", {"dilation_rate": (2, 2)}, "dilation_rate"),
    ("Conv2D", {"activation": "relu"}, "activation"),
    ("PReLU", {"shared_axes": None}, "shared_axes"),
], ids=["kernel_size", "dilation", "activation", "prelu_axes"])
def test_each_field_is_checked(class_name: str, changes: dict[str, Any], field: str, corpus_model: Any) -> None:
    model, name = _with_first(t2k.zoo.blazepalm("lite"), class_name, **changes)
    findings = t2k.lint(model, corpus_model("palm_detection_lite"))
    assert any(f.layer == name and f.field == field for f in findings), str(findings)


def test_use_bias_false_with_nonzero_tflite_bias(corpus_model: Any) -> None:
    model, name = _with_first(t2k.zoo.blazeface(), "Conv2D", use_bias=False)
    findings = t2k.lint(model, corpus_model("face_detection_short_range"))
    assert any(f.layer == name and f.field == "use_bias" for f in findings), str(findings)


def _one_conv(**config: Any) -> keras.Model:
    inputs = keras.Input((11, 13, 3))
    layer = keras.layers.DepthwiseConv2D((3, 5), name="dw", **config)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("changes,field", [
    ({"strides": (2, 2)}, "strides"),
    ({"padding": "valid"}, "padding"),
    ({"depth_multiplier": 2}, "depth_multiplier"),
], ids=["strides", "padding", "depth_multiplier"])
def test_synthetic_conv_fields(changes: dict[str, Any], field: str, to_tflite: Any) -> None:
    data = to_tflite(_one_conv(padding="same"))
    assert not t2k.lint(_one_conv(padding="same"), data)
    findings = t2k.lint(_one_conv(**{"padding": "same", **changes}), data, overrides={"dw": "#0"})
    assert [f.field for f in findings] == [field], str(findings)


def test_explicit_pad_op_equals_same_padding(to_tflite: Any) -> None:
    inputs = keras.Input((11, 13, 3))
    x = keras.layers.ZeroPadding2D(((1, 1), (2, 2)))(inputs)
    padded = keras.Model(inputs, keras.layers.Conv2D(4, (3, 5), name="conv")(x))
    data = to_tflite(padded)
    inputs = keras.Input((11, 13, 3))
    same = keras.Model(inputs, keras.layers.Conv2D(4, (3, 5), padding="same", name="conv")(inputs))
    assert not t2k.lint(same, data), str(t2k.lint(same, data))
    inputs = keras.Input((11, 13, 3))
    valid = keras.Model(inputs, keras.layers.Conv2D(4, (3, 5), name="conv")(inputs))
    assert [f.field for f in t2k.lint(valid, data)] == ["padding"]


def _transposed(**changes: Any) -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((7, 9, 3), batch_size=1)
    config = dict(filters=4, kernel_size=3, strides=2, padding="same", bias_initializer="random_uniform", name="up")
    return keras.Model(inputs, keras.layers.Conv2DTranspose(**{**config, **changes})(inputs))


@pytest.mark.parametrize("changes,fields", [
    ({"strides": 1, "padding": "valid"}, ["strides", "padding", "output size"]),
    ({"padding": "valid"}, ["padding", "output size"]),
    ({"kernel_size": (3, 5)}, ["kernel_size", "padding"]),
    ({"use_bias": False}, ["use_bias"]),
], ids=["stride1_valid", "valid", "kernel_size", "use_bias"])
def test_transpose_conv_fields(changes: dict[str, Any], fields: list[str], to_tflite: Any) -> None:
    data = to_tflite(_transposed())
    assert [op.opcode for op in t2k.read(data).operators] == ["TRANSPOSE_CONV"]
    assert not t2k.lint(_transposed(), data)
    findings = t2k.lint(_transposed(**changes), data, overrides={"up": "#0"})
    assert [f.field for f in findings] == fields, str(findings)


@pytest.mark.parametrize("changes,fields", [
    # kernel 2, stride 2: SAME crops nothing, as VALID does, so the padding itself agrees
    ({"strides": (1, 1), "padding": "valid", "output_padding": None}, ["strides", "output size"]),
    ({"kernel_size": (3, 3)}, ["kernel_size", "padding"]),
    ({"use_bias": False}, ["use_bias"]),
], ids=["stride1_valid", "kernel_size", "use_bias"])
def test_mediapipe_transpose_conv_fields(changes: dict[str, Any], fields: list[str], corpus_model: Any) -> None:
    path = corpus_model("selfie_segmentation")
    model = t2k.convert(path)
    assert not t2k.lint(model, path)
    changed, name = _with_first(model, "Conv2DTranspose", **changes)
    findings = t2k.lint(changed, path)
    assert [(f.layer, f.opcode) for f in findings] == [(name, "Convolution2DTransposeBias")] * len(fields)
    assert [f.field for f in findings] == fields, str(findings)
