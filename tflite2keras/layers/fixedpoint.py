"""The int16 fixed-point logistic and tanh of TFLite's integer LSTM, as 65536-entry tables.

TFLite's integer LSTM kernel (``lstm_eval.cc``, the 8x8->16 path) computes its gate activations
with gemmlowp's fixed-point ``logistic`` and ``tanh`` on int16 values: the input is a ``Qm.(15-m)``
number (``m`` integer bits: 3 for the gates, ``15 + log2(cell scale)`` for the cell state), the
output a Q0.15 number. These functions are not the correctly rounded sigmoid and tanh: a
Newton-Raphson reciprocal and a Taylor ``exp`` in 16-bit arithmetic leave each result a few
steps of 2**-15 away. An int16 input has only 65536 values, so this module evaluates that
arithmetic once, in numpy, for every input and keeps the table
(:func:`logistic_table`, :func:`tanh_table`); the Keras layer looks its values up.

The arithmetic follows gemmlowp's ``fixedpoint.h`` semantics for an int16 raw type: products
are "saturating rounding doubling high" multiplications (round half up, ``-1 * -1`` saturates),
plain additions and negations wrap around in 16 bits, power-of-two rescales saturate on the left
and round half away from zero on the right, and the 32-bit constants are rounded to 16 bits.

Example:
    >>> from tflite2keras.layers.fixedpoint import logistic_table, tanh_table
    >>> table = logistic_table(3)                      # Q3.12 in, Q0.15 out
    >>> int(table[0 + 32768]), int(table[4096 + 32768])  # sigmoid(0), sigmoid(1) * 2**15
    (16384, 23952)
    >>> int(tanh_table(3)[-32768 + 32768])             # tanh(-8): -(1 - 2**-15)
    -32767
"""

from __future__ import annotations

import functools

import numpy as np

#: int16 limits.
LOW, HIGH = -32768, 32767
#: exp(-2**k) for k = -2 .. 4 as Q0.31 constants: the barrel shifter of ``exp_on_negative_values``.
EXP_STEPS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
             (3, 720401), (4, 242))


def _wrap(x: np.ndarray) -> np.ndarray:
    """A C++ int -> int16 store: wrap around in 16 bits."""
    return ((x - LOW) & 0xFFFF) + LOW


def _saturate(x: np.ndarray) -> np.ndarray:
    return np.clip(x, LOW, HIGH)


def _high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Q-format product: ``round_half_up(a * b / 2**15)``, ``-1 * -1`` saturating to the maximum."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    total = product + nudge
    high = np.where(total >= 0, total >> 15, -((-total) >> 15))  # C division truncates toward zero
    return np.where((a == b) & (a == LOW), HIGH, high)


def _round_shift(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x / 2**exponent`` rounded half away from zero (``RoundingDivideByPOT``)."""
    x = np.asarray(x, np.int64)
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def _times_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x * 2**exponent``: saturating for a positive exponent, rounding for a negative one."""
    if exponent > 0:
        limit = (1 << (15 - exponent)) - 1
        return np.where(x > limit, HIGH, np.where(x < -limit, LOW, x << exponent))
    return _round_shift(x, -exponent) if exponent < 0 else x


def _constant(raw32: int) -> int:
    """A Q.31 constant as the int16 of the same format (rounded by 16 bits)."""
    return int(_round_shift(np.int64(raw32), 16))


def _exp_quarter(a: np.ndarray) -> np.ndarray:
    """exp(a) for a Q0.15 ``a`` in [-1/4, 0): a Taylor series around -1/8."""
    constant, third = _constant(1895147668), _constant(715827883)
    x = _wrap(a + (1 << 12))
    x2 = _high_mul(x, x)
    x3 = _high_mul(x2, x)
    x4 = _high_mul(x2, x2)
    series = _round_shift(_wrap(_high_mul(_wrap(_round_shift(x4, 2) + x3), third) + x2), 1)
    return _saturate(constant + _high_mul(constant, _wrap(x + series)))


def _exp_negative(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) as Q0.15 for a ``Q(integer_bits)`` input ``a <= 0``."""
    fractional = 15 - integer_bits
    quarter = 1 << (fractional - 2)
    a_mod = _wrap((a & (quarter - 1)) - quarter)
    result = _exp_quarter(_times_pot(a_mod, integer_bits))
    remainder = _wrap(a_mod - a)
    for exponent, multiplier in EXP_STEPS:
        if integer_bits > exponent:
            bit = (remainder & (1 << (fractional + exponent))) != 0
            result = np.where(bit, _high_mul(result, _constant(multiplier)), result)
    if integer_bits > 5:
        result = np.where(a < _round_shift(np.int64(-(1 << (36 - integer_bits))), 16), 0, result)
    return np.where(a == 0, HIGH, result)


def _newton_reciprocal(a: np.ndarray) -> np.ndarray:
    """Q2.13 estimate of ``1 / ((1 + a) / 2)`` for a Q0.15 ``a`` in (0, 1): three Newton-Raphson steps."""
    half = (a + HIGH + 1) // 2  # RoundingHalfSum(a, one); the sum is never negative here
    x = _wrap(_constant(1515870810) + _high_mul(half, _constant(-1010580540)))
    for _ in range(3):
        error = _wrap((1 << 13) - _high_mul(half, x))
        x = _wrap(x + _times_pot(_high_mul(x, error), 2))
    return x


def _logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    positive = a > 0
    magnitude = np.where(positive, a, _wrap(-a))
    upper = _times_pot(_newton_reciprocal(_exp_negative(_wrap(-magnitude), integer_bits)), 1)  # 1 / (1 + e)
    return np.where(a == 0, 1 << 14, np.where(positive, upper, _wrap(HIGH - upper)))


def _tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    negative = a < 0
    negated = np.where(negative, a, _wrap(-a))
    e = _exp_negative(negated, integer_bits + 1)  # exp(2 * negated)
    t = _times_pot(_wrap(_newton_reciprocal(e) - (1 << 13)), 2)  # (1 - e) / (1 + e)
    return np.where(a == 0, 0, np.where(negative, _wrap(-t), t))


def _check_bits(integer_bits: int) -> int:
    if not 0 <= int(integer_bits) <= 6:
        raise ValueError(f"integer_bits must be in [0, 6] (TFLite's ApplyTanh), received {integer_bits!r}")
    return int(integer_bits)


@functools.cache
def logistic_table(integer_bits: int = 3) -> np.ndarray:
    """gemmlowp's int16 logistic of every ``Q(integer_bits)`` input; index ``raw + 32768``.

    Example:
        >>> int(logistic_table(3)[-32768 + 32768])         # sigmoid(-8) * 2**15: 11
        11
    """
    table = _logistic(np.arange(LOW, HIGH + 1, dtype=np.int64), _check_bits(integer_bits)).astype(np.int16)
    table.flags.writeable = False
    return table


@functools.cache
def tanh_table(integer_bits: int) -> np.ndarray:
    """gemmlowp's int16 tanh of every ``Q(integer_bits)`` input; index ``raw + 32768``.

    Example:
        >>> int(tanh_table(4)[2048 + 32768])           # tanh(1) * 2**15 from Q4.11
        24964
    """
    table = _tanh(np.arange(LOW, HIGH + 1, dtype=np.int64), _check_bits(integer_bits)).astype(np.int16)
    table.flags.writeable = False
    return table


__all__ = ["logistic_table", "tanh_table"]
