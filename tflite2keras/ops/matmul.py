"""BATCH_MATMUL: the matrix products of attention blocks, and products with a constant (a weight).

Each tensor operand must have the output's rank, so that its axis 0 is the batch; the
batch axis may not be transposed (``adj_x`` of a rank-2 left operand) or contracted (a
rank-2 right operand tensor). A constant right operand becomes the layer's trainable
``kernel`` of the constant's shape (``adj_y`` applies to it in the layer); it broadcasts
over the batch unless it has the output's rank and an axis 0 other than 1. A constant
left operand has no converter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOpError
from ..tflite.model import Operator, TFLiteModel
from .contract import ConvertContext
from .layout import RESHAPE
from .registry import Mismatch, OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def _adjoints(op: Operator) -> tuple[bool, bool]:
    return bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))


def convert_batch_matmul(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import BatchMatMul

    adj_x, adj_y = _adjoints(op)
    rank = len(ctx.tfl.tensor(op.outputs[0]).shape)
    lhs, rhs = (tuple(ctx.tfl.tensor(op.inputs[s]).shape) for s in (0, 1))
    if ctx.is_constant(op, 0):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has a constant left operand of shape {lhs}; "
                                 "only the right operand may be constant")
    if len(lhs) != rank or (rank == 2 and adj_x):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) left operand of shape {lhs} with adj_x={adj_x} "
                                 f"moves the batch axis of the rank-{rank} output")
    if ctx.is_constant(op, 1):
        if len(rhs) > rank or (len(rhs) == rank > 2 and rhs[0] != 1):
            raise UnsupportedOpError(f"op {op.index} ({op.opcode}) constant right operand of shape {rhs} spans "
                                     "the batch axis")
        layer = BatchMatMul(adj_x, adj_y, kernel_shape=rhs, name=ctx.name(op, weights=True))
        return [ctx.takes_weights(layer, op)(ctx.input(op, 0))]
    if len(rhs) != rank or rank == 2:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) right operand tensor of shape {rhs} broadcasts "
                                 f"against, or contracts, the batch axis of the rank-{rank} output")
    return [BatchMatMul(adj_x, adj_y, name=ctx.name(op))([ctx.input(op, 0), ctx.input(op, 1)])]


def check_adjoints(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: the layer transposes the operands that the op does."""
    tfl = _adjoints(op)
    keras = (bool(getattr(layer, "adj_x", False)), bool(getattr(layer, "adj_y", False)))
    if keras != tfl:
        yield "adj_x, adj_y", keras, tfl


# The kernel keeps TFLite's layout, so the layout only checks that the sizes agree.
register_op(OpSpec("BATCH_MATMUL", layers=("BatchMatMul",), checks=(check_adjoints,), converter=convert_batch_matmul,
                   weights=(WeightSlot(1, "kernel", RESHAPE),)))
