"""ADD, SUB and MUL, with their fused activation; a float constant operand becomes a trainable weight.

Two tensors become ``keras.layers.Add`` / ``Subtract`` / ``Multiply``. A float constant second
operand of ADD / MUL is the ``value`` of an ``AddConstant`` / ``MultiplyConstant``; any other
float constant (SUB's either operand, ADD / MUL's first) is the ``lhs`` / ``rhs`` variable of a
:class:`~tflite2keras.layers.Binary`. Integer constants (and values folded from shape arithmetic)
stay fixed in a ``Binary``'s config. The numpy folds are :func:`~.binary.fold_binary`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tflite.model import Operator
from .binary import OPERAND_WEIGHTS, binary_layer, fold_binary, merge_layer, operands
from .contract import ConvertContext
from .layout import RESHAPE
from .prepare_shapes import broadcastable
from .registry import OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

#: opcode -> (Keras merge layer, layer for a float constant second operand or None, Binary fn).
ARITHMETIC = {"ADD": ("Add", "AddConstant", "add"), "SUB": ("Subtract", None, "subtract"),
              "MUL": ("Multiply", "MultiplyConstant", "multiply")}


def convert_arithmetic(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import tensor_ops as layers

    merge, constant_layer, fn = ARITHMETIC[op.opcode]
    found = operands(ctx, op, range(2), trainable=True)
    shapes = [tuple(x.shape) for x in found.tensors]
    if len(found.tensors) == 2 and (ctx.fixed_batch is None or shapes[0] == shapes[1]):  # (merges check axis 0)
        layer = merge_layer(ctx, op, merge)
    elif constant_layer is not None and found.variable_shapes[1] is not None:
        layer = getattr(layers, constant_layer)(found.variable_shapes[1], name=ctx.name(op, True))
        ctx.takes_weights(layer, op)
    else:
        layer = binary_layer(ctx, op, fn, found)
    return [ctx.activate(layer(found.feed), op, layer.name)]


#: ADD / MUL: the second operand fills an AddConstant's ``value``, the first a Binary's ``lhs`` (as
#: :data:`~.binary.OPERAND_WEIGHTS`, the second slot first: it names the layer).
_COMMUTATIVE = (WeightSlot(1, "value", RESHAPE), WeightSlot(0, "lhs", RESHAPE))
_SUB = OPERAND_WEIGHTS
for _opcode, (_merge, _constant, _) in ARITHMETIC.items():
    register_op(OpSpec(_opcode, layers=(_merge, *([_constant] if _constant else []), "Binary"),
                       weights=_SUB if _constant is None else _COMMUTATIVE, fused_activation=True,
                       converter=convert_arithmetic, fold=fold_binary, prepare=(broadcastable,)))
