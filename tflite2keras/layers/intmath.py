"""TFLite's integer rescaling, exactly, on integer-valued float32 tensors (``keras.ops`` only).

An integer kernel rescales an int32 accumulator by a real multiplier ``M`` with
``MultiplyByQuantizedMultiplier``: ``M = q * 2**(shift - 31)``; it computes
``floor(x * 2**left * q / 2**31 + 1/2)`` (round half up), then divides by ``2**right`` rounding
half away from zero. A float32 product ``x * M`` is not that: it carries 24 bits, and a result
within its rounding error of a tie (``x * M = -95.4999997``) comes out one step off.

Here a value is a list of base-256 digits (float32 tensors holding integers), the multiplier is
cut into three bytes, and every partial product (below 2**18), carry and sum stays an integer
below 2**24, which float32 holds exactly. :func:`requantize` is then the kernel's function.

Example:
    >>> import numpy as np, keras
    >>> acc = keras.ops.convert_to_tensor(np.array([-7, 5, 1000001], "float32"))
    >>> np.asarray(requantize(digits(acc, 4), 0.5)).tolist()    # -3.5 -> -3, 2.5 -> 3 (half up)
    [-3.0, 3.0, 500001.0]
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

BASE = 256.0


def digits(x: Any, count: int) -> list[Any]:
    """Base-256 digits of an integer-valued tensor, least significant first; the last is signed.

    Exact while ``|x| < 2**24``.
    """
    out = []
    for _ in range(count - 1):
        high = keras.ops.floor(x / BASE)
        out.append(x - high * BASE)
        x = high
    return [*out, x]


def normalize(parts: list[Any], length: int) -> list[Any]:
    """Carry ``parts`` (a value ``sum parts[n] * 256**n``) into ``length`` digits in ``[0, 256)``
    and a signed top digit."""
    parts = [*parts, *([0.0] * (length - len(parts)))]
    out, carry = [], 0.0
    for part in parts:
        value = part + carry
        carry = keras.ops.floor(value / BASE)
        out.append(value - carry * BASE)
    return [*out, carry]


def _add_power(parts: list[Any], exponent: int) -> list[Any]:
    """``parts`` plus ``2**exponent`` (digit ``exponent // 8``)."""
    parts = list(parts)
    parts[exponent // 8] = parts[exponent // 8] + float(2 ** (exponent % 8))
    return parts


def _floor_power(parts: list[Any], exponent: int) -> Any:
    """``floor(value / 2**exponent)`` of normalized digits (exact while the quotient is below 2**17)."""
    whole, bits = divmod(exponent, 8)
    high = parts[-1]
    for part in reversed(parts[whole:-1]):  # from the top: a sign-extended top stays small
        high = high * BASE + part
    return keras.ops.floor(high / float(2**bits))


def requantize(parts: list[Any], multiplier: float) -> Any:
    """TFLite's ``MultiplyByQuantizedMultiplier(value, multiplier)`` of ``value = sum parts[n] * 256**n``.

    Args:
        parts: digits (as :func:`digits` gives, or any whose products with a byte stay below
            2**24 when summed three at a time).
        multiplier: the kernel's float32 multiplier (its effective scale), positive.

    Returns:
        The integer-valued result; exact while it is below 2**17 in magnitude.
    """
    _, exponent = np.frexp(np.float64(multiplier))
    right = max(-int(exponent), 0)
    k = float(np.float32(multiplier)) * 2.0**right  # the multiplier of the first, round-half-up step
    top = int(np.floor(np.log2(k))) - 7
    scaled = int(k * 2.0 ** (16 - top))  # k = scaled * 2**(top - 16), scaled below 2**24 (exact)
    kappa = (float(scaled >> 16), float((scaled >> 8) & 255), float(scaled & 255))
    shift = 16 - top  # value * k = product / 2**shift
    product: list[Any] = [0.0] * (len(parts) + 2)
    for j, part in enumerate(parts):
        for n, byte in enumerate(kappa):
            if byte:
                product[j - n + 2] = product[j - n + 2] + part * byte
    length = max(len(product), (shift + right) // 8 + 2)
    rounded = normalize(_add_power(product, shift - 1), length)  # Y = value * k * 2**shift + 2**(shift - 1)
    if right == 0:
        return _floor_power(rounded, shift)
    # floor(Y / 2**shift) rounded by 2**right half away from zero, as one floor on each side of zero
    positive = _floor_power(normalize(_add_power(rounded, shift + right - 1), length + 1), shift + right)
    negated = [-part for part in _add_power(rounded, 0)]  # -(Y + 1)
    negative = -_floor_power(normalize(_add_power(_add_power(negated, shift), shift + right - 1), length + 2),
                             shift + right)
    return keras.ops.where(rounded[-1] >= 0, positive, negative)


def round_shift_product(a: Any, b: Any, shift: int) -> Any:
    """``a * b / 2**shift`` rounded half away from zero (``RoundingDivideByPOT``), exact for int16
    ``a`` and ``b`` and ``8 <= shift <= 23``."""
    sign = keras.ops.sign(a) * keras.ops.sign(b)
    a, b = keras.ops.abs(a), keras.ops.abs(b)
    b_high = keras.ops.floor(b / BASE)
    upper = a * b_high  # |a * b| = upper * 256 + lower, both below 2**24
    lower = a * (b - b_high * BASE) + 2.0 ** (shift - 1)
    return sign * keras.ops.floor((upper + keras.ops.floor(lower / BASE)) / 2.0 ** (shift - 8))


def round_half_away(x: Any) -> Any:
    return keras.ops.sign(x) * keras.ops.floor(keras.ops.abs(x) + 0.5)


__all__ = ["digits", "normalize", "requantize", "round_half_away", "round_shift_product"]
