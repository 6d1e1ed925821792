"""Layers for scatters and segment reductions, built from ``keras.ops``.

- :class:`ScatterND`: ``SCATTER_ND`` (duplicate indices add up).
- :class:`UnsortedSegment`: ``UNSORTED_SEGMENT_SUM`` / ``_MAX`` / ``_MIN`` / ``_PROD``.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import ScatterND
    >>> layer = ScatterND(shape=[4], indices=[[1], [3], [1]])       # per sample
    >>> np.asarray(layer(np.array([[1.0, 2.0, 3.0]], "float32"))).tolist()
    [[0.0, 4.0, 0.0, 2.0]]
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import Shape, _spec
from .padding import PACKAGE

#: segment reduction -> the keras.ops reduction over the rows of a segment.
SEGMENT = {"sum": "sum", "prod": "prod", "max": "max", "min": "min"}


def _strides(shape: Sequence[int]) -> list[int]:
    return [math.prod(shape[k + 1:]) for k in range(len(shape))]


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScatterND(keras.layers.Layer):
    """Zeros of ``shape`` with ``updates`` added at ``indices`` (index tuples along the last axis).

    Two forms:

    - ``indices`` constant (a nested list of shape ``(..., K)``): per sample. The input is the updates
      ``(batch, ..., *shape[K:])`` and the output ``(batch, *shape)``.
    - ``indices=None``: the inputs are ``[indices, updates]``, both with the batch axis, every sample's
      updates go into one output of the fixed ``shape`` (no batch axis), as TFLite does at any batch.

    Example:
        >>> import numpy as np
        >>> indices, updates = np.array([[[0, 1]], [[0, 1]]], "int32"), np.array([[2.0], [3.0]], "float32")
        >>> np.asarray(ScatterND(shape=[1, 2])([indices, updates])).tolist()
        [[0.0, 5.0]]
    """

    def __init__(self, shape: Sequence[int], indices: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = [int(d) for d in shape]
        self.indices = None if indices is None else np.asarray(indices, "int32").tolist()
        self._indices = None if indices is None else np.asarray(self.indices, "int32")
        if self._indices is not None:
            self._check_depth(self._indices.shape[-1] if self._indices.ndim else None, least=0)
            if np.any((self._indices < 0) | (self._indices >= np.asarray(self.shape[:self._indices.shape[-1]]))):
                raise InvalidArgumentError(f"ScatterND: indices out of range for shape {self.shape}")

    def _check_depth(self, depth: int | None, least: int = 1) -> int:
        if depth is None or not least <= depth <= len(self.shape) or min(self.shape, default=1) < 1:
            raise InvalidArgumentError(f"ScatterND: index depth {depth} must be in [{least}, {len(self.shape)}] for "
                                       f"shape {self.shape} (positive extents)")
        return int(depth)

    def _sum_rows(self, rows: Any, positions: Any, depth: int) -> Any:
        """rows (M, ..., S) summed into (P, ..., S) at the flat positions (M,)."""
        return keras.ops.segment_sum(rows, positions, num_segments=math.prod(self.shape[:depth]))

    def call(self, inputs: Any) -> Any:
        if self._indices is not None:  # per sample: (B, M, S) -> (M, B, S) -> (P, B, S) -> (B, *shape)
            depth = self._indices.shape[-1]
            tuples = self._indices.reshape(math.prod(self._indices.shape[:-1]), depth)
            positions = (tuples * np.asarray(_strides(self.shape[:depth]))).sum(-1).astype("int32")
            rows = keras.ops.reshape(inputs, (-1, len(tuples), math.prod(self.shape[depth:])))
            summed = self._sum_rows(keras.ops.transpose(rows, (1, 0, 2)), keras.ops.convert_to_tensor(positions), depth)
            return keras.ops.reshape(keras.ops.transpose(summed, (1, 0, 2)), (-1, *self.shape))
        indices, updates = inputs
        depth = self._check_depth(indices.shape[-1])
        tuples = keras.ops.reshape(indices, (-1, depth))
        positions = sum(tuples[:, k] * s for k, s in enumerate(_strides(self.shape[:depth])))
        rows = keras.ops.reshape(updates, (-1, math.prod(self.shape[depth:])))
        return keras.ops.reshape(self._sum_rows(rows, positions, depth), self.shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if self._indices is not None:
            return (input_shape[0], *self.shape)
        return tuple(self.shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        if self._indices is not None:
            return _spec(self.compute_output_shape(inputs.shape), inputs.dtype)
        return _spec(tuple(self.shape), inputs[1].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": self.shape, "indices": self.indices}


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnsortedSegment(keras.layers.Layer):
    """``[data, segment_ids]`` -> ``fn`` (one of :data:`SEGMENT`) of the data rows of each segment
    ``0 .. num_segments-1``, over every sample of the batch: the output is ``(num_segments,
    *data.shape[ids.rank:])``, with no batch axis. A row whose id is outside the range is dropped; an
    empty segment holds 0 (sum), 1 (prod), the lowest (max) or the highest (min) value of the dtype, as
    TFLite's ``UNSORTED_SEGMENT_*``.

    Example:
        >>> import numpy as np
        >>> data, ids = np.array([[1.0], [4.0], [2.0]], "float32"), np.array([1, 1, 0], "int32")
        >>> np.asarray(UnsortedSegment("max", 3)([data, ids]))[:2].tolist()
        [[2.0], [4.0]]
    """

    def __init__(self, fn: str, num_segments: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if fn not in SEGMENT:
            raise InvalidArgumentError(f"UnsortedSegment: unknown fn {fn!r}; expected one of {sorted(SEGMENT)}")
        self.fn, self.num_segments = fn, int(num_segments)
        if self.num_segments < 0:
            raise InvalidArgumentError(f"UnsortedSegment: num_segments {num_segments} is negative")

    def _identity(self, dtype: Any) -> np.ndarray:
        dtype = np.dtype(keras.backend.standardize_dtype(dtype))
        limits = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
        value = {"sum": 0, "prod": 1, "max": limits.min, "min": limits.max}[self.fn]
        return np.asarray(value, dtype)

    def _rest(self, input_shape: Any) -> Shape:
        data, ids = (tuple(s) for s in input_shape)
        if len(ids) < 1 or len(ids) > len(data) or any(None not in (a, b) and a != b for a, b in zip(data, ids)):
            raise InvalidArgumentError(f"UnsortedSegment: segment ids {ids} must have the leading shape of data {data}")
        return data[len(ids):]

    def call(self, inputs: Any) -> Any:
        data, ids = inputs
        rest = self._rest([data.shape, ids.shape])
        rows = keras.ops.reshape(data, (-1, 1, math.prod(rest)))
        segments = keras.ops.cast(np.arange(self.num_segments).reshape(1, -1), ids.dtype)
        mask = keras.ops.equal(keras.ops.reshape(ids, (-1, 1)), segments)[..., None]  # (M, S, 1)
        fill = keras.ops.convert_to_tensor(self._identity(data.dtype))
        values = keras.ops.where(mask, rows, fill)  # (M, S, R)
        out = getattr(keras.ops, SEGMENT[self.fn])(values, axis=0)
        if self.fn in ("max", "min"):  # the empty segments' value is part of the reduction, as in TFLite
            out = (keras.ops.maximum if self.fn == "max" else keras.ops.minimum)(out, fill)
        return keras.ops.reshape(out, (self.num_segments, *rest))

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return (self.num_segments, *self._rest(input_shape))

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), inputs[0].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn, "num_segments": self.num_segments}


__all__ = ["ScatterND", "UnsortedSegment"]
