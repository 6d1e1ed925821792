"""TFLite's integer ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (int8 in and out, int16 cell) as a Keras layer.

An int8 LSTM file (input, weights and output int8, the cell state int16 with a power-of-two scale,
five intermediate tensors) runs TFLite's 8x8->16 kernel, which rounds at every step:

- each gate's pre-activation is the int32 ``(x - zp_x) @ W + bias`` requantized to int16 Q3.12
  (scale ``2**-12``), plus ``(h - zp_h) @ R`` requantized to Q3.12 on its own, added with int16
  saturation; the multipliers are ``scale_x * scale_W / 2**-12`` and ``scale_h * scale_R / 2**-12``;
- sigmoid and tanh are gemmlowp's int16 fixed-point functions (Q0.15 results), not the rounded
  real functions (:mod:`tflite2keras.layers.fixedpoint` tabulates them);
- the cell state ``c`` is int16 in steps of ``2**cell_exponent``: ``round(f * c / 2**15) +
  round(i * g / 2**(30 + cell_exponent))``, saturated, clipped to the quantized ``cell_clip``;
- the output ``h`` is int8: ``round(o * tanh(c) * 2**-30 / hidden_scale) + hidden_zero_point``,
  and feeds the next step as the recurrent input.

:class:`IntegerSequenceLSTM` does the same arithmetic in float32 on integer values, so its outputs
are the kernel's (the model's ``fake_quant`` mode): every product and sum it forms is an integer
below 2**24, exact in float32, while ``features * 255 * 128 + |bias|`` is (about 500 features),
and the requantizations work on base-256 digits (:mod:`tflite2keras.layers.intmath`): a float32
product rounds the wrong way near a tie (trained_lstm_int8's int8 hidden state at -95.4999997 in
one of 16 samples, which then carried to 11 outputs). The variables are the float weights that
:class:`~tflite2keras.layers.SequenceLSTM` has; the forward pass rounds them to their int8 grid,
and every rounding passes the gradient straight through, so the layer trains quantization-aware.

Example:
    >>> import numpy as np
    >>> layer = IntegerSequenceLSTM(3, input_scale=0.02, input_zero_point=0, state_scale=1 / 128,
    ...                             state_zero_point=0, cell_exponent=-11, kernel_scales=[0.01] * 4,
    ...                             recurrent_scales=[0.01] * 4, bias_scales=[0.0002] * 4)
    >>> y = np.asarray(layer(np.full((1, 4, 5), 0.5, "float32")))
    >>> y.shape, bool(np.all(np.abs(y * 128 - np.round(y * 128)) < 1e-4))   # on the int8 grid
    ((1, 4, 3), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .fixedpoint import logistic_table, tanh_table
from .intmath import digits, normalize, requantize, round_shift_product
from .padding import PACKAGE

#: The gates' pre-activation format: int16 Q3.12.
GATE_BITS = 3
#: Gate suffixes of the variables, as :class:`~tflite2keras.layers.SequenceLSTM` names them.
GATES = ("i", "f", "c", "o")

Shape = tuple[int | None, ...]


def _f32(x: float) -> float:
    return float(np.float32(x))


def _ste(exact: Any, surrogate: Any) -> Any:
    """``exact`` forward, ``surrogate``'s gradient backward (exact in float32: ``s - s`` is 0)."""
    return keras.ops.stop_gradient(exact) + (surrogate - keras.ops.stop_gradient(surrogate))


def _scales(owner: str, what: str, values: Sequence[float]) -> list[float]:
    values = [float(v) for v in values]
    if len(values) != len(GATES) or not all(np.isfinite(v) and v > 0 for v in values):
        raise InvalidArgumentError(f"{owner}: {what} must be 4 positive scales (gates i, f, c, o), received {values}")
    return values


