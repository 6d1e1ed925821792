"""Layers for TFLite tensor ops with no exact standard Keras layer.

- :class:`DepthToSpace` / :class:`SpaceToDepth`: TFLite/TF ``DEPTH_TO_SPACE`` (DCR order) and
  its inverse ``SPACE_TO_DEPTH``; a reshape, transpose and reshape in Keras. ``DepthToSpace`` is
  one ``DEPTH_TO_SPACE`` in export form (:mod:`~tflite2keras.layers.export_form`).
- :class:`StridedSlice`: ``STRIDED_SLICE`` (and ``SLICE``, ``REVERSE_V2``) with constant
  begin/end/strides, integer indices that drop their axis and new axes; batch axis kept free.
- :class:`MultiplyConstant` / :class:`AddConstant`: ``MUL`` / ``ADD`` with a constant operand,
  held as a trainable weight ``value`` so that fine-tuning can change it.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import DepthToSpace, SpaceToDepth
    >>> x = np.arange(2 * 2 * 8, dtype="float32").reshape(1, 2, 2, 8)
    >>> tuple(DepthToSpace(2)(x).shape)
    (1, 4, 4, 2)
    >>> bool(np.array_equal(SpaceToDepth(2)(DepthToSpace(2)(x)), x))
    True
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
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

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpaceToDepth(keras.layers.Layer):
    """Move ``block_size x block_size`` spatial blocks into channels: channel ``(by*b + bx)*C + c``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
        >>> np.asarray(SpaceToDepth(2)(x)).tolist()
        [[[[0.0, 1.0, 2.0, 3.0]]]]
    """

    def __init__(self, block_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = int(block_size)
        if self.block_size < 1:
            raise InvalidArgumentError(f"SpaceToDepth: block_size {self.block_size} must be >= 1")

    def call(self, inputs: Any) -> Any:
        b = self.block_size
        _, h, w, c = inputs.shape
        x = keras.ops.reshape(inputs, (-1, h // b, b, w // b, b, c))
        x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return keras.ops.reshape(x, (-1, h // b, w // b, c * b * b))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        n, h, w, c = input_shape
        b = self.block_size
        return (n, None if h is None else h // b, None if w is None else w // b, None if c is None else c * b * b)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StridedSlice(keras.layers.Layer):
    """``x[:, i1, i2, ...]`` with one index per non-batch axis (the batch axis is always kept whole).

    Each non-batch axis ``k`` is sliced ``begin[k]:end[k]:strides[k]`` with Python's slice semantics,
    which are TFLite's with ``begin_mask`` and ``end_mask``: ``None`` in ``begin`` means "from the
    start", or from the end for a negative stride; ``None`` in ``end`` means "to the end", or to
    before the start for a negative stride. An axis listed in ``shrink_axes`` is indexed at
    ``begin[k]`` instead and dropped. ``new_axes`` lists positions in the index (batch excluded,
    counting the new axes themselves) where a new axis of extent 1 is inserted, as numpy's ``None``.

    Args:
        begin / end / strides: one entry per non-batch input axis.
        shrink_axes: non-batch input axes (0 = the first after the batch) indexed at ``begin``.
        new_axes: positions of new axes in the index.

    Example:
        >>> import numpy as np
        >>> x = np.arange(5, dtype="float32").reshape(1, 5)
        >>> np.asarray(StridedSlice([None], [None], [-2])(x)).tolist()
        [[4.0, 2.0, 0.0]]
        >>> y = np.arange(12, dtype="float32").reshape(1, 3, 4)
        >>> tuple(StridedSlice([1, -1], [3, None], [1, 1], shrink_axes=[1], new_axes=[0])(y).shape)
        (1, 1, 2)
    """

    def __init__(self, begin: Sequence[int | None], end: Sequence[int | None], strides: Sequence[int],
                 shrink_axes: Sequence[int] = (), new_axes: Sequence[int] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.begin = [None if b is None else int(b) for b in begin]
        self.end = [None if e is None else int(e) for e in end]
        self.strides = [int(s) for s in strides]
        self.shrink_axes = sorted(int(a) for a in shrink_axes)
        self.new_axes = sorted(int(a) for a in new_axes)
        rank = len(self.begin)
        if len(self.end) != rank or len(self.strides) != rank or 0 in self.strides:
            raise InvalidArgumentError(f"StridedSlice: begin {self.begin}, end {self.end} and non-zero strides "
                                       f"{self.strides} need one entry per axis")
        if any(not 0 <= a < rank or self.begin[a] is None for a in self.shrink_axes):
            raise InvalidArgumentError(f"StridedSlice: shrink_axes {self.shrink_axes} must be axes with a begin")
        if any(not 0 <= a < rank + len(self.new_axes) for a in self.new_axes):
            raise InvalidArgumentError(f"StridedSlice: new_axes {self.new_axes} out of range")

    def _index(self) -> tuple[Any, ...]:
        """The numpy-style index: a slice, an integer or None (a new axis) per position."""
        index: list[Any] = [slice(None)]
        axis = 0
        for position in range(len(self.begin) + len(self.new_axes)):
            if position in self.new_axes:
                index.append(None)
                continue
            if axis in self.shrink_axes:
                index.append(self.begin[axis])
            else:
                index.append(slice(self.begin[axis], self.end[axis], self.strides[axis]))
            axis += 1
        return tuple(index)

    def call(self, inputs: Any) -> Any:
        return inputs[self._index()]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        out = [input_shape[0]]
        sizes = iter(input_shape[1:])
        for piece in self._index()[1:]:
            if piece is None:
                out.append(1)
                continue
            size = next(sizes)
            if isinstance(piece, slice):
                out.append(None if size is None else len(range(*piece.indices(size))))
        return tuple(out)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "begin": self.begin, "end": self.end, "strides": self.strides,
                "shrink_axes": self.shrink_axes, "new_axes": self.new_axes}


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


__all__ = ["AddConstant", "DepthToSpace", "MultiplyConstant", "SpaceToDepth", "StridedSlice"]
