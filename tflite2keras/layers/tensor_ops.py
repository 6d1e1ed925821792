"""Layers for TFLite tensor ops with no exact standard Keras layer.

- :class:`DepthToSpace`: TFLite/TF ``DEPTH_TO_SPACE`` (DCR order); a reshape, transpose and
  reshape in Keras, one ``DEPTH_TO_SPACE`` in export form (:mod:`~tflite2keras.layers.export_form`).
- :class:`StridedSlice`: ``STRIDED_SLICE`` with constant begin/end/strides, batch axis kept free.
- :class:`MultiplyConstant` / :class:`AddConstant`: ``MUL`` / ``ADD`` with a constant operand,
  held as a trainable weight ``value`` so that fine-tuning can change it.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import DepthToSpace
    >>> x = np.arange(2 * 2 * 8, dtype="float32").reshape(1, 2, 2, 8)
    >>> tuple(DepthToSpace(2)(x).shape)
    (1, 4, 4, 2)
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from .export_form import exporting
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthToSpace(keras.layers.Layer):
    """Move ``block_size**2`` channel groups into space: channel ``(by*b + bx)*C' + c``."""

    def __init__(self, block_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, inputs: Any) -> Any:
        b = self.block_size
        if exporting():  # one DEPTH_TO_SPACE op; the reshape-transpose form stays three ops in TFLite
            import tensorflow as tf

            return tf.nn.depth_to_space(inputs, b)
        _, h, w, c = inputs.shape
        x = keras.ops.reshape(inputs, (-1, h, w, b, b, c // (b * b)))
        x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return keras.ops.reshape(x, (-1, h * b, w * b, c // (b * b)))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        n, h, w, c = input_shape
        b = self.block_size
        return (n, None if h is None else h * b, None if w is None else w * b, None if c is None else c // (b * b))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StridedSlice(keras.layers.Layer):
    """``x[begin:end:strides]`` over the non-batch axes (the batch axis is always kept whole).

    Python's slice semantics, which are TFLite's with ``begin_mask`` and ``end_mask``: ``None``
    in ``begin`` means "from the start", or from the end for a negative stride; ``None`` in
    ``end`` means "to the end", or to before the start for a negative stride.

    Args:
        begin / end / strides: one entry per non-batch axis.

    Example:
        >>> import numpy as np
        >>> x = np.arange(5, dtype="float32").reshape(1, 5)
        >>> np.asarray(StridedSlice([None], [None], [-2])(x)).tolist()
        [[4.0, 2.0, 0.0]]
    """

    def __init__(self, begin: Sequence[int | None], end: Sequence[int | None], strides: Sequence[int],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.begin = [None if b is None else int(b) for b in begin]
        self.end = [None if e is None else int(e) for e in end]
        self.strides = [int(s) for s in strides]

    def _slices(self) -> tuple[slice, ...]:
        return (slice(None),) + tuple(slice(b, e, s) for b, e, s in zip(self.begin, self.end, self.strides))

    def call(self, inputs: Any) -> Any:
        return inputs[self._slices()]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        out = [input_shape[0]]
        for size, piece in zip(input_shape[1:], self._slices()[1:]):
            out.append(None if size is None else len(range(*piece.indices(size))))
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "begin": self.begin, "end": self.end, "strides": self.strides}


class _ConstantOperand(keras.layers.Layer):
    """Base: a binary op whose second operand is a trainable weight of fixed shape."""

    def __init__(self, shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = tuple(int(d) for d in shape)

    def build(self, input_shape: Any) -> None:
        self.value = self.add_weight(name="value", shape=self.shape, initializer="zeros", trainable=True)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        rank = max(len(input_shape), len(self.shape))
        a = (1,) * (rank - len(input_shape)) + tuple(input_shape)
        b = (1,) * (rank - len(self.shape)) + self.shape
        return tuple(x if y == 1 else y if x == 1 else x for x, y in zip(a, b))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": list(self.shape)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiplyConstant(_ConstantOperand):
    """``inputs * value`` with a trainable ``value`` of the constant's shape (broadcasting)."""

    def call(self, inputs: Any) -> Any:
        return inputs * self.value


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddConstant(_ConstantOperand):
    """``inputs + value`` with a trainable ``value`` of the constant's shape (broadcasting)."""

    def call(self, inputs: Any) -> Any:
        return inputs + self.value


__all__ = ["AddConstant", "DepthToSpace", "MultiplyConstant", "StridedSlice"]
