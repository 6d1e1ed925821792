"""Layers for reductions and gathers with no exact standard Keras layer, built from ``keras.ops``.

- :class:`Reduce`: ``REDUCE_MAX``, ``REDUCE_MIN``, ``SUM``, ``REDUCE_PROD`` over non-batch axes.
- :class:`Gather`: ``GATHER`` with constant indices; :class:`Pack`: ``PACK``.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Reduce
    >>> np.asarray(Reduce("max", axes=[1])(np.array([[1.0, 3.0, 2.0]], "float32"))).tolist()
    [3.0]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import Shape, _function, _spec, broadcast_shapes
from .padding import PACKAGE

#: op name -> keras.ops function.
REDUCE = {"max": "max", "min": "min", "sum": "sum", "prod": "prod"}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Reduce(keras.layers.Layer):
    """``fn`` (one of :data:`REDUCE`) over the non-batch ``axes``, keeping them as 1 if ``keepdims``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        >>> np.asarray(Reduce("sum", axes=[2], keepdims=True)(x)).tolist()
        [[[3.0], [12.0]]]
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
        return self._call(inputs, axis=tuple(self.axes), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.keepdims:
            return tuple(1 if i in self.axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self.axes)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn, "axes": self.axes, "keepdims": self.keepdims}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Gather(keras.layers.Layer):
    """``take(x, indices, axis)`` with constant integer ``indices`` (any rank) on a non-batch axis.

    With constant ``params`` instead (a fixed lookup table, ``{"value": ..., "dtype": ...}``), the
    input is the integer indices and the result ``take(params, indices, axis=0)``: the batch axis
    then comes from the indices.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        >>> np.asarray(Gather([2, 0], axis=2)(x)).tolist()
        [[[2.0, 0.0], [5.0, 3.0]]]
        >>> table = {"value": [[0.5, 1.5], [2.5, 3.5]], "dtype": "float32"}
        >>> np.asarray(Gather(params=table, axis=0)(np.array([[1, 0]], "int32"))).tolist()
        [[[2.5, 3.5], [0.5, 1.5]]]
    """

    def __init__(self, indices: Any = None, axis: int = 0, params: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (indices is None) == (params is None):
            raise InvalidArgumentError("Gather: pass exactly one of constant indices and constant params")
        self.axis = int(axis)
        self.indices = None if indices is None else np.asarray(indices, "int32").tolist()
        self.params = None if params is None else {"value": np.asarray(params["value"], params["dtype"]).tolist(),
                                                   "dtype": keras.backend.standardize_dtype(params["dtype"])}
        if (self.params is None and self.axis <= 0) or (self.params is not None and self.axis != 0):
            raise InvalidArgumentError(f"Gather: axis {self.axis} must be a non-batch axis (>= 1), or 0 for constant params")
        self._indices = None if indices is None else np.asarray(self.indices, "int32")
        self._params = None if params is None else np.asarray(self.params["value"], self.params["dtype"])

    def call(self, inputs: Any) -> Any:
        if self._params is not None:
            return keras.ops.take(keras.ops.convert_to_tensor(self._params), inputs, axis=0)
        return keras.ops.take(inputs, keras.ops.convert_to_tensor(self._indices), axis=self.axis)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self._params is not None:
            return tuple(input_shape) + self._params.shape[1:]
        shape = tuple(input_shape)
        return shape[:self.axis] + self._indices.shape + shape[self.axis + 1:]

    def compute_output_spec(self, inputs: Any) -> Any:
        dtype = inputs.dtype if self._params is None else self._params.dtype
        return _spec(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "indices": self.indices, "axis": self.axis, "params": self.params}


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
        self.axis = int(axis)
        if self.axis <= 0:
            raise InvalidArgumentError(f"Pack: axis {self.axis} must be a non-batch axis (>= 1)")

    def call(self, inputs: Any) -> Any:
        return keras.ops.stack(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shape = broadcast_shapes(*[tuple(s) for s in input_shape])
        return shape[:self.axis] + (len(input_shape),) + shape[self.axis:]

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape([tuple(x.shape) for x in inputs]), inputs[0].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


__all__ = ["Gather", "Pack", "Reduce"]
