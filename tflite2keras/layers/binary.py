"""Element-wise layers of several operands, each a layer input, a fixed constant or a trainable variable.

- :class:`Binary`: the arithmetic of two operands with broadcasting (TFLite ``ADD``, ``SUB``, ``MUL``,
  ``DIV``, ``POW``, ``FLOOR_DIV``, ``FLOOR_MOD``, ``SQUARED_DIFFERENCE``, ``MINIMUM``, ``MAXIMUM``,
  ``ATAN2``, ``RIGHT_SHIFT``, ``BITWISE_XOR``). An operand that is a float weight in the TFLite file
  is a trainable variable named after its slot, ``lhs`` or ``rhs``, so that fine-tuning can change it.
- :class:`Compare`: the comparisons and ``LOGICAL_AND`` / ``LOGICAL_OR`` (bool outputs);
  :class:`Select`: ``SELECT`` / ``SELECT_V2``. Their constant operands are fixed (no gradient
  reaches them).

Integer division by 0, on which TFLite's kernels fail, gives 0 (TensorFlow would raise).
A fixed constant is kept in the config as ``{"value": nested list, "dtype": str}``; a variable
operand as its shape (its value comes from the weights, e.g. the transplant).

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Binary, Compare
    >>> x = np.array([[-1.5, 0.5, 2.0]], "float32")
    >>> np.asarray(Binary("minimum", constants=[None, {"value": 1.0, "dtype": "float32"}])(x)).tolist()
    [[-1.5, 0.5, 1.0]]
    >>> np.asarray(Compare("less", constants=[{"value": 0.0, "dtype": "float32"}, None])(x)).tolist()
    [[False, True, True]]
    >>> layer = Binary("subtract", variable_shapes=[[3], None])
    >>> np.asarray(layer(x)).tolist(), [v.name for v in layer.trainable_weights]
    ([[1.5, -0.5, -2.0]], ['lhs'])
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import Shape, _spec, broadcast_shapes
from .padding import PACKAGE


def _is_integer(x: Any) -> bool:
    return keras.backend.standardize_dtype(x.dtype).startswith(("int", "uint"))


def _integer(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``function`` on integers with a zero divisor giving 0: TFLite's kernel fails there ("Division by 0")
    and TensorFlow would raise, so a model fed zeros (in training, or by ``convert``'s check) still runs."""
    def safe(a: Any, b: Any) -> Any:
        zero = keras.ops.equal(b, 0)
        out = function(a, keras.ops.where(zero, keras.ops.ones_like(b), b))
        return keras.ops.where(zero, keras.ops.zeros_like(out), out)
    return safe


@_integer
def _truncate_divide(a: Any, b: Any) -> Any:
    floor = keras.ops.floor_divide(a, b)
    inexact = keras.ops.not_equal(keras.ops.mod(a, b), 0)
    negative = keras.ops.not_equal(keras.ops.less(a, 0), keras.ops.less(b, 0))
    return keras.ops.where(keras.ops.logical_and(inexact, negative), floor + 1, floor)


def divide(a: Any, b: Any) -> Any:
    """TFLite ``DIV``: ``a / b`` for floats; for integers the quotient truncated toward zero (C++ ``/``)."""
    return _truncate_divide(a, b) if _is_integer(a) else keras.ops.divide(a, b)


def floor_divide(a: Any, b: Any) -> Any:
    """TFLite ``FLOOR_DIV``: ``floor(a / b)``, the quotient taken in double precision as the kernel does.

    In float32, ``a / b`` can round up onto an integer ``m`` when the exact quotient lies just
    below it; TFLite's double quotient does not, so its floor is then ``m - 1``. ``fmod`` (exact)
    tells the two cases apart: the exact quotient is below ``m`` in magnitude when the
    remainder is close to ``|b|`` rather than to 0.
    """
    if _is_integer(a):
        return _integer(keras.ops.floor_divide)(a, b)
    quotient = keras.ops.divide(a, b)
    floor = keras.ops.floor(quotient)
    remainder = keras.ops.fmod(a, b)
    rounded = keras.ops.logical_and(keras.ops.equal(quotient, floor), keras.ops.not_equal(remainder, 0))
    smaller = keras.ops.greater(keras.ops.abs(remainder), keras.ops.abs(b) * 0.5)  # |a / b| < |floor|
    positive = keras.ops.equal(keras.ops.greater(a, 0), keras.ops.greater(b, 0))
    below = keras.ops.logical_and(rounded, keras.ops.equal(positive, smaller))
    return keras.ops.where(below, floor - 1, floor)


