"""Generic layers for TFLite unary math ops with no exact standard Keras layer, built from ``keras.ops``.

- :class:`Unary`: ``FLOOR``, ``CEIL``, ``ROUND`` (half to even), ``NEG``, ``ABS``, ``SIGN``, ``SIN``,
  ``COS``, ``EXP``, ``LOG``, ``SQRT``, ``RSQRT``, ``SQUARE``, ``LOGICAL_NOT``.
- :class:`Cast`: ``CAST``.

Operations of several operands (inputs, fixed constants or trainable variables) are in
:mod:`tflite2keras.layers.binary`; reductions and PACK in :mod:`tflite2keras.layers.reduce`.
This module also holds the shape helpers those share.

:data:`UNARY` maps an op name onto a ``keras.ops`` function name (data), so a config names the
function and nothing else.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Unary
    >>> np.asarray(Unary("round")(np.array([[0.5, 1.5, -2.5]], "float32"))).tolist()
    [[0.0, 2.0, -2.0]]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

#: op name -> keras.ops function.
UNARY = {name: name for name in ("floor", "ceil", "round", "negative", "abs", "sign", "sin", "cos", "exp", "log",
                                 "sqrt", "rsqrt", "square", "logical_not")}

Shape = tuple[int | None, ...]


def broadcast_shapes(*shapes: Sequence[int | None]) -> Shape:
    """Numpy broadcasting of shapes that may hold None (unknown, e.g. the batch)."""
    rank = max(len(s) for s in shapes)
    out: list[int | None] = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d is not None and d != 1}
        out.append(known.pop() if known else None if None in dims else 1)
    return tuple(out)


def _function(table: dict[str, str], fn: str, layer: str) -> Any:
    if fn not in table:
        raise InvalidArgumentError(f"{layer}: unknown fn {fn!r}; expected one of {sorted(table)}")
    return getattr(keras.ops, table[fn])


def _spec(shape: Shape, dtype: Any) -> Any:
    return keras.KerasTensor(shape, dtype=keras.backend.standardize_dtype(dtype))


@keras.saving.register_keras_serializable(package=PACKAGE)
class Unary(keras.layers.Layer):
    """``fn(x)`` element-wise, ``fn`` one of :data:`UNARY`.

    Example:
        >>> import numpy as np
        >>> np.asarray(Unary("floor")(np.array([[-1.5, 2.5]], "float32"))).tolist()
        [[-2.0, 2.0]]
    """

    def __init__(self, fn: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        self._call = _function(UNARY, fn, type(self).__name__)

    def call(self, inputs: Any) -> Any:
        return self._call(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Cast(keras.layers.Layer):
    """``x`` cast to dtype ``to`` (float to integer truncates toward zero, as TFLite's CAST).

    Example:
        >>> import numpy as np
        >>> np.asarray(Cast("int32")(np.array([[-1.5, 2.5]], "float32"))).tolist()
        [[-1, 2]]
    """

    def __init__(self, to: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to = keras.backend.standardize_dtype(to)

    def call(self, inputs: Any) -> Any:
        return keras.ops.cast(inputs, self.to)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(self.compute_output_shape(inputs.shape), self.to)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "to": self.to}


__all__ = ["Cast", "Unary", "broadcast_shapes"]
