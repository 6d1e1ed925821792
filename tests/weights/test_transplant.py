"""transplant(): real corpus models into the zoo, synthetic models with BatchNorm, strictness, atomicity."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import MappingError, ShapeMismatchError, Tflite2KerasError

ZOO = {
    "palm_lite": (lambda **kw: t2k.zoo.blazepalm("lite", **kw), "palm_detection_lite"),
    "palm_full": (lambda **kw: t2k.zoo.blazepalm("full", **kw), "palm_detection_full"),
    "face_short": (lambda **kw: t2k.zoo.blazeface("short_range", **kw), "face_detection_short_range"),
}


def _weights(model: Any) -> list[bytes]:
    return [np.asarray(v.numpy()).tobytes() for v in model.weights]


@pytest.mark.parametrize("key", sorted(ZOO))
def test_zoo_transplants_with_shipped_table_and_verifies(key: str, corpus_model: Any) -> None:
    build, name = ZOO[key]
    path = corpus_model(name)
    model = build()
    report = t2k.transplant(model, path)
    assert report.table is not None and report.table.startswith("blaze")
    assert all(rule.startswith("table ") for rule in report.rules), report.rules
    assert len(report.assignments) == sum(len(la.weights) for la in model.layers)
    result = t2k.verify(model, path)
    assert result.ok, str(result)


@pytest.mark.parametrize("key", sorted(ZOO))
def test_default_keras_names_transplant_by_name_alone(key: str, corpus_model: Any) -> None:
    build, name = ZOO[key]
    model = build(names="keras")
    report = t2k.transplant(model, corpus_model(name))
    assert set(report.rules) == {"name"}
    assert t2k.verify(model, corpus_model(name), samples=2).ok


def test_structural_matching_without_table(corpus_model: Any) -> None:
    path = corpus_model("palm_detection_lite")
    model = t2k.zoo.blazepalm("lite")
    empty = t2k.MappingTable("empty")
    report = t2k.transplant(model, path, table=empty)
    assert set(report.rules) == {"structure"}
    assert t2k.verify(model, path, samples=1).ok


def test_full_into_lite_raises_and_leaves_weights_untouched(corpus_model: Any) -> None:
    model = t2k.zoo.blazepalm("lite")
    before = _weights(model)
    with pytest.raises(MappingError) as caught:
        t2k.transplant(model, corpus_model("palm_detection_full"))
    message = str(caught.value)
    assert "0 of 79 Keras weight layers and 15 of 94 TFLite weight ops could not be paired" in message, message
    assert "first TFLite weight op with no Keras layer: op 31 DEPTHWISE_CONV_2D" in message, message
    assert _weights(model) == before


def test_shape_mismatch_names_both_sides(corpus_model: Any) -> None:
    model = t2k.zoo.blazepalm("lite", names="keras")
    before = _weights(model)
    with pytest.raises(ShapeMismatchError) as caught:
        t2k.transplant(model, corpus_model("palm_detection_lite"), overrides={"conv2d_1": "conv2d_4"})
    message = str(caught.value)
    for needle in ("'conv2d_1'", "'kernel'", "conv2d_4", "CONV_2D", "expected", "received"):
        assert needle in message, (needle, message)
    assert _weights(model) == before


def test_wider_classifier_heads_transplant_with_skip(corpus_model: Any) -> None:
    path = corpus_model("palm_detection_lite")
    model = t2k.zoo.blazepalm("lite", num_classes=7)
    heads = [la.name for la in model.layers if "classifier" in la.name and la.weights]
    assert heads
    with pytest.raises(Tflite2KerasError):
        t2k.transplant(model, path)
    report = t2k.transplant(model, path, skip=heads, strict=False)
    assert report.skipped == sorted(heads)
    assert report.unused_tensors and not report.unmatched_layers
    assert model.outputs[1].shape[-1] == 7 or model.outputs[0].shape[-1] == 7


def test_dry_run_writes_nothing(corpus_model: Any) -> None:
    model = t2k.zoo.blazeface()
    before = _weights(model)
    report = t2k.transplant(model, corpus_model("face_detection_short_range"), dry_run=True)
    assert report.dry_run and report.assignments
    assert _weights(model) == before
    assert "would write" in str(report) and report._repr_html_().startswith("<table")


def test_override_to_unknown_target_is_a_mapping_error(corpus_model: Any) -> None:
    model = t2k.zoo.blazeface()
    with pytest.raises(MappingError, match="no_such_layer"):
        t2k.transplant(model, corpus_model("face_detection_short_range"),
                       overrides={model.layers[1].name: "no_such_layer"})


def test_unknown_skip_name_is_rejected(corpus_model: Any) -> None:
    with pytest.raises(MappingError, match="not_a_layer"):
        t2k.transplant(t2k.zoo.blazeface(), corpus_model("face_detection_short_range"), skip=["not_a_layer"])


def _bn_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((11, 13, 3))
    x = keras.layers.Conv2D(7, (3, 5), padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.DepthwiseConv2D((5, 3), strides=2, depth_multiplier=2, name="dw")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inputs, keras.layers.Dense(9, name="fc")(x))


def test_batchnorm_becomes_exact_identity_plus_folded_bias(to_tflite: Any) -> None:
    source = _bn_model(1)
    rng = np.random.default_rng(0)
    for layer in source.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(size=c), rng.normal(size=c),
                               rng.uniform(0.5, 2.0, c)])
        elif isinstance(layer, keras.layers.PReLU):
            layer.set_weights([rng.uniform(0, 0.5, layer.alpha.shape)])
    data = to_tflite(source)
    target = _bn_model(2)
    report = t2k.transplant(target, data)
    assert report.rules.get("batchnorm identity") == 8
    bn = target.get_layer("bn")
    probe = rng.normal(size=(2, 5, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(bn(probe, training=False)), probe + bn.beta.numpy())
    assert not t2k.lint(target, data)
    result = t2k.verify(target, data, per_layer=True)
    assert result.ok, str(result)
    x = rng.uniform(-1, 1, (3, 11, 13, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(target(x)), np.asarray(source(x)), atol=1e-5)


def test_fp16_synthetic_model_transplants_and_verifies(to_tflite: Any) -> None:
    data = to_tflite(_bn_model(3), "fp16")
    target = _bn_model(4)
    t2k.transplant(target, data)
    assert t2k.verify(target, data, samples=2).ok


def test_int8_per_channel_weights_transplant_within_half_a_step(to_tflite: Any) -> None:
    source = _bn_model(5)
    data = to_tflite(source, "int8")
    target = _bn_model(6)
    t2k.transplant(target, data)
    bn = source.get_layer("bn")  # default statistics: the folded kernel is kernel / sqrt(1 + eps)
    folded = source.get_layer("conv").kernel.numpy() / np.sqrt(1.0 + bn.epsilon)
    half_step = np.abs(folded).max(axis=(0, 1, 2)) / 127 / 2
    assert np.all(np.abs(target.get_layer("conv").kernel.numpy() - folded) <= half_step * 1.001)
