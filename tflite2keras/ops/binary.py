"""Element-wise ops of two operands (DIV, POW, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, MINIMUM,
MAXIMUM, ATAN2, RIGHT_SHIFT, BITWISE_XOR), ADD_N, and the operand analysis they share with
ADD / SUB / MUL (:mod:`.elementwise`) and the comparisons (:mod:`.math`).

A float constant operand stored in the file is a weight: the layer holds it as a trainable
variable named after its slot (``lhs`` / ``rhs``, see :data:`OPERAND_WEIGHTS`), which the
transplant fills. An integer or bool constant, or a value folded from shape arithmetic, stays
fixed in the layer's config. Every tensor operand must have the output's rank, so that its batch
axis is the output's; a constant may not span the batch axis.

Each op also has a numpy ``fold`` with TFLite's semantics (floor_div.cc, floor_mod.cc, div.cc,
maximum_minimum.h), used to fold shape arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import BatchAxisError, UnsupportedOpError
from ..tflite.model import Operator
from . import fused
from .contract import ConvertContext
from .layout import RESHAPE
from .prepare_shapes import broadcastable
from .registry import OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

#: TFLite opcode -> :data:`tflite2keras.layers.binary.BINARY` fn.
BINARY_OPS = {"DIV": "divide", "POW": "power", "FLOOR_DIV": "floor_divide", "FLOOR_MOD": "floor_mod",
              "SQUARED_DIFFERENCE": "squared_difference", "MINIMUM": "minimum", "MAXIMUM": "maximum",
              "ATAN2": "arctan2", "RIGHT_SHIFT": "right_shift", "BITWISE_XOR": "bitwise_xor"}
#: Integer-only ops: their constants are never weights.
INTEGER_OPS = {"RIGHT_SHIFT", "BITWISE_XOR"}
#: Ops whose kernel fails on a zero (integer) divisor, and the types it checks.
DIVIDES = {"DIV": "iu", "FLOOR_DIV": "iuf", "FLOOR_MOD": "iu"}
#: Tensor-tensor ops a standard Keras merge layer computes exactly (same shapes).
MERGE_LAYERS = {"MINIMUM": "Minimum", "MAXIMUM": "Maximum"}
#: The weight slots of an op whose either operand may be a float constant (optional: skipped when a tensor).
#: The second comes first: its tensor's name is the layer's first candidate name (see ``mapping.op_names``),
#: and the TF converter puts a constant second.
OPERAND_WEIGHTS = (WeightSlot(1, "rhs", RESHAPE), WeightSlot(0, "lhs", RESHAPE))


@dataclass
class Operands:
    """An op's operands: the Keras tensors in slot order and, per slot, a fixed constant or a variable shape."""

    tensors: list[Any]
    constants: list[dict[str, Any] | None]
    variable_shapes: list[list[int] | None]

    @property
    def feed(self) -> Any:
        """The layer's input: the one tensor, or the list of them."""
        return self.tensors[0] if len(self.tensors) == 1 else self.tensors

    @property
    def has_variables(self) -> bool:
        """True when some operand is a trainable variable."""
        return any(s is not None for s in self.variable_shapes)


def operands(ctx: ConvertContext, op: Operator, slots: range, trainable: bool = False) -> Operands:
    """The op's operands; with ``trainable``, a float constant stored in the file becomes a variable.

    With fixed shapes (``ctx.fixed_batch``), operands broadcast along axis 0 too (full-tensor layers).

    Raises:
        BatchAxisError: an operand would broadcast over the batch axis (axis 0 kept free).
        UnsupportedOpError: all operands are constant.
    """
    rank = len(ctx.tfl.tensor(op.outputs[0]).shape)
    out = Operands([], [], [])
    for slot in slots:
        tensor = ctx.tfl.tensor(op.inputs[slot])
        fixed = ctx.fixed_batch is not None  # axis 0 is data: operands broadcast along it as numpy does
        if not ctx.is_constant(op, slot):
            if len(tensor.shape) != rank and not fixed:
                raise BatchAxisError(f"op {op.index} ({op.opcode}) input {slot} of shape {tensor.shape} "
                                     f"broadcasts against the batch axis of the output (rank {rank})")
            out.tensors.append(ctx.input(op, slot))
            out.constants.append(None)
            out.variable_shapes.append(None)
            continue
        value = np.asarray(ctx.constant(op, slot)).reshape(tensor.shape)
        if not fixed and (value.ndim > rank or (value.ndim == rank and value.shape[0] != 1)):
            raise BatchAxisError(f"op {op.index} ({op.opcode}) constant input {slot} of shape "
                                 f"{value.shape} spans the batch axis")
        if value.dtype.kind == "f":
            value = value.astype(np.float32)
        if trainable and value.dtype.kind == "f" and ctx.tfl.is_constant(op.inputs[slot]):
            out.constants.append(None)
            out.variable_shapes.append(list(value.shape))
        else:
            out.constants.append({"value": value.tolist(), "dtype": str(value.dtype)})
            out.variable_shapes.append(None)
    if not out.tensors:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has only constant inputs")
    return out