@keras.saving.register_keras_serializable(package=PACKAGE)
class IntegerSequenceLSTM(keras.layers.Layer):
    """TFLite's int8 LSTM kernel (8x8->16) over axis 1 of ``(batch, time, features)``, zero state.

    Takes and returns real values on the input's and output's int8 grids.

    Args:
        units: the state size.
        input_scale, input_zero_point: the int8 input's quantization.
        state_scale, state_zero_point: the int8 output state's (the recurrent input's).
        cell_exponent: log2 of the int16 cell state's scale (-11: steps of 2**-11).
        kernel_scales, recurrent_scales, bias_scales: per gate (i, f, c, o), the weights' scales.
        cell_clip: the op's cell clip (real); 0 for none.
        hidden_scale, hidden_zero_point: the hidden intermediate's quantization (the kernel's
            int8 rounding of ``o * tanh(c)``); the state's when None.
        output_scale, output_zero_point: the output tensor's; the state's when None.
    """

    def __init__(self, units: int, input_scale: float, input_zero_point: int, state_scale: float,
                 state_zero_point: int, cell_exponent: int, kernel_scales: Sequence[float],
                 recurrent_scales: Sequence[float], bias_scales: Sequence[float], cell_clip: float = 0.0,
                 hidden_scale: float | None = None, hidden_zero_point: int | None = None,
                 output_scale: float | None = None, output_zero_point: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if int(units) != units or units < 1:
            raise InvalidArgumentError(f"{owner}: units must be a positive integer, received {units!r}")
        if not -30 <= int(cell_exponent) <= -9:
            raise InvalidArgumentError(f"{owner}: cell_exponent must be in [-30, -9] (a tanh input of at most 6 "
                                       f"integer bits), received {cell_exponent!r}")
        if not cell_clip >= 0:
            raise InvalidArgumentError(f"{owner}: cell_clip must be >= 0, received {cell_clip!r}")
        self.units, self.cell_exponent, self.cell_clip = int(units), int(cell_exponent), float(cell_clip)
        self.activation = keras.activations.tanh  # the kernel's fixed-point tanh, of the cell and output
        self.input_scale, self.input_zero_point = float(input_scale), int(input_zero_point)
        self.state_scale, self.state_zero_point = float(state_scale), int(state_zero_point)
        self.hidden_scale = self.state_scale if hidden_scale is None else float(hidden_scale)
        self.hidden_zero_point = self.state_zero_point if hidden_zero_point is None else int(hidden_zero_point)
        self.output_scale = self.state_scale if output_scale is None else float(output_scale)
        self.output_zero_point = self.state_zero_point if output_zero_point is None else int(output_zero_point)
        for what in ("input_scale", "state_scale", "hidden_scale", "output_scale"):
            if not (np.isfinite(getattr(self, what)) and getattr(self, what) > 0):
                raise InvalidArgumentError(f"{owner}: {what} must be positive, received {getattr(self, what)!r}")
        self.kernel_scales = _scales(owner, "kernel_scales", kernel_scales)
        self.recurrent_scales = _scales(owner, "recurrent_scales", recurrent_scales)
        self.bias_scales = _scales(owner, "bias_scales", bias_scales)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InvalidArgumentError(f"{self.name}: expected inputs (batch, time, features) with known features, "
                                       f"received shape {tuple(input_shape)}")
        features, units = int(input_shape[-1]), self.units
        for role, shape in (("kernel", (features, units)), ("recurrent_kernel", (units, units)), ("bias", (units,))):
            for gate in GATES:
                start = "ones" if (role, gate) == ("bias", "f") else "zeros" if role == "bias" else "glorot_uniform"
                setattr(self, f"{role}_{gate}", self.add_weight(name=f"{role}_{gate}", shape=shape, initializer=start))

    # The kernel's constants, as it derives them (float32 products of the scales).
    def _gate_multipliers(self, scales: list[float], source: float) -> list[float]:
        return [_f32(_f32(_f32(s) * _f32(source)) / _f32(2.0**-12)) for s in scales]

    def _requantized(self, acc: Any, multipliers: list[float]) -> Any:
        """Each gate's block of ``acc`` (int32 accumulators) requantized to Q3.12, not yet saturated.

        Results beyond +-65536 saturate the int16 sum whatever the other part is: they are clamped
        near there first, which keeps every value of the exact arithmetic small.
        """
        out = []
        for block, multiplier in zip(keras.ops.split(acc, 4, axis=-1), multipliers):
            limit = float(min(2.0**24 - 1, np.ceil(70000.0 / multiplier)))
            exact = requantize(digits(keras.ops.clip(block, -limit, limit), 4), multiplier)
            out.append(_ste(exact, block * multiplier))
        return keras.ops.concatenate(out, axis=-1)

    def _integer(self, role: str, scales: list[float], low: int = -128, high: int = 127) -> Any:
        """The gates' variables of ``role`` on their integer grids, side by side (straight-through)."""
        out = []
        for gate, scale in zip(GATES, scales):
            real = getattr(self, f"{role}_{gate}") / scale
            out.append(_ste(keras.ops.clip(keras.ops.round(real), low, high), real))
        return keras.ops.concatenate(out, axis=-1)

    def call(self, inputs: Any) -> Any:
        ops, cell_shift = keras.ops, 30 + self.cell_exponent
        in_scales = self._gate_multipliers(self.kernel_scales, self.input_scale)
        rec_scales = self._gate_multipliers(self.recurrent_scales, self.state_scale)
        hidden = _f32(2.0**-15 / np.float32(self.hidden_scale) * 2.0**-15)
        clip = int(min(max(np.float32(self.cell_clip) / np.float32(2.0**self.cell_exponent), -32768), 32767))
        sigmoid = ops.convert_to_tensor(logistic_table(GATE_BITS).astype(np.float32))
        tanh_gate = ops.convert_to_tensor(tanh_table(GATE_BITS).astype(np.float32))
        tanh_cell = ops.convert_to_tensor(tanh_table(15 + self.cell_exponent).astype(np.float32))

        x = inputs / self.input_scale
        x = _ste(ops.clip(ops.round(x) + self.input_zero_point, -128, 127), x + self.input_zero_point)
        bias = self._integer("bias", self.bias_scales, -(2**31), 2**31 - 1)
        acc = ops.matmul(x - self.input_zero_point, self._integer("kernel", self.kernel_scales)) + bias
        projected = ops.clip(self._requantized(acc, in_scales), -32768, 32767)  # the kernel saturates each part
        recurrent = self._integer("recurrent_kernel", self.recurrent_scales)

        def lookup(table: Any, z: Any, surrogate: Any) -> Any:
            return _ste(ops.take(table, ops.cast(z + 32768.0, "int32"), axis=0), surrogate * 32768.0)

        def step(carry: tuple[Any, Any], z_input: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
            h, c = carry  # h centred on the state's zero point; c in cell steps
            z = ops.clip(z_input + self._requantized(ops.matmul(h, recurrent), rec_scales), -32768, 32767)
            zi, zf, zg, zo = ops.split(z, 4, axis=-1)
            i = lookup(sigmoid, zi, ops.sigmoid(zi / 4096.0))
            f = lookup(sigmoid, zf, ops.sigmoid(zf / 4096.0))
            g = lookup(tanh_gate, zg, ops.tanh(zg / 4096.0))
            o = lookup(sigmoid, zo, ops.sigmoid(zo / 4096.0))
            kept = _ste(round_shift_product(f, c, 15), f * c / 2.0**15)
            added = _ste(round_shift_product(i, g, cell_shift), i * g / 2.0**cell_shift)
            c = ops.clip(kept + added, -32768, 32767)
            if clip > 0:
                c = ops.clip(c, -clip, clip)
            t = lookup(tanh_cell, c, ops.tanh(c * 2.0**self.cell_exponent))
            (o0, o1), (t0, t1) = digits(o, 2), digits(t, 2)  # o * t reaches 2**30: as base-256 digits
            product = [o0 * t0, o0 * t1 + o1 * t0, o1 * t1]
            exact = requantize(normalize(product, 3), hidden)
            h_int = ops.clip(_ste(exact, o * t * hidden) + self.hidden_zero_point, -128, 127)
            state = (h_int - self.state_zero_point, c)
            return state, state  # keras' TF scan wants the outputs shaped as the carry

        zero = ops.zeros_like(projected[:, 0, :self.units])
        _, (centred, _) = ops.scan(step, (zero, zero), ops.transpose(projected, (1, 0, 2)))
        shift = self.state_zero_point - self.output_zero_point
        return (ops.transpose(centred, (1, 0, 2)) + shift) * self.output_scale

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "input_scale": self.input_scale,
                "input_zero_point": self.input_zero_point, "state_scale": self.state_scale,
                "state_zero_point": self.state_zero_point, "cell_exponent": self.cell_exponent,
                "kernel_scales": self.kernel_scales, "recurrent_scales": self.recurrent_scales,
                "bias_scales": self.bias_scales, "cell_clip": self.cell_clip, "hidden_scale": self.hidden_scale,
                "hidden_zero_point": self.hidden_zero_point, "output_scale": self.output_scale,
                "output_zero_point": self.output_zero_point}


__all__ = ["IntegerSequenceLSTM"]
