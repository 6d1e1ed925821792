"""Window ops with no standard Keras layer: TFLite ``L2_POOL_2D`` and ``LOCAL_RESPONSE_NORMALIZATION``.

- :class:`L2Pooling2D`: ``sqrt(mean(x**2))`` over each pooling window; under ``"same"`` padding
  the mean is over the window's cells inside the image, as TFLite's kernel (and
  ``AveragePooling2D``) counts them.
- :class:`LocalResponseNormalization`: ``x / (bias + alpha * sum(x**2))**beta``, the sum over
  the ``2 * radius + 1`` channels around each channel (fewer at the edges), as
  ``tf.nn.local_response_normalization``.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import L2Pooling2D, LocalResponseNormalization
    >>> x = np.full((1, 4, 4, 1), -2.0, "float32")
    >>> np.asarray(L2Pooling2D(2)(x))[0, :, :, 0].tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    >>> np.asarray(LocalResponseNormalization(radius=1, bias=1.0, alpha=1.0, beta=1.0)(np.ones((1, 3), "float32"))).tolist()
    [[0.3333333432674408, 0.25, 0.3333333432674408]]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    try:
        pair = tuple(int(v) for v in value)  # type: ignore[union-attr]
    except TypeError:
        pair = (int(value), int(value))  # type: ignore[arg-type]
    if len(pair) != 2 or min(pair) < 1:
        raise InvalidArgumentError(f"L2Pooling2D: {what} must be one or two positive integers. Received: {what}={value}")
    return pair  # type: ignore[return-value]


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Pooling2D(keras.layers.Layer):
    """Square root of the mean of squares over each window of an NHWC tensor.

    Args:
        pool_size: window (height, width), or one int for both.
        strides: (height, width) steps; default ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (TF's rule: ``ceil(n / stride)`` outputs).

    Example:
        >>> import numpy as np
        >>> tuple(L2Pooling2D((3, 2), strides=(2, 1), padding="same")(np.ones((1, 7, 5, 3), "float32")).shape)
        (1, 4, 5, 3)
    """

    def __init__(self, pool_size: int | Sequence[int], strides: int | Sequence[int] | None = None,
                 padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise InvalidArgumentError(f"L2Pooling2D: padding must be 'valid' or 'same'. Received: padding={padding!r}")

    def call(self, inputs: Any) -> Any:
        mean = keras.ops.average_pool(keras.ops.square(inputs), self.pool_size, self.strides, self.padding)
        return keras.ops.sqrt(mean)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, c = input_shape
        sizes = []
        for d, k, s in zip((h, w), self.pool_size, self.strides):
            sizes.append(None if d is None else -(-d // s) if self.padding == "same" else (d - k) // s + 1)
        return (n, *sizes, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LocalResponseNormalization(keras.layers.Layer):
    """Normalize each channel (last axis) by the squares of its ``radius`` neighbours on each side.

    Args:
        radius: channels on each side of the centre in the sum (TFLite's ``radius``, TF's ``depth_radius``).
        bias / alpha / beta: ``x / (bias + alpha * sum) ** beta``.

    Example:
        >>> import numpy as np
        >>> layer = LocalResponseNormalization(radius=2, bias=1.5, alpha=0.3, beta=0.75)
        >>> tuple(layer(np.ones((1, 7, 9, 5), "float32")).shape)
        (1, 7, 9, 5)
    """

    def __init__(self, radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.radius, self.bias, self.alpha, self.beta = int(radius), float(bias), float(alpha), float(beta)
        if self.radius < 0:
            raise InvalidArgumentError(f"LocalResponseNormalization: radius must be >= 0. Received: radius={radius}")

    def call(self, inputs: Any) -> Any:
        channels = inputs.shape[-1]
        if channels is None:
            raise InvalidArgumentError("LocalResponseNormalization needs a known channel (last axis) extent")
        r = self.radius
        squares = keras.ops.pad(keras.ops.square(inputs), [(0, 0)] * (len(inputs.shape) - 1) + [(r, r)])
        total = squares[..., 0:channels]
        for i in range(1, 2 * r + 1):  # channels c - r ... c + r, the zero padding outside
            total = total + squares[..., i:i + channels]
        return inputs * keras.ops.power(self.bias + self.alpha * total, -self.beta)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "radius": self.radius, "bias": self.bias, "alpha": self.alpha,
                "beta": self.beta}


__all__ = ["L2Pooling2D", "LocalResponseNormalization"]
