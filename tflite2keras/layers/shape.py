"""Layers for TFLite ops that split, repeat or fill tensors, built from ``keras.ops``.

- :class:`Split`: ``SPLIT`` / ``SPLIT_V`` (one output per piece); :class:`Unstack`: ``UNPACK``.
- :class:`Tile`: ``TILE``; :class:`BroadcastTo`: ``BROADCAST_TO`` (of the input or of a constant).
- :class:`Fill`: ``ZEROS_LIKE`` / ``ONES_LIKE`` / ``FILL``; :class:`Range`: ``RANGE`` whose length is the batch.
- :class:`SliceUpdate`: ``DYNAMIC_UPDATE_SLICE`` with constant start indices.

Layers whose output does not depend on the input's values (:class:`Fill` with a ``shape``,
:class:`Range`, :class:`BroadcastTo` of a constant) read only the input's batch size.
The diagonal and sequence-reversal layers are in :mod:`tflite2keras.layers.matrix`.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Split
    >>> x = np.arange(10, dtype="float32").reshape(1, 5, 2)
    >>> [tuple(p.shape) for p in Split(axis=1, sizes=[2, 3])(x)]
    [(1, 2, 2), (1, 3, 2)]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import Shape, _spec
from .padding import PACKAGE


def _non_batch(axis: int, layer: str) -> int:
    if int(axis) <= 0:
        raise InvalidArgumentError(f"{layer}: axis {axis} must be a non-batch axis (>= 1)")
    return int(axis)


def _constant(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A constant's config form: ``{"value": nested list, "dtype": str}``."""
    if value is None:
        return None
    array = np.asarray(value["value"], value["dtype"])
    return {"value": array.tolist(), "dtype": keras.backend.standardize_dtype(str(array.dtype))}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Split(keras.layers.Layer):
    """Split ``axis`` into consecutive pieces of the given ``sizes`` (a list of outputs).

    Example:
        >>> import numpy as np
        >>> parts = Split(axis=2, sizes=[1, 1])(np.array([[[1.0, 2.0]]], "float32"))
        >>> [np.asarray(p).tolist() for p in parts]
        [[[[1.0]]], [[[2.0]]]]
    """

    def __init__(self, axis: int, sizes: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _non_batch(axis, "Split")
        self.sizes = [int(s) for s in sizes]
        if not self.sizes or min(self.sizes) < 0:
            raise InvalidArgumentError(f"Split: sizes {self.sizes} must be non-negative, at least one")

    def call(self, inputs: Any) -> list[Any]:
        ends = np.cumsum(self.sizes).tolist()
        return [inputs[(slice(None),) * self.axis + (slice(b, e),)] for b, e in zip([0] + ends[:-1], ends)]

    def compute_output_spec(self, inputs: Any) -> list[Any]:
        shape = list(inputs.shape)
        return [_spec(tuple(shape[:self.axis] + [s] + shape[self.axis + 1:]), inputs.dtype) for s in self.sizes]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "sizes": self.sizes}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Unstack(keras.layers.Layer):
    """The ``num`` slices of ``axis``, each without that axis (a list of outputs).

    Example:
        >>> import numpy as np
        >>> [np.asarray(p).tolist() for p in Unstack(axis=1, num=2)(np.array([[1.0, 2.0]], "float32"))]
        [[1.0], [2.0]]
    """

    def __init__(self, axis: int, num: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _non_batch(axis, "Unstack")
        self.num = int(num)

    def call(self, inputs: Any) -> list[Any]:
        return [inputs[(slice(None),) * self.axis + (i,)] for i in range(self.num)]

    def compute_output_spec(self, inputs: Any) -> list[Any]:
        shape = tuple(inputs.shape)
        return [_spec(shape[:self.axis] + shape[self.axis + 1:], inputs.dtype) for _ in range(self.num)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "num": self.num}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Tile(keras.layers.Layer):
    """Repeat each non-batch axis ``multiples[k]`` times (the batch axis once).

    Example:
        >>> import numpy as np
        >>> np.asarray(Tile([2])(np.array([[1, 2]], "int32"))).tolist()
        [[1, 2, 1, 2]]
    """

    def __init__(self, multiples: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiples = [int(m) for m in multiples]
        if any(m < 0 for m in self.multiples):
            raise InvalidArgumentError(f"Tile: multiples {self.multiples} must be non-negative")

    def call(self, inputs: Any) -> Any:
        return keras.ops.tile(inputs, [1, *self.multiples])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *[None if d is None else d * m for d, m in zip(input_shape[1:], self.multiples)])

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "multiples": self.multiples}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BroadcastTo(keras.layers.Layer):
    """Broadcast to ``(batch, *shape)``: the input itself, or a fixed ``constant`` (then the input
    only gives the batch size).

    Example:
        >>> import numpy as np
        >>> np.asarray(BroadcastTo([2, 3])(np.array([[[1.0], [2.0]]], "float32"))).tolist()
        [[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]]
        >>> np.asarray(BroadcastTo([2], constant={"value": 7, "dtype": "int32"})(np.zeros((2, 5)))).tolist()
        [[7, 7], [7, 7]]
    """

    def __init__(self, shape: Sequence[int], constant: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = [int(d) for d in shape]
        self.constant = _constant(constant)
        self._value = None if constant is None else np.asarray(self.constant["value"], self.constant["dtype"])

    def call(self, inputs: Any) -> Any:
        source = inputs if self._value is None else keras.ops.convert_to_tensor(self._value)
        return keras.ops.broadcast_to(source, (keras.ops.shape(inputs)[0], *self.shape))

    def compute_output_spec(self, inputs: Any) -> Any:
        dtype = inputs.dtype if self._value is None else self._value.dtype
        return _spec((inputs.shape[0], *self.shape), dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": self.shape, "constant": self.constant}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Fill(keras.layers.Layer):
    """A tensor filled with ``value``: the input's shape, or ``(batch, *shape)`` when ``shape`` is given.

    Example:
        >>> import numpy as np
        >>> np.asarray(Fill(1, "int32")(np.zeros((1, 2), "float32"))).tolist()
        [[1, 1]]
        >>> tuple(Fill(0.5, "float32", shape=[3])(np.zeros((2, 7), "float32")).shape)
        (2, 3)
    """

    def __init__(self, value: float | int | bool, value_dtype: str = "float32", shape: Sequence[int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fill_dtype = keras.backend.standardize_dtype(value_dtype)
        self.value = np.asarray(value, self.fill_dtype).item()
        self.shape = None if shape is None else [int(d) for d in shape]

    def call(self, inputs: Any) -> Any:
        if self.shape is None:
            return keras.ops.full_like(inputs, self.value, dtype=self.fill_dtype)
        return keras.ops.full((keras.ops.shape(inputs)[0], *self.shape), self.value, dtype=self.fill_dtype)

    def compute_output_spec(self, inputs: Any) -> Any:
        shape = tuple(inputs.shape) if self.shape is None else (inputs.shape[0], *self.shape)
        return _spec(shape, self.fill_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "value": self.value, "value_dtype": self.fill_dtype,
                "shape": self.shape}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Range(keras.layers.Layer):
    """``start + delta * [0, 1, ..., batch - 1]``: a RANGE whose length is the input's batch size.

    Float results are ``start + delta * i``, which can differ from TFLite's running sum
    (``value += delta``) in the last bits.

    Example:
        >>> import numpy as np
        >>> np.asarray(Range(start=1, delta=3, value_dtype="int32")(np.zeros((4, 2), "float32"))).tolist()
        [1, 4, 7, 10]
    """

    def __init__(self, start: float | int, delta: float | int, value_dtype: str = "int32", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.range_dtype = keras.backend.standardize_dtype(value_dtype)
        self.start = np.asarray(start, self.range_dtype).item()
        self.delta = np.asarray(delta, self.range_dtype).item()

    def call(self, inputs: Any) -> Any:
        steps = keras.ops.arange(keras.ops.shape(inputs)[0], dtype=self.range_dtype)
        return keras.ops.cast(steps * self.delta + self.start, self.range_dtype)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec((inputs.shape[0],), self.range_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "start": self.start, "delta": self.delta,
                "value_dtype": self.range_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SliceUpdate(keras.layers.Layer):
    """``[operand, update]`` -> the operand with ``update`` written at non-batch offsets ``start``
    (the batch axis from 0: the update has the operand's batch).

    Example:
        >>> import numpy as np
        >>> x, u = np.zeros((1, 4), "float32"), np.ones((1, 2), "float32")
        >>> np.asarray(SliceUpdate([1])([x, u])).tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """

    def __init__(self, start: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = [int(s) for s in start]
        if any(s < 0 for s in self.start):
            raise InvalidArgumentError(f"SliceUpdate: start {self.start} must be non-negative")

    def call(self, inputs: Any) -> Any:
        operand, update = inputs
        return keras.ops.slice_update(operand, (0, *self.start), update)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(tuple(inputs[0].shape), inputs[0].dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "start": self.start}


__all__ = ["BroadcastTo", "Fill", "Range", "SliceUpdate", "Split", "Tile", "Unstack"]
