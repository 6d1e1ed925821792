"""Element-wise math ops: unary functions, CAST, MINIMUM/MAXIMUM/ATAN2, comparisons, logic, SELECT.

A constant operand stays a fixed constant (in the layer's config), not a trainable weight.
Every tensor operand must have the output's rank, so that its batch axis is the output's; a
constant may not span the batch axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..registry import OpSpec, register_op

UNARY_OPS = {"FLOOR": "floor", "NEG": "negative", "SIN": "sin", "COS": "cos", "LOGICAL_NOT": "logical_not"}
BINARY_OPS = {"MINIMUM": "minimum", "MAXIMUM": "maximum", "ATAN2": "arctan2"}
COMPARE_OPS = {"LESS": "less", "LESS_EQUAL": "less_equal", "GREATER": "greater", "GREATER_EQUAL": "greater_equal",
               "EQUAL": "equal", "NOT_EQUAL": "not_equal", "LOGICAL_AND": "logical_and", "LOGICAL_OR": "logical_or"}
#: Tensor-tensor ops a standard Keras merge layer computes exactly (same shapes).
MERGE_LAYERS = {"MINIMUM": "Minimum", "MAXIMUM": "Maximum"}


def operands(ctx: Any, op: Any, slots: range) -> tuple[list[Any], list[dict[str, Any] | None]]:
    """The op's tensor operands and, per slot, None (a tensor) or the constant's value and dtype.

    Raises:
        UnsupportedOpError: an operand would broadcast over the batch axis, or all are constant.
    """
    rank = len(ctx.tfl.tensor(op.outputs[0]).shape)
    tensors, constants = [], []
    for slot in slots:
        tensor = ctx.tfl.tensor(op.inputs[slot])
        if ctx.is_constant(op, slot):
            value = np.asarray(ctx.constant(op, slot)).reshape(tensor.shape)
            if value.dtype.kind == "f":
                value = value.astype(np.float32)
            if value.ndim > rank or (value.ndim == rank and value.shape[0] != 1):
                raise UnsupportedOpError(f"op {op.index} ({op.opcode}) constant input {slot} of shape "
                                         f"{value.shape} spans the batch axis")
            constants.append({"value": value.tolist(), "dtype": str(value.dtype)})
        else:
            if len(tensor.shape) != rank:
                raise UnsupportedOpError(f"op {op.index} ({op.opcode}) input {slot} of shape {tensor.shape} "
                                         f"broadcasts against the batch axis of the output (rank {rank})")
            tensors.append(ctx.input(op, slot))
            constants.append(None)
    if not tensors:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has only constant inputs")
    return tensors, constants


def _feed(tensors: list[Any]) -> Any:
    return tensors[0] if len(tensors) == 1 else tensors


def convert_unary(ctx: Any, op: Any) -> list[Any]:
    from ..layers import Unary

    return [Unary(UNARY_OPS[op.opcode], name=ctx.name(op))(ctx.input(op, 0))]


def convert_cast(ctx: Any, op: Any) -> list[Any]:
    from ..layers import Cast

    return [Cast(ctx.tfl.tensor(op.outputs[0]).dtype.lower(), name=ctx.name(op))(ctx.input(op, 0))]


def convert_binary(ctx: Any, op: Any) -> list[Any]:
    import keras

    from .. import layers

    tensors, constants = operands(ctx, op, range(2))
    shapes = [ctx.tfl.tensor(i).shape for i in op.inputs[:2]]
    if op.opcode in MERGE_LAYERS and len(tensors) == 2 and tuple(shapes[0]) == tuple(shapes[1]):
        return [getattr(keras.layers, MERGE_LAYERS[op.opcode])(name=ctx.name(op))(tensors)]
    family = layers.Compare if op.opcode in COMPARE_OPS else layers.Binary
    fn = COMPARE_OPS.get(op.opcode) or BINARY_OPS[op.opcode]
    return [family(fn, constants=constants, name=ctx.name(op))(_feed(tensors))]


def convert_select(ctx: Any, op: Any) -> list[Any]:
    from ..layers import Select

    if op.opcode == "SELECT":
        cond, x = (ctx.tfl.tensor(i).shape for i in op.inputs[:2])
        if len(cond) == 1 and len(x) > 1:
            raise UnsupportedOpError(f"op {op.index} (SELECT) with a rank-1 condition of shape {tuple(cond)} "
                                     "selects along the batch axis")
    tensors, constants = operands(ctx, op, range(3))
    return [Select(constants=constants, name=ctx.name(op))(_feed(tensors))]


for _opcode in UNARY_OPS:
    register_op(OpSpec(_opcode, layers=("Unary",), converter=convert_unary))
register_op(OpSpec("CAST", layers=("Cast",), converter=convert_cast))
for _opcode in BINARY_OPS:
    register_op(OpSpec(_opcode, layers=("Binary", *MERGE_LAYERS.get(_opcode, "").split()), converter=convert_binary))
for _opcode in COMPARE_OPS:
    register_op(OpSpec(_opcode, layers=("Compare",), converter=convert_binary))
register_op(OpSpec("SELECT", layers=("Select",), converter=convert_select))
register_op(OpSpec("SELECT_V2", layers=("Select",), converter=convert_select))
