"""Generic layers for TFLite math ops with no exact standard Keras layer, built from ``keras.ops``.

- :class:`Unary`: ``FLOOR``, ``NEG``, ``SIN``, ``COS``, ``LOGICAL_NOT``.
- :class:`Cast`: ``CAST``.
- :class:`Binary`: ``MINIMUM``, ``MAXIMUM``, ``ATAN2``; :class:`Compare`: the comparisons and
  ``LOGICAL_AND`` / ``LOGICAL_OR`` (bool outputs); :class:`Select`: ``SELECT`` / ``SELECT_V2``.
  Each operand is either a layer input or a fixed (not trainable) constant kept in the config.

Reductions, gathers and PACK are in :mod:`tflite2keras.layers.reduce`.

Each family maps an op name onto a ``keras.ops`` function name through a dict (data), so a
config names the function and nothing else.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Binary, Compare
    >>> x = np.array([[-1.5, 0.5, 2.0]], "float32")
    >>> np.asarray(Binary("minimum", constants=[None, {"value": 1.0, "dtype": "float32"}])(x)).tolist()
    [[-1.5, 0.5, 1.0]]
    >>> np.asarray(Compare("less", constants=[{"value": 0.0, "dtype": "float32"}, None])(x)).tolist()
    [[False, True, True]]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .padding import PACKAGE

#: op name -> keras.ops function, per family.
UNARY = {"floor": "floor", "negative": "negative", "sin": "sin", "cos": "cos", "logical_not": "logical_not"}
BINARY = {"minimum": "minimum", "maximum": "maximum", "arctan2": "arctan2"}
COMPARE = {"less": "less", "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal",
           "equal": "equal", "not_equal": "not_equal", "logical_and": "logical_and", "logical_or": "logical_or"}

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


class _Operands(keras.layers.Layer):
    """Base: ``fn`` of several operands, each a layer input or a fixed constant.

    Args:
        fn: the function's name in the family's table.
        constants: one entry per operand: None (taken from the inputs, in order) or
            ``{"value": nested list or scalar, "dtype": str}``. Default: all operands are inputs.
    """

    TABLE: dict[str, str] = {}
    ARITY = 2

    def __init__(self, fn: str, constants: Sequence[dict[str, Any] | None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        constants = list(constants) if constants is not None else [None] * self.ARITY
        self.constants = [None if c is None else {"value": np.asarray(c["value"], c["dtype"]).tolist(),
                                                  "dtype": keras.backend.standardize_dtype(c["dtype"])}
                          for c in constants]
        if len(self.constants) != self.ARITY:
            raise InvalidArgumentError(f"{type(self).__name__}: {len(self.constants)} operands, expected {self.ARITY}")
        self._values = [None if c is None else np.asarray(c["value"], c["dtype"]) for c in self.constants]
        self._call = _function(self.TABLE, fn, type(self).__name__) if self.TABLE else None

    def _operands(self, inputs: Any) -> list[Any]:
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(tensors) != sum(v is None for v in self._values):
            raise InvalidArgumentError(f"{self.name}: {len(tensors)} inputs for {self.constants}")
        it = iter(tensors)
        return [next(it) if v is None else v for v in self._values]

    def call(self, inputs: Any) -> Any:
        return self._call(*[keras.ops.convert_to_tensor(x) for x in self._operands(inputs)])

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = [input_shape] if sum(v is None for v in self._values) == 1 else list(input_shape)
        it = iter(shapes)
        return broadcast_shapes(*[tuple(next(it)) if v is None else v.shape for v in self._values])

    def _dtype(self, operands: list[Any]) -> Any:
        return operands[0].dtype

    def compute_output_spec(self, inputs: Any) -> Any:
        operands = self._operands(inputs)
        return _spec(broadcast_shapes(*[tuple(x.shape) for x in operands]), self._dtype(operands))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": self.fn, "constants": self.constants}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Binary(_Operands):
    """``fn(a, b)`` with broadcasting, ``fn`` one of :data:`BINARY`.

    Example:
        >>> import numpy as np
        >>> a, b = np.array([[1.0, -2.0]], "float32"), np.array([[0.5, 3.0]], "float32")
        >>> np.asarray(Binary("maximum")([a, b])).tolist()
        [[1.0, 3.0]]
    """

    TABLE = BINARY


@keras.saving.register_keras_serializable(package=PACKAGE)
class Compare(_Operands):
    """``fn(a, b)`` with broadcasting and a bool result, ``fn`` one of :data:`COMPARE`.

    Example:
        >>> import numpy as np
        >>> a, b = np.array([[1.0, -2.0]], "float32"), np.array([[0.5, 3.0]], "float32")
        >>> np.asarray(Compare("greater")([a, b])).tolist()
        [[True, False]]
    """

    TABLE = COMPARE

    def _dtype(self, operands: list[Any]) -> Any:
        return "bool"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Select(_Operands):
    """``where(condition, x, y)`` with broadcasting of all three (TFLite ``SELECT_V2``).

    Example:
        >>> import numpy as np
        >>> c, x = np.array([[True, False]]), np.array([[1.0, 2.0]], "float32")
        >>> np.asarray(Select(constants=[None, None, {"value": 0.0, "dtype": "float32"}])([c, x])).tolist()
        [[1.0, 0.0]]
    """

    ARITY = 3

    def __init__(self, fn: str = "where", constants: Sequence[dict[str, Any] | None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(fn, constants, **kwargs)
        self._call = keras.ops.where

    def _dtype(self, operands: list[Any]) -> Any:
        return operands[1].dtype


__all__ = ["Binary", "Cast", "Compare", "Select", "Unary", "broadcast_shapes"]
