"""Recurrent ops: ``UNIDIRECTIONAL_SEQUENCE_LSTM`` and ``UNIDIRECTIONAL_SEQUENCE_RNN``, batch-major.

Both run over axis 1 of a ``(batch, time, features)`` input and return every step. Their
state inputs are variable tensors that TFLite zeroes when it allocates them (and then carries
across invocations); the conversion is the first invocation: a zero state, which the file must
hold (no data, or zeros). TFLite stores each weight ``(units, inputs)``, Keras ``(inputs, units)``.

- ``UNIDIRECTIONAL_SEQUENCE_RNN`` is ``keras.layers.SimpleRNN(return_sequences=True)``, the fused
  activation as its ``activation``.
- ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (24 inputs: input, 4 input and 4 recurrent weights in gate
  order input, forget, cell, output, 3 peepholes, 4 gate biases, projection weights and bias,
  the two states, 4 layer-norm coefficients) is :class:`~tflite2keras.layers.SequenceLSTM`, one
  variable per gate tensor, with the op's ``cell_clip`` (the TF converter writes 10, which
  ``keras.layers.LSTM`` does not do). The variant without peepholes, projection, layer norm,
  coupled input gate (CIFG) or diagonal recurrent weights converts; the others raise.

``time_major=True`` puts the time axis first, where Keras keeps the batch free: it raises.
A Keras ``LSTM(return_sequences=False)`` becomes this op and a ``STRIDED_SLICE`` of the last step.

An int8 LSTM (int8 input, int16 cell state, five intermediate tensors) runs TFLite's 8x8->16
integer kernel, which rounds at every step: Q3.12 gate inputs, fixed-point sigmoid and tanh, an
int16 cell state, an int8 hidden state fed back. In ``fake_quant`` mode it converts to
:class:`~tflite2keras.layers.IntegerSequenceLSTM`, which repeats that arithmetic (the float model
would drift from the file by several output steps over a long sequence); in ``float`` mode, to
:class:`~tflite2keras.layers.SequenceLSTM`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator, TFLiteModel
from .contract import ConvertContext
from .layout import OI_TO_IO
from .registry import Mismatch, OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

#: UNIDIRECTIONAL_SEQUENCE_LSTM input slots (tensorflow/lite/kernels/lstm_shared.h).
LSTM_KERNELS = {"i": 1, "f": 2, "c": 3, "o": 4}
LSTM_RECURRENT = {"i": 5, "f": 6, "c": 7, "o": 8}
LSTM_BIASES = {"i": 12, "f": 13, "c": 14, "o": 15}
LSTM_STATES = {"output_state": 18, "cell_state": 19}
#: Optional slots of variants that do not convert.
LSTM_VARIANTS = {"peephole weights": (9, 10, 11), "projection": (16, 17), "layer norm": (20, 21, 22, 23)}
#: UNIDIRECTIONAL_SEQUENCE_RNN input slots: input, weights, recurrent weights, bias, hidden state.
RNN_STATE = 4


def _unsupported(op: Operator, what: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"op {op.index} ({op.opcode}) {what}")


def _check_batch_major(ctx: ConvertContext, op: Operator) -> tuple[int, int, int]:
    """(time, features, units) of a batch-major sequence op; raise on time_major or a wrong rank."""
    if op.options.get("time_major"):
        raise _unsupported(op, "has time_major=True: its axis 0 is the time, which Keras keeps free as the batch")
    shape = ctx.tfl.tensor(op.inputs[0]).shape
    out = ctx.tfl.tensor(op.outputs[0]).shape
    if len(shape) != 3 or len(out) != 3:
        raise _unsupported(op, f"with input shape {tuple(shape)} -> {tuple(out)}: expected (batch, time, features)")
    return int(shape[1]), int(shape[2]), int(out[2])


def _check_zero_state(ctx: ConvertContext, op: Operator, slot: int, what: str) -> None:
    """The state input must be a variable tensor holding nothing or zeros (TFLite's first invocation)."""
    if not op.has_input(slot):
        raise _unsupported(op, f"has no {what} input (slot {slot})")
    tensor = ctx.tfl.tensor(op.inputs[slot])
    if not tensor.is_variable:
        raise _unsupported(op, f"{what} (input {slot}, tensor {tensor.name!r}) is not a variable tensor: only a "
                               "zero initial state converts")
    stored = ctx.tfl.raw(tensor.index)
    if stored.size and np.any(stored.astype(np.float64) != 0):
        raise _unsupported(op, f"{what} (input {slot}, tensor {tensor.name!r}) starts nonzero: only a zero "
                               "initial state converts")


def cell_clip(op: Operator) -> float:
    """The op's cell clip; TFLite clips only when it is positive (0: none)."""
    return max(float(op.options.get("cell_clip", 0.0) or 0.0), 0.0)


def check_cell_clip(op: Operator, layer: Any, model: Any) -> Iterator[Mismatch]:
    """Lint: the layer clips its cell state as the op does."""
    if float(getattr(layer, "cell_clip", 0.0)) != cell_clip(op):
        yield "cell_clip", getattr(layer, "cell_clip", None), cell_clip(op)


def convert_lstm(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import SequenceLSTM

    _, _, units = _check_batch_major(ctx, op)
    if op.options.get("diagonal_recurrent_tensors"):
        raise _unsupported(op, "has diagonal_recurrent_tensors=True (diagonal recurrent weights)")
    for what, slots in LSTM_VARIANTS.items():
        present = [s for s in slots if op.has_input(s)]
        if present:
            raise _unsupported(op, f"has {what} (inputs {present}): only the LSTM without peepholes, projection "
                                   "and layer norm converts")
    missing = [s for s in (*LSTM_KERNELS.values(), *LSTM_RECURRENT.values(), *LSTM_BIASES.values())
               if not ctx.is_constant(op, s)]
    if missing:
        raise _unsupported(op, f"has no constant weights at inputs {missing} (a coupled input gate, CIFG, "
                               "leaves inputs 1, 5 and 12 out): only the full LSTM converts")
    for what, slot in LSTM_STATES.items():
        _check_zero_state(ctx, op, slot, what)
    if ctx.mode == "fake_quant" and ctx.tfl.tensor(op.inputs[0]).dtype == "INT8":
        layer = _integer_lstm(ctx, op, units)
    else:
        layer = SequenceLSTM(units, activation=ctx.activation(op) or "linear", cell_clip=cell_clip(op),
                             name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(ctx.input(op, 0))]


def _intermediates(tfl: TFLiteModel, op: Operator) -> tuple[int, ...]:
    """The op's intermediate tensors (the integer LSTM's scales live there), read from the file."""
    import tflite

    node = tflite.Model.GetRootAs(tfl.data, 0).Subgraphs(0).Operators(op.index)
    return tuple(int(i) for i in node.IntermediatesAsNumpy()) if node.IntermediatesLength() else ()


def _grid(ctx: ConvertContext, op: Operator, index: int, what: str, dtype: str) -> tuple[float, int]:
    """(scale, zero point) of a per-tensor quantized ``dtype`` tensor; raise otherwise."""
    tensor = ctx.tfl.tensor(index)
    quant = tensor.quantization
    scales = 0 if quant is None else quant.scales.size
    if tensor.dtype != dtype or scales != 1 or quant.zero_points.size > 1:
        raise _unsupported(op, f"is an integer LSTM whose {what} {tensor.name!r} is {tensor.dtype} with {scales} "
                               f"scales: expected {dtype} with one scale")
    return float(quant.scales[0]), int(quant.zero_points[0]) if quant.zero_points.size else 0


def _integer_lstm(ctx: ConvertContext, op: Operator, units: int) -> Any:
    """The layer that repeats TFLite's int8 LSTM kernel (8x8->16), with the file's scales."""
    from ..layers import IntegerSequenceLSTM

    inter = _intermediates(ctx.tfl, op)
    if len(inter) != 5:
        raise _unsupported(op, f"is an int8 LSTM with {len(inter)} intermediate tensors: expected 5 (the 8x8->16 "
                               "kernel's; the interpreter refuses the op too)")
    if ctx.activation(op) != "tanh":
        raise _unsupported(op, f"is an int8 LSTM with activation {ctx.activation(op)!r}: expected tanh, the only "
                               "one its integer kernel computes for the cell and output")
    cell_scale, _ = _grid(ctx, op, op.inputs[LSTM_STATES["cell_state"]], "cell state", "INT16")
    exponent = int(np.round(np.log2(cell_scale)))
    if cell_scale != 2.0**exponent or not -30 <= exponent <= -9:
        raise _unsupported(op, f"is an int8 LSTM whose cell state scale is {cell_scale!r}: expected a power of two "
                               "2**e with -30 <= e <= -9 (the integer kernel's tanh takes at most 6 integer bits)")
    scales = {name: [_grid(ctx, op, op.inputs[slot], f"{name} {gate}", dtype)[0] for gate, slot in slots.items()]
              for name, slots, dtype in (("kernel", LSTM_KERNELS, "INT8"), ("recurrent", LSTM_RECURRENT, "INT8"),
                                         ("bias", LSTM_BIASES, "INT32"))}
    (x_scale, x_zero), (h_scale, h_zero), (s_scale, s_zero), (y_scale, y_zero) = (
        _grid(ctx, op, index, what, "INT8") for index, what in (
            (op.inputs[0], "input"), (inter[4], "hidden intermediate"),
            (op.inputs[LSTM_STATES["output_state"]], "output state"), (op.outputs[0], "output")))
    return IntegerSequenceLSTM(
        units, input_scale=x_scale, input_zero_point=x_zero, state_scale=s_scale, state_zero_point=s_zero,
        cell_exponent=exponent, kernel_scales=scales["kernel"], recurrent_scales=scales["recurrent"],
        bias_scales=scales["bias"], cell_clip=cell_clip(op), hidden_scale=h_scale, hidden_zero_point=h_zero,
        output_scale=y_scale, output_zero_point=y_zero, name=ctx.name(op, weights=True))


def convert_rnn(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    _, _, units = _check_batch_major(ctx, op)
    _check_zero_state(ctx, op, RNN_STATE, "hidden_state")
    layer = keras.layers.SimpleRNN(units, activation=ctx.activation(op) or "linear", return_sequences=True,
                                   name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(ctx.input(op, 0))]


register_op(OpSpec(
    "UNIDIRECTIONAL_SEQUENCE_LSTM", layers=("SequenceLSTM", "IntegerSequenceLSTM"), fused_activation=True,
    full_activation=True, converter=convert_lstm,
    checks=(check_cell_clip,),
    weights=tuple(WeightSlot(slot, f"{role}_{gate}", layout, optional=False)
                  for role, slots, layout in (("kernel", LSTM_KERNELS, OI_TO_IO),
                                              ("recurrent_kernel", LSTM_RECURRENT, OI_TO_IO))
                  for gate, slot in slots.items())
    + tuple(WeightSlot(slot, f"bias_{gate}", optional=False) for gate, slot in LSTM_BIASES.items()),
))
register_op(OpSpec(
    "UNIDIRECTIONAL_SEQUENCE_RNN", layers=("SimpleRNN",), fused_activation=True, full_activation=True, converter=convert_rnn,
    weights=(WeightSlot(1, "kernel", OI_TO_IO, optional=False), WeightSlot(2, "recurrent_kernel", OI_TO_IO,
                                                                            optional=False),
             WeightSlot(3, "bias", optional=False)),
))
