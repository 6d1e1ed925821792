"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE) as explicit state.

Each variable is a state input of the converted model and a state output after it
(:mod:`tflite2keras.conversion.streaming`); these ops build no layers. READ_VARIABLE gives the variable's
current Keras tensor (its state input, or what an earlier ASSIGN_VARIABLE of the same step
wrote), ASSIGN_VARIABLE replaces it, and CALL_ONCE's initial values are read by
:func:`tflite2keras.tflite.variables.variables`.

A variable the file keeps in integers (int8 ring buffers) is float state, on the one grid its
reads and assigned values share (checked by :func:`~tflite2keras.tflite.variables.variables`). Its
READ_VARIABLE output is a quantized activation like any other: fake-quantized in ``fake_quant``
mode (so the state fed in is rounded as the variable stores it), clamped to the grid's range in
``float`` mode; the assigned value was already rounded (or clamped) where it was computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def _variable(ctx: ConvertContext, op: Operator) -> Any:
    variable = ctx.state_variables.get(op.inputs[0])
    if variable is None:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) input 0 is not the handle of a VAR_HANDLE of "
                                 "subgraph 0")
    return variable


def convert_nothing(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    return []


def convert_read(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    return [ctx.state[_variable(ctx, op).name]]


def convert_assign(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    variable = _variable(ctx, op)
    value = ctx.input(op, 1)
    if tuple(value.shape[1:]) != variable.shape[1:]:
        raise UnsupportedOpError(f"op {op.index} (ASSIGN_VARIABLE) assigns shape {tuple(value.shape)} to variable "
                                 f"{variable.name!r} of shape {variable.shape}")
    ctx.state[variable.name] = value
    return []


register_op(OpSpec("VAR_HANDLE", converter=convert_nothing))
register_op(OpSpec("CALL_ONCE", converter=convert_nothing))
register_op(OpSpec("READ_VARIABLE", converter=convert_read))
register_op(OpSpec("ASSIGN_VARIABLE", converter=convert_assign))
