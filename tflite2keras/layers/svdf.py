"""TFLite's ``SVDF`` as a Keras layer, built from ``keras.ops``.

SVDF (singular value decomposition filter, a low-rank factorized fully connected layer over
time) keeps a memory of ``memory_size`` past feature columns per filter in its
``activation_state``. One invocation, per batch row (``filters = units * rank``)::

    state = state shifted left by one column                     # the oldest column drops out
    state[:, f, memory_size - 1] = (x @ kernel)[:, f]            # the newest column
    scratch[:, f] = sum_m state[:, f, m] * weights_time[f, m]
    out[:, u] = activation(sum_r scratch[:, u * rank + r] + bias[u])

:class:`SVDF` computes one invocation from a zero state (the state TFLite allocates, and the
one :func:`tflite2keras.verification.reference.run` resets to before every sample): the older columns are
zeros, so only the last column of ``weights_time`` meets the input; the whole ``weights_time``
stays a variable, as the file stores it. An integer SVDF requantizes the newest column into
its int16 state tensor: ``state_scale`` clamps it to that tensor's range and, with
``state_rounding``, rounds it to its grid (``fake_quant`` mode). Its int32 accumulator (bias
plus the time products) wraps around on overflow, as two's complement does; with
``accumulator_scale`` (the accumulator's scale, ``state_scale * weights_time_scale``) the layer
wraps the same way, computed in float32 (about 128 accumulator steps of precision at 2**31).

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import SVDF
    >>> layer = SVDF(units=4, rank=2, memory_size=3)
    >>> tuple(layer(np.zeros((2, 5), "float32")).shape)
    (2, 4)
    >>> [tuple(v.shape) for v in layer.weights]
    [(5, 8), (8, 3), (4,)]
"""

from __future__ import annotations

from typing import Any

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]
#: The int16 state tensor's integer range.
STATE_RANGE = (-32768, 32767)
#: The int32 accumulator's period: two's complement wraps it around at +-2**31.
WRAP = 2.0**32


def _positive(owner: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise InvalidArgumentError(f"{owner}: {what} must be a positive integer, received {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SVDF(keras.layers.Layer):
    """TFLite's SVDF over ``(batch, features)``, one invocation from a zero state: ``(batch, units)``.

    Args:
        units: output size; the op has ``units * rank`` filters.
        rank: filters summed into each unit.
        memory_size: columns of the op's state per filter (the second axis of ``weights_time``).
        activation: the Keras activation of the op's fused activation (``"linear"`` for none).
        use_bias: the op has a bias input.
        state_scale: the scale of an integer SVDF's int16 state tensor: the newest state column is
            clamped to its range; 0 for a float SVDF (no clamp).
        state_rounding: also round that column to multiples of ``state_scale`` (``fake_quant``).
        accumulator_scale: the scale of an integer SVDF's int32 accumulator, which then wraps
            around at ``+-2**31`` of its steps; 0 for none.

    Example:
        >>> import numpy as np
        >>> layer = SVDF(units=1, rank=1, memory_size=2, use_bias=False)
        >>> layer.build((None, 1))
        >>> layer.set_weights([np.array([[2.0]]), np.array([[5.0, 3.0]])])
        >>> np.asarray(layer(np.array([[1.0]], "float32"))).tolist()   # 1 * 2 * 3: the last column
        [[6.0]]
    """

    def __init__(self, units: int, rank: int = 1, memory_size: int = 1, activation: str = "linear",
                 use_bias: bool = True, state_scale: float = 0.0, state_rounding: bool = False,
                 accumulator_scale: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units, self.rank = _positive(owner, "units", units), _positive(owner, "rank", rank)
        self.memory_size = _positive(owner, "memory_size", memory_size)
        if not state_scale >= 0:
            raise InvalidArgumentError(f"{owner}: state_scale must be >= 0, received {state_scale!r}")
        if state_rounding and not state_scale > 0:
            raise InvalidArgumentError(f"{owner}: state_rounding needs state_scale > 0, received {state_scale!r}")
        if not accumulator_scale >= 0:
            raise InvalidArgumentError(f"{owner}: accumulator_scale must be >= 0, received {accumulator_scale!r}")
        self.accumulator_scale = float(accumulator_scale)
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError) as err:
            raise InvalidArgumentError(f"{owner}: unknown activation {activation!r}") from err
        self.use_bias, self.state_scale, self.state_rounding = bool(use_bias), float(state_scale), bool(state_rounding)

    @property
    def filters(self) -> int:
        """The op's number of filters, ``units * rank``."""
        return self.units * self.rank

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise InvalidArgumentError(f"{self.name}: expected inputs (batch, features) with known features, "
                                       f"received shape {tuple(input_shape)}")
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.filters),
                                      initializer="glorot_uniform")
        self.weights_time = self.add_weight(name="weights_time", shape=(self.filters, self.memory_size),
                                            initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None

    def _to_state(self, column: Any) -> Any:
        """The newest column as the integer state tensor holds it (identity for a float SVDF)."""
        if not self.state_scale:
            return column
        low, high = (q * self.state_scale for q in STATE_RANGE)
        if self.state_rounding:
            column = keras.ops.round(column / self.state_scale) * self.state_scale
        return keras.ops.clip(column, low, high)

    def call(self, inputs: Any) -> Any:
        newest = self._to_state(keras.ops.matmul(inputs, self.kernel))  # (batch, filters)
        older = keras.ops.zeros_like(keras.ops.repeat(newest[:, :, None], self.memory_size - 1, axis=-1))
        state = keras.ops.concatenate([older, newest[:, :, None]], axis=-1)  # (batch, filters, memory)
        scratch = keras.ops.sum(state * self.weights_time, axis=-1)
        out = keras.ops.sum(keras.ops.reshape(scratch, (-1, self.units, self.rank)), axis=-1)
        if self.bias is not None:
            out = out + self.bias
        if self.accumulator_scale:
            steps = out / self.accumulator_scale
            steps = steps - WRAP * keras.ops.floor((steps + WRAP / 2) / WRAP)
            out = steps * self.accumulator_scale
        return self.activation(out)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "rank": self.rank, "memory_size": self.memory_size,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "state_scale": self.state_scale, "state_rounding": self.state_rounding,
                "accumulator_scale": self.accumulator_scale}


__all__ = ["SVDF"]