def floor_mod(a: Any, b: Any) -> Any:
    """TFLite ``FLOOR_MOD``: the truncated remainder ``fmod(a, b)``, plus ``b`` when it is non-zero
    and its sign differs from ``b``'s (integers and floats alike)."""
    return _integer(_floor_mod)(a, b) if _is_integer(a) else _floor_mod(a, b)


def _floor_mod(a: Any, b: Any) -> Any:
    remainder = keras.ops.fmod(a, b)
    shift = keras.ops.logical_and(keras.ops.not_equal(remainder, 0),
                                  keras.ops.not_equal(keras.ops.less(b, 0), keras.ops.less(remainder, 0)))
    return keras.ops.where(shift, remainder + b, remainder)


def right_shift(a: Any, b: Any) -> Any:
    """TFLite ``RIGHT_SHIFT``: ``a >> b`` (arithmetic for signed types), ``b`` clamped to ``[0, bits - 1]``."""
    bits = 8 * np.dtype(keras.backend.standardize_dtype(a.dtype)).itemsize
    return keras.ops.right_shift(a, keras.ops.clip(b, 0, bits - 1))


def squared_difference(a: Any, b: Any) -> Any:
    """TFLite ``SQUARED_DIFFERENCE``: ``(a - b) ** 2``."""
    return keras.ops.square(keras.ops.subtract(a, b))


#: fn name -> the function of two operands, per family.
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": keras.ops.add, "subtract": keras.ops.subtract, "multiply": keras.ops.multiply, "divide": divide,
    "power": keras.ops.power, "floor_divide": floor_divide, "floor_mod": floor_mod,
    "squared_difference": squared_difference, "minimum": keras.ops.minimum, "maximum": keras.ops.maximum,
    "arctan2": keras.ops.arctan2, "right_shift": right_shift, "bitwise_xor": keras.ops.bitwise_xor,
}
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    name: getattr(keras.ops, name) for name in ("less", "less_equal", "greater", "greater_equal", "equal",
                                                 "not_equal", "logical_and", "logical_or")}


