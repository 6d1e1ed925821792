"""layers/fixedpoint.py, layers/intmath.py, layers/lstm_integer.py: TFLite's integer LSTM arithmetic.

The references here are numpy int64 transcriptions of the kernel's integer primitives
(``MultiplyByQuantizedMultiplier``, ``RoundingDivideByPOT``); tests/ops/test_sequence.py checks the
whole layer against the interpreter, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.layers import IntegerSequenceLSTM
from tflite2keras.layers.fixedpoint import logistic_table, tanh_table
from tflite2keras.layers.intmath import (
    digits,
    normalize,
    requantize,
    round_shift_product,
)


def _np_requantize(x: np.ndarray, multiplier: float) -> np.ndarray:
    """MultiplyByQuantizedMultiplier in int64: a left shift, the doubling high product rounded half
    up, a right shift rounded half away from zero."""
    mantissa, shift = np.frexp(np.float64(np.float32(multiplier)))
    q = round(mantissa * 2**31)
    x = np.asarray(x, np.int64) * 2 ** max(shift, 0)
    total = x * q + np.where(x * q >= 0, 2**30, 1 - 2**30)
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    right = max(-shift, 0)
    mask = (1 << right) - 1
    return (high >> right) + ((high & mask) > (mask >> 1) + (high < 0))


def _np_round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    mask = (1 << shift) - 1
    return (x >> shift) + ((x & mask) > (mask >> 1) + (x < 0))


def _tensor(x: np.ndarray) -> keras.KerasTensor:
    return keras.ops.convert_to_tensor(np.asarray(x, np.float32))


@pytest.mark.parametrize("multiplier", [2243 / 256, 8.746339797973633, 0.1461087018251419, 0.5, 0.0371,
                                        1.1874362115804615e-07 * 2**20])
def test_requantize_is_the_kernels_multiply_by_quantized_multiplier(multiplier: float) -> None:
    rng = np.random.default_rng(0)
    limit = int(min(2**24 - 1, 40000 / multiplier))
    acc = np.concatenate([rng.integers(-limit, limit + 1, 20000), rng.integers(-300, 300, 20000), [0, -1, 1]])
    got = np.asarray(requantize(digits(_tensor(acc), 4), multiplier))
    np.testing.assert_array_equal(got, _np_requantize(acc, multiplier))


def test_requantize_takes_a_product_of_two_int16_as_digits() -> None:
    rng = np.random.default_rng(1)
    o, t = rng.integers(0, 32768, 50000), rng.integers(-32768, 32768, 50000)
    (o0, o1), (t0, t1) = digits(_tensor(o), 2), digits(_tensor(t), 2)
    multiplier = float(np.float32(2.0**-30 / np.float32(1 / 127.5)))
    got = np.asarray(requantize(normalize([o0 * t0, o0 * t1 + o1 * t0, o1 * t1], 3), multiplier))
    np.testing.assert_array_equal(got, _np_requantize(o * t, multiplier))
    # trained_lstm_int8's hidden state once: o * t * M = -95.4999997, which float32 rounds to -96
    o, t, multiplier = 31592, -25372, float(np.float32(2.0**-30 / np.float32(0.007816792465746403)))
    (o0, o1), (t0, t1) = digits(_tensor([o]), 2), digits(_tensor([t]), 2)
    got = np.asarray(requantize(normalize([o0 * t0, o0 * t1 + o1 * t0, o1 * t1], 3), multiplier))
    assert got.tolist() == _np_requantize(np.array([o * t]), multiplier).tolist() == [-95]
    assert np.round(np.float32(o) * np.float32(t) * np.float32(multiplier)) == -96


@pytest.mark.parametrize("shift", [15, 19, 18])
def test_round_shift_product_is_rounding_divide_by_pot(shift: int) -> None:
    rng = np.random.default_rng(shift)
    a, b = rng.integers(-32768, 32768, 50000), rng.integers(-32768, 32768, 50000)
    a[:3], b[:3] = (-32768, 32767, 1 << (shift - 1)), (-32768, -32768, 1)
    got = np.asarray(round_shift_product(_tensor(a), _tensor(b), shift))
    np.testing.assert_array_equal(got, _np_round_shift(a * b, shift))


def test_fixed_point_tables_are_close_to_the_real_functions_but_not_them() -> None:
    x = np.arange(-32768, 32768)
    sigmoid = logistic_table(3).astype(np.int64)
    assert np.abs(sigmoid - 32768 / (1 + np.exp(-x / 4096))).max() < 8
    assert np.diff(sigmoid).min() >= -8 and sigmoid[32768] == 16384  # not quite monotonic, as gemmlowp
    for bits in (3, 4, 5):
        tanh = tanh_table(bits).astype(np.int64)
        assert np.abs(tanh - 32768 * np.tanh(x / 2 ** (15 - bits))).max() < 13
        np.testing.assert_array_equal(tanh[32769:], -tanh[1:32768][::-1])  # odd
    # gemmlowp's values, not the rounded functions: these differ from round(32768 sigmoid(1)) = 23955
    assert (int(sigmoid[32768 + 4096]), int(tanh_table(4)[32768 + 2048])) == (23952, 24964)
    with pytest.raises(ValueError, match="integer_bits"):
        tanh_table(7)


def _layer(**overrides: object) -> IntegerSequenceLSTM:
    args = {"input_scale": 0.02, "input_zero_point": -3, "state_scale": 1 / 128, "state_zero_point": 1,
            "cell_exponent": -11, "kernel_scales": [0.01, 0.011, 0.012, 0.013], "recurrent_scales": [0.02] * 4,
            "bias_scales": [0.0002] * 4, "cell_clip": 10.0, "name": "lstm"}
    return IntegerSequenceLSTM(4, **{**args, **overrides})


def _np_kernel(layer: IntegerSequenceLSTM, x: np.ndarray) -> np.ndarray:
    """TFLite's 8x8->16 LSTM step in int64 numpy, on the layer's integer weights: int8 outputs."""
    ints = {n: [np.round(np.asarray(getattr(layer, f"{n}_{g}")) / s).astype(np.int64) for g, s in zip("ifco", scales)]
            for n, scales in (("kernel", layer.kernel_scales), ("recurrent_kernel", layer.recurrent_scales),
                              ("bias", layer.bias_scales))}
    sources = [layer.input_scale] * 4 + [layer.state_scale] * 4
    gate = [float(np.float32(np.float32(w) * np.float32(src)) / np.float32(2**-12))
            for w, src in zip(layer.kernel_scales + layer.recurrent_scales, sources)]
    hidden = float(np.float32(2.0**-30 / np.float32(layer.hidden_scale)))
    clip = int(np.float32(layer.cell_clip) / np.float32(2.0**layer.cell_exponent))
    xq = np.clip(np.round(x / layer.input_scale) + layer.input_zero_point, -128, 127).astype(np.int64)
    h = np.zeros((x.shape[0], layer.units), np.int64)
    c = np.zeros_like(h)
    sig, tanh3, tanh_c = (t.astype(np.int64) + 0 for t in (logistic_table(3), tanh_table(3),
                                                          tanh_table(15 + layer.cell_exponent)))
    out = []
    for t in range(x.shape[1]):
        z = [np.clip(np.clip(_np_requantize((xq[:, t] - layer.input_zero_point) @ ints["kernel"][g] + ints["bias"][g],
                                            gate[g]), -32768, 32767)
                     + _np_requantize(h @ ints["recurrent_kernel"][g], gate[4 + g]), -32768, 32767) for g in range(4)]
        i, f, g, o = sig[z[0] + 32768], sig[z[1] + 32768], tanh3[z[2] + 32768], sig[z[3] + 32768]
        c = np.clip(_np_round_shift(f * c, 15) + _np_round_shift(i * g, 30 + layer.cell_exponent), -32768, 32767)
        c = np.clip(c, -clip, clip) if clip else c
        h_int = np.clip(_np_requantize(o * tanh_c[c + 32768], hidden) + layer.hidden_zero_point, -128, 127)
        h = h_int - layer.state_zero_point
        out.append(h_int)
    return np.stack(out, 1)


#: (kernel, recurrent) scales: moderate gates; saturated gates; recurrent parts beyond int16
@pytest.mark.parametrize(("kernel", "recurrent"), [(4e-4, 5e-4), (4e-3, 5e-3), (4e-4, 0.0625)])
def test_integer_lstm_is_the_kernel_on_any_grids(kernel: float, recurrent: float) -> None:
    keras.utils.set_random_seed(1)
    layer = _layer(kernel_scales=[kernel] * 4, recurrent_scales=[recurrent] * 4, cell_clip=3.0)
    x = np.random.default_rng(2).uniform(-2.5, 2.5, (3, 9, 5)).astype(np.float32)
    got = np.asarray(layer(x))
    for name in ("kernel", "recurrent_kernel"):  # weights on their int8 grids, random bias
        for g, scale in zip("ifco", getattr(layer, "kernel_scales" if name == "kernel" else "recurrent_scales")):
            var = getattr(layer, f"{name}_{g}")
            var.assign(np.clip(np.round(np.asarray(var) * 60), -127, 127) * scale)
    for g in "ifco":
        getattr(layer, f"bias_{g}").assign(np.random.default_rng(3).integers(-3000, 3000, 4) * 0.0002)
    got = np.round(np.asarray(layer(x)) * 128).astype(np.int64) + 1  # output grid 1/128, zero point 1
    np.testing.assert_array_equal(got, _np_kernel(layer, x))


def test_integer_lstm_reloads_in_safe_mode_and_trains(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    source = keras.Input((6, 5))
    model = keras.Model(source, _layer()(source))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 6, 5)).astype(np.float32)
    want = np.asarray(model(x))
    assert np.allclose(want * 128 - 1, np.round(want * 128 - 1), atol=1e-4)  # on the output's int8 grid
    path = tmp_path / "lstm.keras"
    model.save(path)
    np.testing.assert_array_equal(np.asarray(keras.saving.load_model(path, safe_mode=True)(x)), want)
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.train_on_batch(x, np.ones((3, 6, 4), np.float32))
    changed = [not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_weights)]
    assert len(changed) == 12 and sum(changed) >= 8


@pytest.mark.parametrize("bad", [{"cell_exponent": -5}, {"kernel_scales": [0.1] * 3}, {"bias_scales": [0.0] * 4},
                                 {"state_scale": -1.0}, {"cell_clip": -1.0}])
def test_integer_lstm_checks_its_arguments(bad: dict[str, object]) -> None:
    with pytest.raises(t2k.errors.InvalidArgumentError):
        _layer(**bad)
    assert IntegerSequenceLSTM.from_config(_layer().get_config()).get_config() == _layer().get_config()
