"""Element-wise binary ops; a constant operand becomes a trainable weight."""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedOpError
from ..layout import RESHAPE
from ..registry import OpSpec, WeightSlot, register_op


def _binary(merge: str, constant_layer: str | None) -> Any:
    def convert(ctx: Any, op: Any) -> list[Any]:
        import keras

        from .. import layers

        constant = [ctx.is_constant(op, s) for s in (0, 1)]
        if constant[0]:
            raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has a constant first operand")
        if constant[1]:
            if constant_layer is None:
                raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with a constant operand has no converter")
            layer = getattr(layers, constant_layer)(ctx.tfl.tensor(op.inputs[1]).shape, name=ctx.name(op, True))
            out = ctx.takes_weights(layer, op)(ctx.input(op, 0))
        else:
            layer = getattr(keras.layers, merge)(name=ctx.name(op))
            out = layer([ctx.input(op, 0), ctx.input(op, 1)])
        return [ctx.activate(out, op, layer.name)]
    return convert


_VALUE = (WeightSlot(1, "value", RESHAPE, optional=False),)
register_op(OpSpec("ADD", layers=("Add", "AddConstant"), fused_activation=True,
                   converter=_binary("Add", "AddConstant"), weights=_VALUE))
register_op(OpSpec("MUL", layers=("Multiply", "MultiplyConstant"), fused_activation=True,
                   converter=_binary("Multiply", "MultiplyConstant"), weights=_VALUE))
register_op(OpSpec("SUB", layers=("Subtract",), fused_activation=True,
                   converter=_binary("Subtract", None)))
