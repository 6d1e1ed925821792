"""StableHLO element-wise ops (files written through the StableHLO path, e.g. from JAX or PyTorch).

``STABLEHLO_ADD``, ``STABLEHLO_MULTIPLY``, ``STABLEHLO_MAXIMUM`` and ``STABLEHLO_MINIMUM`` take two
tensors of one shape and no options (StableHLO does not broadcast), which Keras's merge layers
compute exactly. A constant operand raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

#: op -> the Keras merge layer.
MERGES = {"STABLEHLO_ADD": "Add", "STABLEHLO_MULTIPLY": "Multiply", "STABLEHLO_MAXIMUM": "Maximum",
          "STABLEHLO_MINIMUM": "Minimum"}


def convert_merge(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    shapes = [tuple(ctx.tfl.tensor(i).shape) for i in op.inputs[:2]]
    if any(ctx.is_constant(op, s) for s in (0, 1)) or shapes[0] != shapes[1]:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) needs two tensors of one shape, received shapes "
                                 f"{shapes} (constant: {[ctx.is_constant(op, s) for s in (0, 1)]})")
    dtype = ctx.dtype(op.outputs[0])
    layer = getattr(keras.layers, MERGES[op.opcode])(name=ctx.name(op), **({} if dtype == "float32" else {"dtype": dtype}))
    return [layer([ctx.input(op, 0), ctx.input(op, 1)])]


for _opcode, _layer in MERGES.items():
    register_op(OpSpec(_opcode, layers=(_layer,), converter=convert_merge))
