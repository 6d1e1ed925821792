"""verify(): outputs and per-layer errors against the interpreter, with its noise floor."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import VerificationError


@pytest.fixture(scope="module")
def palm(corpus_model: Any) -> tuple[keras.Model, Any]:
    path = corpus_model("palm_detection_lite")
    model = t2k.zoo.blazepalm("lite")
    t2k.transplant(model, path)
    return model, path


def test_report_has_error_reference_and_noise_per_output(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    report = t2k.verify(model, path, samples=2)
    assert report.ok and len(report.outputs) == 2
    for check in report.outputs:
        assert check.max_error <= check.bound
        assert check.bound == max(1e-4 + 1e-5 * check.max_ref, 2 * check.noise)
        assert check.max_ref > 1 and check.noise > 0
    text = str(report)
    assert "max|keras-ref|" in text and "noise" in text and "OK" in text
    assert report._repr_html_().startswith("<table")


def test_user_inputs_are_checked_too(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    image = np.random.default_rng(5).uniform(-1, 1, (1, 192, 192, 3)).astype(np.float32)
    report = t2k.verify(model, path, inputs=[image], samples=1)
    assert report.samples == 2 and report.ok


def test_a_wrong_weight_fails(palm: tuple[keras.Model, Any], corpus_model: Any) -> None:
    model, path = palm
    broken = keras.models.clone_model(model)
    broken.set_weights(model.get_weights())
    layer = next(la for la in broken.layers if isinstance(la, keras.layers.DepthwiseConv2D))
    layer.kernel.assign(layer.kernel.numpy() * 1.01)
    report = t2k.verify(broken, path, samples=1, per_layer=True)
    assert not report.ok
    assert report.first_divergence is not None and report.first_divergence.name == layer.name


def test_per_layer_names_the_five_by_five_pool(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    config = model.get_config()
    pool = next(la for la in config["layers"] if la["class_name"] == "MaxPooling2D")
    pool["config"]["pool_size"] = (5, 5)
    bad = keras.Model.from_config(config)
    bad.set_weights(model.get_weights())
    report = t2k.verify(bad, path, samples=1, per_layer=True)
    assert not report.ok
    assert report.first_divergence.name == pool["config"]["name"]
    assert [f.field for f in report.divergence_findings] == ["pool_size"]
    assert "first divergence: " + pool["config"]["name"] in str(report)


def test_per_layer_on_a_clean_model_passes_every_layer(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    report = t2k.verify(model, path, samples=1, per_layer=True)
    assert report.ok and report.first_divergence is None
    assert len(report.layers) > 100


def test_model_with_unregistered_custom_ops_is_a_verification_error(corpus_model: Any) -> None:
    inputs = keras.Input((192, 192, 3))
    dummy = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
    with pytest.raises(VerificationError, match="Landmarks2TransformMatrix"):
        t2k.verify(dummy, corpus_model("face_landmark_with_attention"), samples=1)


def test_progress_bar_for_many_samples(palm: tuple[keras.Model, Any], capsys: Any) -> None:
    model, path = palm
    assert t2k.verify(model, path, samples=6).samples == 6
    assert "verify" in capsys.readouterr().err


@pytest.mark.parametrize("sample,needles", [
    (np.zeros((1, 128, 128, 3), np.float32), ["input 0", "'input_1'", "(1, 192, 192, 3)", "(1, 128, 128, 3)"]),
    (np.zeros((2, 192, 192, 3), np.float32), ["input 0", "(1, 192, 192, 3)", "(2, 192, 192, 3)"]),
    ([np.zeros((1, 192, 192, 3), np.float32)] * 2, ["2 arrays", "1 input"]),
], ids=["size", "batch", "count"])
def test_inputs_of_the_wrong_shape_are_named(sample: Any, needles: list[str], palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    with pytest.raises(t2k.errors.InvalidArgumentError) as caught:
        t2k.verify(model, path, inputs=[np.zeros((1, 192, 192, 3), np.float32), sample], samples=1)
    message = str(caught.value)
    assert "inputs[1]" in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_per_layer_verify_leaves_the_model_as_it_was(tmp_path: Any) -> None:
    """Per-layer checks run the model's own nodes: no layer gains an inbound node, so the model saves."""
    from tflite2keras.testdata import suite

    data = suite.tflite("vit_block", "fp32")
    model = t2k.convert(data)
    nodes = {layer.name: len(layer._inbound_nodes) for layer in model.layers}
    assert t2k.verify(model, data, samples=1, per_layer=True).ok
    assert {layer.name: len(layer._inbound_nodes) for layer in model.layers} == nodes
    model.save(tmp_path / "vit.keras")
