"""Layers for gathers and index encodings with no exact standard Keras layer, built from ``keras.ops``.

- :class:`Gather`: ``GATHER`` with constant indices on a non-batch axis, or a lookup in a table held
  as a weight (trainable when float); :class:`BatchGather`: ``GATHER`` with ``batch_dims``.
- :class:`GatherND`: ``GATHER_ND`` in a table held as a weight.
- :class:`OneHot`: ``ONE_HOT``; :class:`Bucketize`: ``BUCKETIZE``.

Scatters and segment reductions are in :mod:`tflite2keras.layers.scatter`.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Gather
    >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
    >>> np.asarray(Gather([2, 0], axis=2)(x)).tolist()
    [[[2.0, 0.0], [5.0, 3.0]]]
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import Shape, _spec
from .padding import PACKAGE


def _table_weight(layer: keras.layers.Layer, shape: tuple[int, ...], dtype: str) -> Any:
    """The table variable ``embeddings``: trainable when float, a fixed (non-trainable) one otherwise."""
    trainable = dtype.startswith(("float", "bfloat"))
    return layer.add_weight(name="embeddings", shape=shape, dtype=dtype, initializer="zeros", trainable=trainable)


def _table(shape: Sequence[int] | None, dtype: str, what: str) -> tuple[tuple[int, ...] | None, str]:
    dtype = keras.backend.standardize_dtype(dtype)
    if shape is None:
        return None, dtype
    shape = tuple(int(d) for d in shape)
    if not shape or min(shape) < 1:
        raise InvalidArgumentError(f"{what}: table shape {shape} must have rank >= 1 and positive extents")
    if not dtype.startswith(("float", "bfloat", "int", "uint")):
        raise InvalidArgumentError(f"{what}: table dtype {dtype!r} is neither float nor integer")
    return shape, dtype


@keras.saving.register_keras_serializable(package=PACKAGE)
class Gather(keras.layers.Layer):
    """``take(x, indices, axis)`` with constant integer ``indices`` (any rank) on a non-batch axis.

    With ``table_shape`` instead, the input is integer indices and the result
    ``take(embeddings, indices, axis=0)`` for the variable ``embeddings`` of that shape and
    ``table_dtype`` (trainable when float): the batch axis then comes from the indices.

    Example:
        >>> import numpy as np
        >>> layer = Gather(table_shape=(2, 2))
        >>> layer.build((1, 2))
        >>> _ = layer.embeddings.assign(np.array([[0.5, 1.5], [2.5, 3.5]], "float32"))
        >>> np.asarray(layer(np.array([[1, 0]], "int32"))).tolist()
        [[[2.5, 3.5], [0.5, 1.5]]]
    """

    def __init__(self, indices: Any = None, axis: int = 0, table_shape: Sequence[int] | None = None,
                 table_dtype: str = "float32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (indices is None) == (table_shape is None):
            raise InvalidArgumentError("Gather: pass exactly one of constant indices and a table shape")
        self.axis = int(axis)
        self.table_shape, self.table_dtype = _table(table_shape, table_dtype, "Gather")
        self.indices = None if indices is None else np.asarray(indices, "int32").tolist()
        if (self.table_shape is None and self.axis <= 0) or (self.table_shape is not None and self.axis != 0):
            raise InvalidArgumentError(f"Gather: axis {self.axis} must be a non-batch axis (>= 1), or 0 for a table")
        self._indices = None if indices is None else np.asarray(self.indices, "int32")

    def build(self, input_shape: Shape) -> None:
        if self.table_shape is not None:
            self.embeddings = _table_weight(self, self.table_shape, self.table_dtype)

    def call(self, inputs: Any) -> Any:
        if self.table_shape is not None:
            return keras.ops.take(self.embeddings, inputs, axis=0)
        return keras.ops.take(inputs, keras.ops.convert_to_tensor(self._indices), axis=self.axis)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.table_shape is not None:
            return tuple(input_shape) + self.table_shape[1:]
        shape = tuple(input_shape)
        return shape[:self.axis] + self._indices.shape + shape[self.axis + 1:]

    def compute_output_spec(self, inputs: Any) -> Any:
        dtype = inputs.dtype if self.table_shape is None else self.table_dtype
        return _spec(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self) -> dict[str, Any]:
        table = None if self.table_shape is None else list(self.table_shape)
        return {**super().get_config(), "indices": self.indices, "axis": self.axis, "table_shape": table,
                "table_dtype": self.table_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchGather(keras.layers.Layer):
    """``[params, indices]`` -> TFLite ``GATHER`` with ``batch_dims``: for each index of the first
    ``batch_dims`` axes (which both share, the batch axis first), ``take(params, indices, axis)`` over
    the rest. The output shape is ``params[:axis] + indices[batch_dims:] + params[axis + 1:]``.

    Example:
        >>> import numpy as np
        >>> params = np.array([[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0]]], "float32")   # (2, 1, 3)
        >>> indices = np.array([[2, 0], [1, 1]], "int32")
        >>> np.asarray(BatchGather(axis=2, batch_dims=1)([params, indices])).tolist()
        [[[3.0, 1.0]], [[5.0, 5.0]]]
    """

    def __init__(self, axis: int, batch_dims: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis, self.batch_dims = int(axis), int(batch_dims)
        if not 1 <= self.batch_dims <= self.axis:
            raise InvalidArgumentError(f"BatchGather: batch_dims {batch_dims} must be in [1, axis {axis}]")

    def _shapes(self, input_shape: Any) -> tuple[Shape, Shape]:
        params, indices = (tuple(s) for s in input_shape)
        if len(params) <= self.axis or len(indices) < self.batch_dims:
            raise InvalidArgumentError(f"BatchGather: params {params} need axis {self.axis} and indices {indices} "
                                       f"batch_dims {self.batch_dims}")
        return params, indices

    def call(self, inputs: Any) -> Any:
        params, indices = inputs
        p, i = self._shapes([params.shape, indices.shape])
        bd, a = self.batch_dims, self.axis
        width = math.prod(i[bd:])
        ones_pre, ones_post = (1,) * (a - bd), (1,) * (len(p) - a - 1)
        flat = keras.ops.reshape(indices, (-1, *i[1:bd], *ones_pre, width, *ones_post))
        target = list(keras.ops.shape(params))
        target[a] = width
        out = keras.ops.take_along_axis(params, keras.ops.broadcast_to(flat, target), axis=a)
        return keras.ops.reshape(out, (-1, *p[1:a], *i[bd:], *p[a + 1:]))

    def compute_output_shape(self, input_shape: Any) -> Shape:
        params, indices = self._shapes(input_shape)
        return params[:self.axis] + indices[self.batch_dims:] + params[self.axis + 1:]

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), inputs[0].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "batch_dims": self.batch_dims}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GatherND(keras.layers.Layer):
    """``embeddings[indices[..., 0], ..., indices[..., K-1]]`` for integer ``indices`` of last extent
    ``K``, the variable ``embeddings`` of ``table_shape`` and ``table_dtype`` (trainable when float).

    Example:
        >>> import numpy as np
        >>> layer = GatherND(table_shape=(2, 3))
        >>> layer.build((1, 2))
        >>> _ = layer.embeddings.assign(np.arange(6, dtype="float32").reshape(2, 3))
        >>> np.asarray(layer(np.array([[1, 2]], "int32"))).tolist()
        [5.0]
    """

    def __init__(self, table_shape: Sequence[int], table_dtype: str = "float32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shape, self.table_dtype = _table(table_shape, table_dtype, "GatherND")
        self.table_shape: tuple[int, ...] = shape  # type: ignore[assignment]

    def _depth(self, input_shape: Shape) -> int:
        depth = input_shape[-1] if len(input_shape) >= 2 else None
        if depth is None or not 1 <= depth <= len(self.table_shape):
            raise InvalidArgumentError(f"GatherND: indices of shape {tuple(input_shape)} need a known last extent "
                                       f"in [1, {len(self.table_shape)}] and a batch axis")
        return int(depth)

    def build(self, input_shape: Shape) -> None:
        self._depth(input_shape)
        self.embeddings = _table_weight(self, self.table_shape, self.table_dtype)

    def call(self, inputs: Any) -> Any:
        depth = self._depth(inputs.shape)
        strides = [math.prod(self.table_shape[k + 1:depth]) for k in range(depth)]
        flat = sum(inputs[..., k] * strides[k] for k in range(depth))
        rows = keras.ops.reshape(self.embeddings, (math.prod(self.table_shape[:depth]), *self.table_shape[depth:]))
        return keras.ops.take(rows, flat, axis=0)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + self.table_shape[self._depth(input_shape):]

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), self.table_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "table_shape": list(self.table_shape), "table_dtype": self.table_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHot(keras.layers.Layer):
    """``on_value`` where ``indices == class``, else ``off_value``, classes ``0 .. depth-1`` along a new
    non-batch ``axis`` (in the output); an index outside ``[0, depth)`` gives all ``off_value``.

    Example:
        >>> import numpy as np
        >>> np.asarray(OneHot(3, 2.0, -1.0, axis=2)(np.array([[1, 5]], "int32"))).tolist()
        [[[-1.0, 2.0, -1.0], [-1.0, -1.0, -1.0]]]
    """

    def __init__(self, depth: int, on_value: Any = 1.0, off_value: Any = 0.0, axis: int = -1,
                 value_dtype: str = "float32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depth, self.axis = int(depth), int(axis)
        self.value_dtype = keras.backend.standardize_dtype(value_dtype)
        self.on_value, self.off_value = (np.asarray(v, self.value_dtype).item() for v in (on_value, off_value))
        if self.depth < 0 or self.axis == 0:
            raise InvalidArgumentError(f"OneHot: depth {depth} must be >= 0 and axis {axis} not the batch axis")

    def _axis(self, rank: int) -> int:
        axis = self.axis + rank + 1 if self.axis < 0 else self.axis
        if not 1 <= axis <= rank:
            raise InvalidArgumentError(f"OneHot: axis {self.axis} is out of range for indices of rank {rank}")
        return axis

    def call(self, inputs: Any) -> Any:
        rank = len(inputs.shape)
        axis = self._axis(rank)
        classes = np.arange(self.depth).reshape([self.depth if i == axis else 1 for i in range(rank + 1)])
        mask = keras.ops.equal(keras.ops.expand_dims(inputs, axis), keras.ops.cast(classes, inputs.dtype))
        on, off = (keras.ops.convert_to_tensor(np.asarray(v, self.value_dtype))
                   for v in (self.on_value, self.off_value))
        return keras.ops.where(mask, on, off)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        axis = self._axis(len(input_shape))
        return tuple(input_shape[:axis]) + (self.depth,) + tuple(input_shape[axis:])

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), self.value_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "depth": self.depth, "on_value": self.on_value, "off_value": self.off_value,
                "axis": self.axis, "value_dtype": self.value_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Bucketize(keras.layers.Layer):
    """The index of each value's bucket: how many of the sorted ``boundaries`` are not greater than it
    (TFLite ``BUCKETIZE``, ``upper_bound``; NaN goes past the last boundary), as int32.

    Example:
        >>> import numpy as np
        >>> np.asarray(Bucketize([0.0, 1.0])(np.array([[-1.0, 0.0, 0.5, 2.0]], "float32"))).tolist()
        [[0, 1, 1, 2]]
    """

    def __init__(self, boundaries: Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.boundaries = [float(b) for b in np.asarray(boundaries, "float32").reshape(-1)]
        if any(b > c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise InvalidArgumentError(f"Bucketize: boundaries {self.boundaries} are not sorted")

    def call(self, inputs: Any) -> Any:
        if not self.boundaries:
            return keras.ops.zeros_like(inputs, dtype="int32")
        bounds = keras.ops.convert_to_tensor(np.asarray(self.boundaries, "float32"))
        below = keras.ops.less(keras.ops.expand_dims(inputs, -1), bounds)
        return keras.ops.sum(keras.ops.cast(keras.ops.logical_not(below), "int32"), axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(tuple(inputs.shape), "int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "boundaries": self.boundaries}


__all__ = ["BatchGather", "Bucketize", "Gather", "GatherND", "OneHot"]
