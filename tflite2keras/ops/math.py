"""Element-wise math ops: unary functions, CAST, comparisons, logic, SELECT.

Arithmetic of two operands is in :mod:`.binary` and :mod:`.elementwise`. A comparison's or
SELECT's constant operand stays a fixed constant (in the layer's config): no gradient reaches
it. Every tensor operand must have the output's rank, so that its batch axis is the output's; a
constant may not span the batch axis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .binary import operands
from .contract import ConvertContext
from .prepare_shapes import broadcastable
from .registry import OpSpec, register_op
from .shape import folding

if TYPE_CHECKING:
    from keras import KerasTensor

#: TFLite opcode -> :data:`tflite2keras.layers.math.UNARY` fn.
UNARY_OPS = {"FLOOR": "floor", "CEIL": "ceil", "ROUND": "round", "NEG": "negative", "ABS": "abs", "SIGN": "sign",
             "SIN": "sin", "COS": "cos", "EXP": "exp", "LOG": "log", "SQRT": "sqrt", "RSQRT": "rsqrt",
             "SQUARE": "square", "LOGICAL_NOT": "logical_not"}
COMPARE_OPS = {"LESS": "less", "LESS_EQUAL": "less_equal", "GREATER": "greater", "GREATER_EQUAL": "greater_equal",
               "EQUAL": "equal", "NOT_EQUAL": "not_equal", "LOGICAL_AND": "logical_and", "LOGICAL_OR": "logical_or"}


def convert_unary(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Unary

    return [Unary(UNARY_OPS[op.opcode], name=ctx.name(op))(ctx.input(op, 0))]


def convert_cast(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Cast

    return [Cast(ctx.dtype(op.outputs[0]), name=ctx.name(op))(ctx.input(op, 0))]


def fold_cast(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """CAST in numpy: C++'s ``static_cast`` (floats truncate toward zero, non-zero is ``True``).

    Without an ``out_data_type`` option (the TF converter writes none) the value is returned
    as is, and :func:`tflite2keras.ops.fold.fold` casts it to the output tensor's type.

    Raises:
        UnsupportedOpError: ``out_data_type`` names a type numpy does not have.

    Example:
        >>> fold_cast(Operator(0, "CAST", 1, (0,), (1,), {"out_data_type": "INT32"}), [np.array([-1.5, 2.5])])
        [array([-1,  2], dtype=int32)]
    """
    value = np.asarray(values[0])
    target = op.options.get("out_data_type")
    if not target:
        return [value]
    try:
        dtype = np.dtype(str(target).lower())
    except TypeError:
        raise UnsupportedOpError(f"op {op.index} (CAST) has out_data_type={target}, which numpy has not") from None
    with np.errstate(all="ignore"):
        return [value.astype(dtype)]


def convert_compare(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Compare

    found = operands(ctx, op, range(2))
    return [Compare(COMPARE_OPS[op.opcode], constants=found.constants, name=ctx.name(op))(found.feed)]


def convert_select(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Select

    if op.opcode == "SELECT":
        cond, x = (ctx.tfl.tensor(i).shape for i in op.inputs[:2])
        if len(cond) == 1 and len(x) > 1:
            raise UnsupportedOpError(f"op {op.index} (SELECT) with a rank-1 condition of shape {tuple(cond)} "
                                     "selects along the batch axis")
    found = operands(ctx, op, range(3))
    return [Select(constants=found.constants, name=ctx.name(op))(found.feed)]


#: The unary ops whose numpy form is exactly TFLite's kernel (shape arithmetic: ``ceil(n / hop)``).
EXACT_UNARY = {"FLOOR": np.floor, "CEIL": np.ceil, "ROUND": np.round, "NEG": np.negative, "ABS": np.abs,
               "SIGN": np.sign, "LOGICAL_NOT": np.logical_not}


@folding
def fold_unary(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """An op of :data:`EXACT_UNARY` in numpy (ROUND: half to even, as TFLite's kernel).

    Example:
        >>> fold_unary(Operator(0, "CEIL", 1, (0,), (1,)), [np.array([1.5, -1.5], np.float32)])[0].tolist()
        [2.0, -1.0]
    """
    x = np.asarray(values[0])
    with np.errstate(all="ignore"):
        return [np.asarray(EXACT_UNARY[op.opcode](x)).astype(x.dtype)]


@folding
def fold_compare(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """A comparison or LOGICAL_AND/OR in numpy (broadcasting), a boolean result.

    Example:
        >>> fold_compare(Operator(0, "LESS", 1, (0, 1), (2,)), [np.array([1, 3]), np.array(2)])[0].tolist()
        [True, False]
    """
    a, b = (np.asarray(v) for v in values[:2])
    return [np.asarray(getattr(np, COMPARE_OPS[op.opcode])(a, b), bool)]


@folding
def fold_select(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """SELECT / SELECT_V2 in numpy: SELECT's rank-1 condition picks whole rows of higher-rank operands.

    Example:
        >>> fold_select(Operator(0, "SELECT_V2", 1, (0, 1, 2), (3,)),
        ...             [np.array([True, False]), np.array([1, 2]), np.array(0)])[0].tolist()
        [1, 0]
    """
    cond, x, y = (np.asarray(v) for v in values[:3])
    if op.opcode == "SELECT" and cond.ndim == 1 and x.ndim > 1:
        cond = cond.reshape(-1, *[1] * (x.ndim - 1))
    return [np.asarray(np.where(cond.astype(bool), x, y)).astype(np.result_type(x, y))]


for _opcode in UNARY_OPS:
    register_op(OpSpec(_opcode, layers=("Unary",), converter=convert_unary,
                       fold=fold_unary if _opcode in EXACT_UNARY else None))
register_op(OpSpec("CAST", layers=("Cast",), converter=convert_cast, fold=fold_cast))
for _opcode in COMPARE_OPS:
    register_op(OpSpec(_opcode, layers=("Compare",), converter=convert_compare, fold=fold_compare,
                       prepare=(broadcastable,)))
register_op(OpSpec("SELECT", layers=("Select",), converter=convert_select, fold=fold_select))
register_op(OpSpec("SELECT_V2", layers=("Select",), converter=convert_select, fold=fold_select))