class _Operands(keras.layers.Layer):
    """Base: ``fn`` of several operands, each a layer input, a fixed constant or a trainable variable.

    Args:
        fn: the function's name in the family's :attr:`TABLE`.
        constants: per operand, None or a fixed ``{"value": nested list or scalar, "dtype": str}``.
        variable_shapes: per operand, None or the shape of a trainable float variable named
            ``ROLES[i]`` (only where :attr:`VARIABLES` allows). An operand that is neither comes
            from the inputs, in order. Default: all operands are inputs.
    """

    TABLE: dict[str, Callable[..., Any]] = {}
    ARITY = 2
    ROLES: tuple[str, ...] = ("lhs", "rhs")
    VARIABLES = False

    def __init__(self, fn: str, constants: Sequence[dict[str, Any] | None] | None = None,
                 variable_shapes: Sequence[Sequence[int] | None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        if self.TABLE and fn not in self.TABLE:
            raise InvalidArgumentError(f"{name}: unknown fn {fn!r}; expected one of {sorted(self.TABLE)}")
        self.fn = fn
        constants = list(constants) if constants is not None else [None] * self.ARITY
        shapes = list(variable_shapes) if variable_shapes is not None else [None] * self.ARITY
        if len(constants) != self.ARITY or len(shapes) != self.ARITY:
            raise InvalidArgumentError(f"{name}: {len(constants)} constants and {len(shapes)} variable shapes "
                                       f"for {self.ARITY} operands")
        if any(s is not None for s in shapes) and not self.VARIABLES:
            raise InvalidArgumentError(f"{name}: takes no variable operands (its constants are fixed)")
        if any(c is not None and s is not None for c, s in zip(constants, shapes)):
            raise InvalidArgumentError(f"{name}: an operand is both a constant and a variable")
        self.constants = [None if c is None else {"value": np.asarray(c["value"], c["dtype"]).tolist(),
                                                  "dtype": keras.backend.standardize_dtype(c["dtype"])}
                          for c in constants]
        self.variable_shapes = [None if s is None else [int(d) for d in s] for s in shapes]
        self._values = [None if c is None else np.asarray(c["value"], c["dtype"]) for c in self.constants]
        self._inputs = [c is None and s is None for c, s in zip(self.constants, self.variable_shapes)]
        if not any(self._inputs):
            raise InvalidArgumentError(f"{name}: every operand is a constant or a variable")
        self._call = self.TABLE.get(fn)

    def build(self, input_shape: Any) -> None:
        for role, shape in zip(self.ROLES, self.variable_shapes):
            if shape is not None:
                setattr(self, role, self.add_weight(name=role, shape=tuple(shape), initializer="zeros",
                                                    trainable=True))

    def _tensors(self, inputs: Any) -> list[Any]:
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(tensors) != sum(self._inputs):
            raise InvalidArgumentError(f"{self.name}: {len(tensors)} inputs for {sum(self._inputs)} input operands")
        return tensors

    def _operands(self, inputs: Any) -> list[Any]:
        it = iter(self._tensors(inputs))
        return [next(it) if is_input else value if value is not None else getattr(self, role)
                for is_input, value, role in zip(self._inputs, self._values, self.ROLES)]

    def call(self, inputs: Any) -> Any:
        return self._call(*[keras.ops.convert_to_tensor(x) for x in self._operands(inputs)])

    def _shapes_dtypes(self, shapes: list[Any], dtypes: list[Any]) -> tuple[list[Shape], list[Any]]:
        it = iter(zip(shapes, dtypes))
        out_shapes, out_dtypes = [], []
        for is_input, value, shape in zip(self._inputs, self._values, self.variable_shapes):
            if is_input:
                s, d = next(it)
            elif value is not None:
                s, d = value.shape, value.dtype
            else:
                s, d = shape, self.variable_dtype
            out_shapes.append(tuple(s))
            out_dtypes.append(keras.backend.standardize_dtype(d))
        return out_shapes, out_dtypes

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = [input_shape] if sum(self._inputs) == 1 else list(input_shape)
        return broadcast_shapes(*self._shapes_dtypes(shapes, [None] * len(shapes))[0])

    def _dtype(self, dtypes: list[Any]) -> Any:
        return dtypes[0]

    def compute_output_spec(self, inputs: Any) -> Any:
        tensors = self._tensors(inputs)
        shapes, dtypes = self._shapes_dtypes([x.shape for x in tensors], [x.dtype for x in tensors])
        return _spec(broadcast_shapes(*shapes), self._dtype(dtypes))

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "fn": self.fn, "constants": self.constants}
        return {**config, "variable_shapes": self.variable_shapes} if self.VARIABLES else config


@keras.saving.register_keras_serializable(package=PACKAGE)
class Binary(_Operands):
    """``fn(lhs, rhs)`` with broadcasting, ``fn`` one of :data:`BINARY`; either operand may be a
    trainable variable (``lhs`` / ``rhs``).

    Example:
        >>> import numpy as np
        >>> a, b = np.array([[7, -7]], "int32"), np.array([[2, 2]], "int32")
        >>> np.asarray(Binary("floor_divide")([a, b])).tolist(), np.asarray(Binary("divide")([a, b])).tolist()
        ([[3, -4]], [[3, -3]])
    """

    TABLE = BINARY
    VARIABLES = True


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

    def _dtype(self, dtypes: list[Any]) -> Any:
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
    ROLES = ("condition", "x", "y")

    def __init__(self, fn: str = "where", constants: Sequence[dict[str, Any] | None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(fn, constants, **kwargs)
        self._call = keras.ops.where

    def _dtype(self, dtypes: list[Any]) -> Any:
        return dtypes[1]


__all__ = ["BINARY", "COMPARE", "Binary", "Compare", "Select", "divide", "floor_divide", "floor_mod",
           "right_shift", "squared_difference"]
