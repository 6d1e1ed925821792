"""Layers for reductions and scans with no exact standard Keras layer, built from ``keras.ops``.

- :class:`Reduce`: ``REDUCE_MAX``, ``REDUCE_MIN``, ``SUM``, ``REDUCE_PROD``, ``MEAN``, ``REDUCE_ANY``,
  ``REDUCE_ALL`` over non-batch axes.
- :class:`ArgReduce`: ``ARG_MAX`` / ``ARG_MIN``; :class:`CumSum`: ``CUMSUM``; :class:`TopK`: ``TOPK_V2``.
- :class:`Pack`: ``PACK``. Gathers and scatters are in :mod:`tflite2keras.layers.index`.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Reduce
    >>> np.asarray(Reduce("max", axes=[1])(np.array([[1.0, 3.0, 2.0]], "float32"))).tolist()
    [3.0]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .math import Shape, _function, _spec, broadcast_shapes
from .padding import PACKAGE

#: op name -> keras.ops function.
REDUCE = {"max": "max", "min": "min", "sum": "sum", "prod": "prod", "mean": "mean", "any": "any", "all": "all"}
ARG_REDUCE = {"argmax": "argmax", "argmin": "argmin"}


def _non_batch_axis(axis: int, layer: str) -> int:
    if int(axis) <= 0:
        raise InvalidArgumentError(f"{layer}: axis {axis} must be a non-batch axis (>= 1)")
    return int(axis)


def _is_integer(dtype: Any) -> bool:
    return keras.backend.standardize_dtype(dtype).startswith(("int", "uint"))


@keras.saving.register_keras_serializable(package=PACKAGE)
class Reduce(keras.layers.Layer):
    """``fn`` (one of :data:`REDUCE`) over the non-batch ``axes``, keeping them as 1 if ``keepdims``.

    The ``"mean"`` of integers is TFLite's: the sum divided by the count, truncated toward zero.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        >>> np.asarray(Reduce("sum", axes=[2], keepdims=True)(x)).tolist()
        [[[3.0], [12.0]]]
        >>> np.asarray(Reduce("mean", axes=[1])(np.array([[-7, 2]], "int32"))).tolist()
        [-2]
    """

    def __init__(self, fn: str, axes: Sequence[int], keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        self.axes = sorted(int(a) for a in axes)
        self.keepdims = bool(keepdims)
        if any(a <= 0 for a in self.axes):
            raise InvalidArgumentError(f"Reduce: axes {self.axes} must be non-batch axes (>= 1)")
        self._call = _function(REDUCE, fn, "Reduce")

    def call(self, inputs: Any) -> Any:
        axis = tuple(self.axes)
        if self.fn == "mean" and _is_integer(inputs.dtype):
            total = keras.ops.sum(inputs, axis=axis, keepdims=self.keepdims)
            count = 1
            for a in axis:
                count = count * keras.ops.shape(inputs)[a]
            count = keras.ops.cast(count, total.dtype)
            return keras.ops.sign(total) * keras.ops.floor_divide(keras.ops.abs(total), count)
        return self._call(inputs, axis=axis, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.keepdims:
            return tuple(1 if i in self.axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self.axes)

    def compute_output_spec(self, inputs: Any) -> Any:
        dtype = "bool" if self.fn in ("any", "all") else inputs.dtype
        return _spec(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn, "axes": self.axes, "keepdims": self.keepdims}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ArgReduce(keras.layers.Layer):
    """The index of the largest (``"argmax"``) or smallest (``"argmin"``) value along a non-batch
    ``axis``, which is dropped; the first such index on ties, as TFLite. The result has ``index_dtype``.

    Example:
        >>> import numpy as np
        >>> np.asarray(ArgReduce("argmax", axis=1)(np.array([[1.0, 3.0, 3.0]], "float32"))).tolist()
        [1]
        >>> np.asarray(ArgReduce("argmax", axis=1)(np.array([[-0.0, -1.0, 0.0]], "float32"))).tolist()
        [0]
    """

    def __init__(self, fn: str, axis: int, index_dtype: str = "int32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        self.axis = _non_batch_axis(axis, "ArgReduce")
        self.index_dtype = keras.backend.standardize_dtype(index_dtype)
        if not _is_integer(self.index_dtype):
            raise InvalidArgumentError(f"ArgReduce: index_dtype {index_dtype!r} is not an integer type")
        _function(ARG_REDUCE, fn, "ArgReduce")  # raises for an unknown fn

    def call(self, inputs: Any) -> Any:
        # Not keras.ops.argmax: on TensorFlow it ranks +0.0 above -0.0, where TFLite finds them equal
        # and returns the first. The first index holding the extreme value (compared with ==) is
        # the same on every backend.
        if keras.backend.standardize_dtype(inputs.dtype) == "bool":
            inputs = keras.ops.cast(inputs, "int32")
        elif keras.backend.standardize_dtype(inputs.dtype).startswith(("float", "bfloat")):
            worst = float("-inf") if self.fn == "argmax" else float("inf")  # a NaN never wins, as in TF
            inputs = keras.ops.where(keras.ops.isnan(inputs), worst, inputs)
        extreme = (keras.ops.max if self.fn == "argmax" else keras.ops.min)(inputs, axis=self.axis, keepdims=True)
        size = keras.ops.shape(inputs)[self.axis]
        positions = keras.ops.reshape(keras.ops.arange(size, dtype="int32"),
                                      [-1 if i == self.axis else 1 for i in range(len(inputs.shape))])
        first = keras.ops.min(keras.ops.where(keras.ops.equal(inputs, extreme), positions, size), axis=self.axis)
        return keras.ops.cast(first, self.index_dtype)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(d for i, d in enumerate(input_shape) if i != self.axis)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), self.index_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn, "axis": self.axis, "index_dtype": self.index_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CumSum(keras.layers.Layer):
    """Running sum along a non-batch ``axis``; ``exclusive`` leaves each element out of its own sum,
    ``reverse`` sums from the end (TFLite ``CUMSUM``).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0, 3.0]], "float32")
        >>> np.asarray(CumSum(1, exclusive=True, reverse=True)(x)).tolist()
        [[5.0, 3.0, 0.0]]
    """

    def __init__(self, axis: int, exclusive: bool = False, reverse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _non_batch_axis(axis, "CumSum")
        self.exclusive = bool(exclusive)
        self.reverse = bool(reverse)

    def call(self, inputs: Any) -> Any:
        x = keras.ops.flip(inputs, axis=self.axis) if self.reverse else inputs
        y = keras.ops.cumsum(x, axis=self.axis)
        if self.exclusive:  # shift by one: 0, x0, x0 + x1, ...
            head, body = [slice(None)] * len(x.shape), [slice(None)] * len(x.shape)
            head[self.axis], body[self.axis] = slice(0, 1), slice(0, -1)
            y = keras.ops.concatenate([keras.ops.zeros_like(x[tuple(head)]), y[tuple(body)]], axis=self.axis)
        return keras.ops.flip(y, axis=self.axis) if self.reverse else y

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) <= self.axis:
            raise InvalidArgumentError(f"CumSum: input shape {tuple(input_shape)} has no axis {self.axis}")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "exclusive": self.exclusive, "reverse": self.reverse}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TopK(keras.layers.Layer):
    """The ``k`` largest values along the last axis, in decreasing order, and their indices
    (``index_dtype``); equal values in increasing index order, as TFLite ``TOPK_V2``.

    Example:
        >>> import numpy as np
        >>> values, indices = TopK(2)(np.array([[1.0, 3.0, 2.0, 3.0]], "float32"))
        >>> np.asarray(values).tolist(), np.asarray(indices).tolist()
        ([[3.0, 3.0]], [[1, 3]])
    """

    def __init__(self, k: int, index_dtype: str = "int32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = int(k)
        self.index_dtype = keras.backend.standardize_dtype(index_dtype)
        if self.k < 0 or not _is_integer(self.index_dtype):
            raise InvalidArgumentError(f"TopK: k {k} must be >= 0 and index_dtype {index_dtype!r} an integer type")

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or (input_shape[-1] is not None and input_shape[-1] < self.k):
            raise InvalidArgumentError(f"TopK: k {self.k} needs a non-batch last axis of at least k, "
                                       f"received shape {tuple(input_shape)}")

    def call(self, inputs: Any) -> list[Any]:
        values, indices = keras.ops.top_k(inputs, self.k, sorted=True)
        return [values, keras.ops.cast(indices, self.index_dtype)]

    def compute_output_shape(self, input_shape: Shape) -> list[Shape]:
        shape = tuple(input_shape[:-1]) + (self.k,)
        return [shape, shape]

    def compute_output_spec(self, inputs: Any) -> list[Any]:
        shape = tuple(inputs.shape[:-1]) + (self.k,)
        return [_spec(shape, inputs.dtype), _spec(shape, self.index_dtype)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k, "index_dtype": self.index_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Pack(keras.layers.Layer):
    """``stack(inputs, axis)``; ``axis`` counts in the output and is not the batch axis.

    Example:
        >>> import numpy as np
        >>> a, b = np.zeros((1, 2, 3), "float32"), np.ones((1, 2, 3), "float32")
        >>> tuple(Pack(axis=3)([a, b]).shape)
        (1, 2, 3, 2)
    """

    def __init__(self, axis: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _non_batch_axis(axis, "Pack")

    def call(self, inputs: Any) -> Any:
        return keras.ops.stack(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shape = broadcast_shapes(*[tuple(s) for s in input_shape])
        return shape[:self.axis] + (len(input_shape),) + shape[self.axis:]

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape([tuple(x.shape) for x in inputs]), inputs[0].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


__all__ = ["ArgReduce", "CumSum", "Pack", "Reduce", "TopK"]
