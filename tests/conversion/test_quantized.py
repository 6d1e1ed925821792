"""Integer files (quantized.py, verify_quant.py, layers/quantize.py) against the integer interpreter."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.conversion.quantized import describe
from tflite2keras.testdata import quantized_suite
from tflite2keras.tflite.quant import affine
from tflite2keras.verification.quantized import FAKE_QUANT_STEPS, FAKE_QUANT_WITHIN
from tflite2keras.verification.reference import make_interpreter, run

MODES = ("float", "fake_quant")
INTEGER = [case for case in quantized_suite.CASES if case[1] != "dynamic"]


@pytest.fixture(scope="module")
def files() -> dict[tuple[str, str], bytes]:
    return {case: quantized_suite.tflite(*case) for case in quantized_suite.CASES}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", quantized_suite.CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_converts_and_verifies_per_output_and_per_layer(case: tuple[str, str], mode: str, files: Any) -> None:
    data = files[case]
    model = t2k.convert(data, quantized=mode)
    assert model.quantization.mode == mode
    report = t2k.verify(model, data, samples=2, per_layer=True)
    assert report.ok, str(report)
    assert report.layers and report.outputs
    if case[1] == "dynamic":  # float activations: compared as a float model, no steps
        assert all(c.step is None for c in report.outputs)
        assert any("dynamic-range file" in note for note in report.notes), report.notes
        return
    assert all(c.step is not None for c in report.outputs + report.layers), str(report)
    if mode == "fake_quant":  # each layer reproduces the integer kernel up to requantization rounding
        assert "FakeQuant" in {type(layer).__name__ for layer in model.layers}
        for check in report.layers:
            assert check.steps <= FAKE_QUANT_STEPS and check.within_step >= FAKE_QUANT_WITHIN, str(check)
        for check in report.outputs:  # end to end, within the interpreter's own kernel-to-kernel noise
            assert check.within_step >= FAKE_QUANT_WITHIN and check.max_error <= max(
                FAKE_QUANT_STEPS * check.step, 2 * check.noise), str(check)


@pytest.mark.parametrize("case", INTEGER, ids=lambda c: f"{c[0]}-{c[1]}")
def test_float_mode_has_no_fake_quant_and_float_edges(case: tuple[str, str], files: Any) -> None:
    model = t2k.convert(files[case])
    assert "FakeQuant" not in {type(layer).__name__ for layer in model.layers}
    assert all(x.dtype == "float32" for x in model.inputs + model.outputs)
    record = model.quantization
    assert record.integer and len(record.steps) == 1
    assert (record.inputs[0] is not None) == case[1].endswith("_io")


@pytest.mark.parametrize("case", [c for c in INTEGER if c[1].endswith("_io")], ids=lambda c: f"{c[0]}-{c[1]}")
def test_quantized_io_round_trips_the_integer_edges(case: tuple[str, str], files: Any) -> None:
    data = files[case]
    tfl = t2k.read(data)
    wrapped = t2k.quantized_io(t2k.convert(data, quantized="fake_quant"))
    dtype = case[1].split("_")[0]
    assert wrapped.input.dtype == dtype and wrapped.output.dtype == dtype
    rng = np.random.default_rng(4)
    edge = affine(tfl.tensor(tfl.inputs[0]))
    lo, hi = (edge.quantize(np.array(v, np.float32)) for v in (-1.0, 1.0))
    x = rng.integers(int(lo), int(hi) + 1, (1, *tfl.tensor(tfl.inputs[0]).shape[1:])).astype(dtype)
    want = run(make_interpreter(tfl), [x])[0][0].astype(np.int64)
    other = run(make_interpreter(tfl, "builtin"), [x])[0][0].astype(np.int64)  # the kernel-to-kernel noise
    got = np.asarray(wrapped(x))
    assert got.dtype == dtype
    assert np.max(np.abs(got.astype(np.int64) - want)) <= max(FAKE_QUANT_STEPS, 2 * np.max(np.abs(other - want)))
    # after a reload the record is gone: the file gives the edges again
    again = t2k.quantized_io(keras.Model(wrapped.layers[2].inputs, wrapped.layers[2].outputs), source=data)
    np.testing.assert_array_equal(np.asarray(again(x)), got)


def test_quantized_io_needs_a_record_or_the_file(files: Any) -> None:
    model = t2k.convert(files[("conv1d_audio", "int8_io")])
    plain = keras.Model(model.inputs, model.outputs)
    with pytest.raises(t2k.InvalidArgumentError, match="source="):
        t2k.quantized_io(plain)


def test_fake_quant_fine_tuning_step_and_integer_export(files: Any, tmp_path: Any) -> None:
    data = files[("conv1d_audio", "int8")]
    model = t2k.convert(data, quantized="fake_quant")
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (8, *model.input.shape[1:])).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 7, 8), 7)
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    changed = [not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_weights)]
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]
    model.save(tmp_path / "qat.keras")
    reloaded = t2k.load(tmp_path / "qat.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))
    target = tmp_path / "qat_int8.tflite"
    samples = quantized_suite.representative(tuple(model.input.shape))
    t2k.export_tflite(model, target, weights="int8", representative_data=samples)
    exported = t2k.read(target.read_bytes())
    integer = [t for op in exported.operators if op.opcode == "CONV_2D" for t in op.outputs]
    assert integer and all(exported.tensor(t).dtype == "INT8" for t in integer)


def test_fake_quant_layer_rounds_clamps_and_passes_gradients() -> None:
    from tflite2keras.layers import FakeQuant

    layer = FakeQuant(scale=[0.25], zero_point=[3], dtype_name="int8")
    x = np.array([[-40.0, -0.375, -0.1, 0.125, 0.2, 40.0]], np.float32)
    want = 0.25 * (np.clip(np.sign(x / 0.25) * np.floor(np.abs(x / 0.25) + 0.5) + 3, -128, 127) - 3)
    np.testing.assert_array_equal(np.asarray(layer(x)), want.astype(np.float32))
    import tensorflow as tf

    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        out = tf.reduce_sum(layer(tensor))
    np.testing.assert_array_equal(tape.gradient(out, tensor).numpy(), [[0, 1, 1, 1, 1, 0]])
    trainable = FakeQuant(scale=[0.25], zero_point=[0], trainable_scale=True)
    trainable(x)
    assert [w.name for w in trainable.trainable_weights] == ["log_scale"]
    with pytest.raises(t2k.InvalidArgumentError, match="zero points"):
        FakeQuant(scale=[0.25], zero_point=[300], dtype_name="int8")


def test_describe_reports_the_step_of_a_dequantized_output(files: Any) -> None:
    tfl = t2k.read(files[("mobilenet_v2", "int8")])
    record = describe(tfl)
    assert record.inputs == [None] and record.outputs == [None]
    final = tfl.producer(tfl.outputs[0])
    assert final.opcode == "DEQUANTIZE" and record.steps == [affine(tfl.tensor(final.inputs[0])).step]


def test_verify_warns_about_inputs_beyond_the_quantized_range(files: Any) -> None:
    data = files[("conv1d_audio", "int8_io")]
    model = t2k.convert(data)
    far = np.full((1, *model.input.shape[1:]), 50.0, np.float32)
    with pytest.warns(UserWarning, match="beyond what its int8 quantization represents"):
        t2k.verify(model, data, inputs=[far], samples=1)


def test_unknown_mode_is_refused(files: Any) -> None:
    with pytest.raises(t2k.InvalidArgumentError, match="quantized='int4'"):
        t2k.convert(files[("conv1d_audio", "int8")], quantized="int4")
