"""verify cannot be fooled: outputs paired and checked, library errors only, inputs the model accepts,
no per-layer false alarm on dilated integer convolutions, constant references flagged (issue 15 §1)."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError, VerificationError
from tflite2keras.testdata import tiny
from tflite2keras.verification.inputs import resolve


@pytest.fixture(scope="module")
def palm(corpus_model: Any) -> tuple[keras.Model, Any]:
    path = corpus_model("palm_detection_lite")
    return t2k.convert(path), path


# --- outputs: paired by name (else position), same count, same shape -------------------------------------------

def test_a_missing_output_is_not_passed(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    with pytest.raises(VerificationError) as caught:
        t2k.verify(keras.Model(model.inputs, model.outputs[0]), path, samples=1)
    message = str(caught.value)
    for needle in ("1 output(s)", "has 2", "'Identity_1' (1, 2016, 1)", "(None, 2016, 18)"):
        assert needle in message, (needle, message)


def test_an_extra_output_is_not_ignored(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    extra = keras.Model(model.inputs, [*model.outputs, model.layers[5].output])
    with pytest.raises(VerificationError, match="3 output"):
        t2k.verify(extra, path, samples=1)


def test_outputs_in_another_order_pair_by_name(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    report = t2k.verify(keras.Model(model.inputs, model.outputs[::-1]), path, samples=1)
    assert report.ok and [c.tensor for c in report.outputs] == ["Identity", "Identity_1"]


def test_an_output_of_another_shape_is_never_reshaped(palm: tuple[keras.Model, Any]) -> None:
    model, path = palm
    flipped = keras.layers.Reshape((18, 2016), name="flipped")(model.outputs[0])
    with pytest.raises(VerificationError) as caught:
        t2k.verify(keras.Model(model.inputs, [flipped, model.outputs[1]]), path, samples=1)
    message = str(caught.value)
    for needle in ("'flipped'", "(None, 18, 2016)", "'Identity'", "(1, 2016, 18)"):
        assert needle in message, (needle, message)


# --- no raw errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,needle", [
    ({"samples": 0}, "nothing to compare"),
    ({"samples": -1}, "samples must be"),
    ({"samples": 1.5}, "samples must be"),
    ({"batch": 0}, "batch must be"),
], ids=["zero", "negative", "float", "batch"])
def test_bad_counts_are_argument_errors(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        t2k.verify(t2k.convert(tiny.tflite()), tiny.tflite(), **kwargs)


def test_a_bare_array_is_one_sample() -> None:
    image = np.random.default_rng(1).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    report = t2k.verify(t2k.convert(tiny.tflite()), tiny.tflite(), inputs=image, samples=0)
    assert report.ok and report.samples == 1


def test_a_model_with_another_input_size_is_named() -> None:
    x = keras.Input((16, 16, 3), name="big")
    other = keras.Model(x, keras.layers.Conv2D(2, 3, strides=2, padding="same")(x))
    with pytest.raises(InvalidArgumentError) as caught:
        t2k.verify(other, tiny.tflite(), samples=1)
    message = str(caught.value)
    for needle in ("'big'", "(None, 16, 16, 3)", "(1, 8, 8, 3)"):
        assert needle in message, (needle, message)


# --- integer inputs drawn from ranges the model accepts ----------------------------------------------------------

@pytest.fixture(scope="module")
def embedding(to_tflite: Any) -> bytes:
    keras.utils.set_random_seed(3)
    x = keras.Input((5,), dtype="int32", name="tokens")
    return to_tflite(keras.Model(x, keras.layers.Dense(3)(keras.layers.Embedding(23, 4)(x))))


def test_an_embedding_model_converts_and_verifies(embedding: bytes) -> None:
    report = t2k.verify(t2k.convert(embedding), embedding, samples=3, per_layer=True)
    assert report.ok and report.layers
    assert report.outputs[0].max_ref > 0 and not report.outputs[0].degenerate
    assert resolve(t2k.read(embedding)) == [(0.0, 23.0)]


def test_input_ranges_override_the_default(embedding: bytes) -> None:
    model = t2k.convert(embedding)
    assert t2k.verify(model, embedding, samples=2, input_ranges={"tokens": (0, 5)}).ok
    assert resolve(t2k.read(embedding), [(2, 4)]) == [(2.0, 4.0)]
    with pytest.raises(VerificationError, match="interpreter .*fails on sample 0"):  # beyond the table
        t2k.verify(model, embedding, samples=1, input_ranges=(0, 100))
    with pytest.raises(InvalidArgumentError, match="'nope'"):
        t2k.verify(model, embedding, samples=1, input_ranges={"nope": (0, 5)})
    with pytest.raises(InvalidArgumentError, match="lo < hi"):
        t2k.verify(model, embedding, samples=1, input_ranges=[(5, 0)])


def test_an_interpreter_failure_is_a_verification_error(embedding: bytes) -> None:
    out_of_table = np.full((1, 5), 50, np.int32)
    with pytest.raises(VerificationError, match="GATHER"):
        t2k.verify(t2k.convert(embedding), embedding, inputs=[out_of_table], samples=0)


def test_a_bare_array_for_several_inputs_is_refused(to_tflite: Any) -> None:
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    data = to_tflite(keras.Model([a, b], keras.layers.Add()([a, b])))
    model = t2k.convert(data)
    with pytest.raises(InvalidArgumentError, match="single array of shape \\(1, 3\\).* 2 inputs"):
        t2k.verify(model, data, inputs=np.zeros((1, 3), np.float32))
    report = t2k.verify(model, data, samples=2, input_ranges={"a": (10, 20), "b": (-20, -10)})
    assert report.ok and report.outputs[0].max_ref <= 10


def test_other_integer_inputs_span_their_dtype(to_tflite: Any) -> None:
    from tflite2keras.verification.reference import random_inputs

    x = keras.Input((64,), dtype="int32", name="counts")
    data = to_tflite(keras.Model(x, keras.layers.Dense(2)(keras.ops.cast(x, "float32") * 1e-9)))
    (drawn,), = random_inputs(t2k.read(data), 1)
    assert drawn.dtype == np.int32 and drawn.min() < -2**24 and drawn.max() > 2**24   # not [0, 128)
    assert t2k.verify(t2k.convert(data), data, samples=2).ok


# --- per layer: a dilated integer Conv1D ------------------------------------------------------------------------

def test_dilated_int8_conv1d_passes_per_layer(to_tflite: Any) -> None:
    """SPACE_TO_BATCH_ND puts block offset b of sample n at batch b * N + n: samples concatenated
    along the batch were mixed, and its layer (and BATCH_TO_SPACE_ND's) failed by ~200 steps."""
    keras.utils.set_random_seed(0)
    x = keras.Input((32, 4))
    data = to_tflite(keras.Model(x, keras.layers.Conv1D(6, 3, dilation_rate=2, padding="same")(x)), "int8")
    opcodes = [op.opcode for op in t2k.read(data).operators]
    assert "SPACE_TO_BATCH_ND" in opcodes and "BATCH_TO_SPACE_ND" in opcodes
    model = t2k.convert(data)
    report = t2k.verify(model, data, samples=3, per_layer=True)
    assert report.ok, str(report)
    assert max(c.steps for c in report.layers) <= 1
    assert t2k.verify(model, data, samples=2, input_ranges=(0.0, 0.5)).ok  # real values, within the grid
    with pytest.raises(InvalidArgumentError, match="represents"):
        t2k.verify(model, data, samples=1, input_ranges=(50.0, 60.0))


# --- degenerate references -----------------------------------------------------------------------------------

def test_a_constant_reference_is_flagged(to_tflite: Any) -> None:
    x = keras.Input((4,))
    data = to_tflite(keras.Model(x, keras.layers.ReLU()(keras.layers.Add()([x, -5 * keras.ops.ones_like(x)]))))
    with pytest.warns(UserWarning, match="constant reference"):
        report = t2k.verify(t2k.convert(data), data, samples=2)
    assert report.ok and report.outputs[0].degenerate
    assert "constant reference: proves little" in str(report)
    assert "constant reference: proves little" in report._repr_html_()


def test_a_varying_reference_is_not_flagged() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = t2k.verify(t2k.convert(tiny.tflite()), tiny.tflite(), samples=2)
    assert not any(c.degenerate for c in report.outputs) and "constant reference" not in str(report)
