"""heads.replace_classifier / freeze_backbone / classifier on the real SSD detectors and the zoo."""

from __future__ import annotations

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras import heads
from tflite2keras.errors import InvalidArgumentError, MappingError

DETECTORS = ("palm_detection_full", "face_detection_short_range", "pose_detection",
             "face_detection_full_range_sparse")


@pytest.fixture(scope="module")
def converted(corpus_model):
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = t2k.convert(corpus_model(name))
        return cache[name]

    return get


def _image(model, batch: int = 2) -> np.ndarray:
    return np.random.default_rng(7).uniform(-1, 1, (batch, *model.input_shape[1:])).astype(np.float32)


@pytest.mark.parametrize("name", DETECTORS)
def test_regressors_bit_identical_and_class0_kept(converted, name):
    base = converted(name)
    model = heads.replace_classifier(base, num_classes=7, keep_class0=True)
    (anchors, values), classes = base.output_shape[0][1:], base.output_shape[1][1:]
    assert model.output_shape == [(None, anchors, values), (None, anchors, 7)]
    x = _image(base)
    before, after = base.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.array_equal(before[0], after[0])  # regressors: same layers, same values
    assert np.array_equal(before[1][..., 0], after[1][..., 0])
    assert classes == (anchors, 1)


@pytest.mark.parametrize("name", DETECTORS)
def test_new_classes_start_at_the_prior(converted, name):
    model = heads.replace_classifier(converted(name), num_classes=3)
    head = heads.find_head(model, 1)
    for conv in head.classifiers:
        np.testing.assert_array_equal(conv.bias.numpy(), np.float32(np.log(0.01 / 0.99)))
        assert float(np.std(conv.kernel.numpy())) == pytest.approx(0.01, rel=0.2)
    scores = 1 / (1 + np.exp(-model.predict(_image(model), verbose=0)[1]))
    assert 0.001 < float(np.median(scores)) < 0.05


def test_depthwise_head_layers_are_widened_per_class(converted):
    """face_detection_full_range's head: Conv2D -> pad -> depthwise -> depth-to-space -> reshape."""
    base = converted("face_detection_full_range_sparse")
    model = heads.replace_classifier(base, num_classes=4, keep_class0=True)
    kinds = sorted(type(layer).__name__ for layer in heads.find_head(model, 1).layers)
    assert "DepthwiseConv2D" in kinds and "DepthToSpace" in kinds
    old = next(layer for layer in heads.find_head(base, 1).layers if type(layer).__name__ == "DepthwiseConv2D")
    new = model.get_layer(old.name)
    np.testing.assert_array_equal(new.kernel.numpy()[:, :, 4:8, :], np.repeat(old.kernel.numpy()[:, :, 1:2], 4, 2))


def test_zoo_and_repeated_replacement():
    zoo = t2k.zoo.blazepalm("lite")
    seven = heads.replace_classifier(zoo, 7)
    nineteen = heads.replace_classifier(seven, 19, outputs="classificators")
    assert nineteen.output_shape[1] == (None, 2016, 19)
    assert heads.classification_outputs(t2k.zoo.blazeface()) == [1]


def test_saved_replacement_reloads_in_safe_mode(converted, tmp_path):
    model = heads.replace_classifier(converted("face_detection_short_range"), 5)
    model.save(tmp_path / "m.keras")
    again = t2k.load(tmp_path / "m.keras")
    x = _image(model, 1)
    for a, b in zip(model.predict(x, verbose=0), again.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_freeze_backbone_leaves_only_the_heads(converted):
    model = heads.replace_classifier(converted("palm_detection_full"), 7)
    report = heads.freeze_backbone(model)
    names = {name for name, _, _ in report.trainable}
    assert names == {layer.name for layer in heads.find_head(model, 1).classifiers}
    assert {v.path.split("/")[0] for v in model.trainable_variables} == names
    assert "2 layers trainable" in str(report) and "<table>" in report._repr_html_()
    both = heads.freeze_backbone(model, train=("classifier", "regressor"))
    assert len(both.trainable) == 4
    with pytest.raises(InvalidArgumentError, match="'backbone'"):
        heads.freeze_backbone(model, train=("backbone",))


def test_bad_input():
    import keras

    with pytest.raises(InvalidArgumentError, match="received 0"):
        heads.replace_classifier(t2k.zoo.blazepalm("lite"), 0)
    with pytest.raises(InvalidArgumentError, match="init"):
        heads.replace_classifier(t2k.zoo.blazepalm("lite"), 2, init="random")
    x = keras.Input((8, 8, 3))
    flat = keras.Model(x, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(MappingError, match="classification output"):
        heads.replace_classifier(flat, 3)
    assert heads.replace_classifier(flat, 3, outputs=0).output_shape == (None, 3)  # a plain Dense classifier
    pooled = keras.Model(x, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1)(x)))
    with pytest.raises(MappingError, match="GlobalAveragePooling2D"):
        heads.replace_classifier(pooled, 3, outputs=0)
    with pytest.raises(MappingError, match="names no output"):
        heads.replace_classifier(t2k.zoo.blazepalm("lite"), 3, outputs="scores")


def test_classifier_wrapper_normalizes_reloads_and_exports(tmp_path):
    import keras

    rng = np.random.default_rng(3)
    base = keras.Sequential([keras.Input((9, 7, 3)), keras.layers.Conv2D(5, 3), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(11)], name="tiny")
    mean, std = (120.0, 110.0, 100.0), (60.0, 55.0, 50.0)
    wrapped = heads.classifier(base, mean=mean, std=std)
    pixels = rng.integers(0, 256, (3, 9, 7, 3)).astype(np.float32)
    want = keras.ops.softmax(base((pixels - np.float32(mean)) / np.float32(std)))
    np.testing.assert_allclose(wrapped(pixels), want, atol=1e-6)
    wrapped.save(tmp_path / "c.keras")
    np.testing.assert_array_equal(t2k.load(tmp_path / "c.keras")(pixels), wrapped(pixels))
    report = t2k.export_tflite(wrapped, tmp_path / "c.tflite")
    assert report.ok and "SOFTMAX" in report.ops
    with pytest.raises(InvalidArgumentError, match="non-zero"):
        heads.classifier(base, mean=0.0, std=(1.0, 0.0, 1.0))