def binary_layer(ctx: ConvertContext, op: Operator, fn: str, found: Operands) -> Any:
    """A :class:`~tflite2keras.layers.Binary` for the op, registered for the transplant when it has variables."""
    from ..layers import Binary

    layer = Binary(fn, constants=found.constants, variable_shapes=found.variable_shapes,
                   name=ctx.name(op, found.has_variables))
    return ctx.takes_weights(layer, op) if found.has_variables else layer


def merge_layer(ctx: ConvertContext, op: Operator, merge: str) -> Any:
    """The Keras merge layer ``merge`` (``"Add"``, ...) for the op, computing in the output's dtype (a merge
    layer's default float32 policy would cast integer inputs)."""
    import keras

    dtype = ctx.dtype(op.outputs[0])
    return getattr(keras.layers, merge)(name=ctx.name(op), **({} if dtype == "float32" else {"dtype": dtype}))


def _check_divisor(ctx: ConvertContext, op: Operator) -> None:
    if not ctx.is_constant(op, 1):
        return
    value = np.asarray(ctx.constant(op, 1))
    if value.dtype.kind in DIVIDES[op.opcode] and not np.all(value != 0):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) divides by a constant 0, on which TFLite's kernel "
                                 "fails (\"Division by 0\")")


def convert_binary(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    if op.opcode in DIVIDES:
        _check_divisor(ctx, op)
    found = operands(ctx, op, range(2), trainable=op.opcode not in INTEGER_OPS)
    shapes = [tuple(ctx.tfl.tensor(i).shape) for i in op.inputs[:2]]
    if op.opcode in MERGE_LAYERS and len(found.tensors) == 2 and shapes[0] == shapes[1]:
        layer = merge_layer(ctx, op, MERGE_LAYERS[op.opcode])
    else:
        layer = binary_layer(ctx, op, BINARY_OPS[op.opcode], found)
    return [ctx.activate(layer(found.feed), op, layer.name)]


def convert_add_n(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """ADD_N: the sum of same-shaped tensors, in order (``keras.layers.Add``)."""
    import keras

    slots = range(len(op.inputs))
    if any(ctx.is_constant(op, s) for s in slots):
        raise UnsupportedOpError(f"op {op.index} (ADD_N) has a constant input; only tensor inputs are supported")
    tensors = operands(ctx, op, slots).tensors
    if len(tensors) == 1:
        return [keras.layers.Identity(name=ctx.name(op))(tensors[0])]
    return [merge_layer(ctx, op, "Add")(tensors)]


def _nonzero(op: Operator, b: np.ndarray) -> None:
    if b.dtype.kind in DIVIDES[op.opcode] and not np.all(b != 0):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) divides by 0, on which TFLite's kernel fails")


def np_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIV: IEEE ``a / b`` for floats; for integers C++'s quotient, truncated toward zero."""
    if a.dtype.kind == "f":
        return np.divide(a, b)
    return np.trunc(np.divide(a, b, dtype=np.float64)).astype(a.dtype)  # exact for 32-bit integers


def np_floor_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FLOOR_DIV: ``floor(double(a) / double(b))`` cast back to the input type, as floor_div.cc does."""
    return np.floor(np.divide(a, b, dtype=np.float64)).astype(a.dtype)


def np_floor_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FLOOR_MOD: ``fmod(a, b)``, plus ``b`` when that is non-zero and its sign differs from ``b``'s."""
    remainder = np.fmod(a, b)
    return np.where((remainder != 0) & ((b < 0) != (remainder < 0)), remainder + b, remainder)


#: opcode -> numpy function with TFLite's semantics (before the fused activation).
NUMPY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np_divide, "FLOOR_DIV": np_floor_divide,
    "FLOOR_MOD": np_floor_mod,
    "MAXIMUM": lambda a, b: np.where(a > b, a, b), "MINIMUM": lambda a, b: np.where(a < b, a, b),
}


def fold_binary(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """Evaluate a binary op of :data:`NUMPY` on known inputs, its fused activation applied.

    Raises:
        UnsupportedOpError: an integer divisor is 0 (TFLite's kernel fails), or the fused
            activation has no exact form.

    Example:
        >>> from tflite2keras.tflite.model import Operator
        >>> op = Operator(0, "FLOOR_DIV", 1, (0, 1), (2,))
        >>> fold_binary(op, [np.array([7, -7], np.int32), np.array([2, 2], np.int32)])[0].tolist()
        [3, -4]
    """
    a, b = (np.asarray(v) for v in values[:2])
    if op.opcode in DIVIDES:
        _nonzero(op, b)
    with np.errstate(all="ignore"):
        result = np.asarray(NUMPY[op.opcode](a, b)).astype(np.result_type(a, b))
    return [fused.clamp(op, result)]


for _opcode in BINARY_OPS:
    register_op(OpSpec(
        _opcode, layers=("Binary", *MERGE_LAYERS.get(_opcode, "").split()), converter=convert_binary,
        weights=() if _opcode in INTEGER_OPS else OPERAND_WEIGHTS, fused_activation=_opcode == "DIV",
        fold=fold_binary if _opcode in NUMPY else None, prepare=(broadcastable,)))
register_op(OpSpec("ADD_N", layers=("Add", "Identity"), converter=convert_add_n))
