"""``SVDF``: a low-rank fully connected layer with a memory over invocations, as :class:`~tflite2keras.layers.SVDF`.

Inputs (tensorflow/lite/kernels/svdf.cc): input ``(batch, features)``, ``weights_feature``
``(filters, features)``, ``weights_time`` ``(filters, memory_size)``, an optional ``bias``
``(units,)`` with ``units = filters / rank``, and ``activation_state`` ``(batch, memory_size *
filters)``, a variable tensor. Options: ``rank``, ``fused_activation_function``,
``asymmetric_quantize_inputs`` (hybrid kernel only).

State: each invocation shifts the state left by one column, writes the newest feature column
(``input @ weights_feature.T``) on the right and reads all ``memory_size`` columns, so the state
carries the last ``memory_size - 1`` columns from one invocation into the next (measured on the
interpreter over successive invokes: tests/test_ops_svdf.py). TFLite allocates it as zeros; the conversion is one
invocation from that zero state, as for the recurrent ops of :mod:`tflite2keras.ops.sequence`
(the file must hold no data or zeros there), and :func:`tflite2keras.verify` resets the
interpreter's variables before every sample, so it compares that invocation. Successive
invocations of one interpreter (a streaming keyword spotter fed frame after frame) are not
what the converted model computes.

Kernels that convert:

- float: float32 input and weights; the fused activation applies.
- integer: int8 input and ``weights_feature``, int16 ``weights_time`` and state, int32 bias,
  int8 output, per-tensor scales, symmetric weights and state (the kernel ignores their zero
  points). The kernel requantizes the newest column into the int16 state (the layer's
  ``state_scale``: clamped in ``float`` mode, also rounded in ``fake_quant``). Its int32
  accumulator (bias plus time products) wraps around on overflow: where the weights allow that,
  the layer wraps too (``accumulator_scale``; the random weights of the keyword_scrambled files
  reach it). It applies no activation but the int8 output's saturation: RELU converts where the output's range starts at
  0 (zero point -128), NONE always; other activations raise.

The hybrid kernel (float input, int8 weights) and int8 ``weights_time`` or state (which the
stock interpreter does not run) raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from ..tflite.quant import affine
from .contract import ConvertContext
from .layout import OI_TO_IO, Layout
from .registry import Mismatch, OpSpec, Rejection, WeightSlot, register_op
from .sequence import _check_zero_state

if TYPE_CHECKING:
    from keras import KerasTensor

#: The int16 state's lowest value.
STATE_MIN = -32768
INPUT, WEIGHTS_FEATURE, WEIGHTS_TIME, BIAS, STATE = range(5)
#: weights_time is (filters, memory_size) in TFLite and in the layer.
TIME_LAYOUT = Layout("FM", "FM")
#: Integer kernel: slot -> (what, dtype the kernel reads).
INTEGER_TYPES = {INPUT: ("input", "INT8"), WEIGHTS_FEATURE: ("weights_feature", "INT8"),
                 WEIGHTS_TIME: ("weights_time", "INT16"), BIAS: ("bias", "INT32"), STATE: ("activation_state", "INT16")}


def _unsupported(op: Operator, what: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"op {op.index} ({op.opcode}) {what}")


def _shapes(ctx: ConvertContext, op: Operator) -> tuple[int, int, int]:
    """(units, rank, memory_size), after checking the shapes as the kernel's Prepare does."""
    shape = lambda slot: tuple(ctx.tfl.tensor(op.inputs[slot]).shape)  # noqa: E731
    rank = int(op.options.get("rank", 0) or 0)
    x, feature, time = shape(INPUT), shape(WEIGHTS_FEATURE), shape(WEIGHTS_TIME)
    if len(x) != 2 or len(feature) != 2 or len(time) != 2:
        raise _unsupported(op, f"has input, weights_feature, weights_time shapes {x}, {feature}, {time}: expected "
                               "(batch, features), (filters, features), (filters, memory_size)")
    filters = feature[0]
    if rank < 1 or filters % rank:
        raise _unsupported(op, f"has rank {rank} for {filters} filters: expected a positive divisor of the filters")
    if feature[1] != x[1] or time[0] != filters:
        raise _unsupported(op, f"has input {x}, weights_feature {feature}, weights_time {time}: expected "
                               f"(batch, {feature[1]}) and ({filters}, memory_size)")
    units = filters // rank
    if op.has_input(BIAS) and shape(BIAS) != (units,):
        raise _unsupported(op, f"has bias shape {shape(BIAS)}: expected ({units},)")
    return units, rank, int(time[1])


def _accumulator_scale(ctx: ConvertContext, op: Operator, state_scale: float) -> float:
    """The int32 accumulator's scale where bias plus time products can leave the int32 range
    (the kernel then wraps around), else 0."""
    time = ctx.tfl.tensor(op.inputs[WEIGHTS_TIME])
    weights = np.abs(ctx.tfl.raw(time.index).astype(np.int64).reshape(time.shape))
    rank = int(op.options["rank"])
    per_unit = (weights.sum(axis=1) * -STATE_MIN).reshape(-1, rank).sum(axis=1)
    bias = np.abs(ctx.tfl.raw(op.inputs[BIAS]).astype(np.int64)) if op.has_input(BIAS) else 0
    if np.max(per_unit + bias) < 2**31:
        return 0.0
    return state_scale * float(time.quantization.scales[0])


def _integer_scales(ctx: ConvertContext, op: Operator) -> tuple[float, float]:
    """The int16 state's scale and the accumulator's (0 where it cannot overflow), after checking
    the integer kernel's types and quantization."""
    for slot, (what, dtype) in INTEGER_TYPES.items():
        if not op.has_input(slot):
            continue
        tensor = ctx.tfl.tensor(op.inputs[slot])
        if tensor.dtype != dtype:
            raise _unsupported(op, f"{what} (input {slot}, tensor {tensor.name!r}) is {tensor.dtype}: the integer "
                                   f"SVDF kernel expects {dtype} (int8 input and weights_feature, int16 weights_time "
                                   "and state, int32 bias)")
        quant = tensor.quantization
        if quant is None or quant.scales.size != 1:
            raise _unsupported(op, f"{what} (input {slot}, tensor {tensor.name!r}) has "
                                   f"{0 if quant is None else quant.scales.size} scales: expected one per tensor")
        if slot != INPUT and quant.zero_points.size and int(quant.zero_points[0]) != 0:
            raise _unsupported(op, f"{what} (input {slot}, tensor {tensor.name!r}) has zero point "
                                   f"{int(quant.zero_points[0])}: the integer SVDF kernel expects 0")
    out = affine(ctx.tfl.tensor(op.outputs[0]))
    if out is None or out.dtype != "INT8" or out.scales.size != 1:
        raise _unsupported(op, "output is not a per-tensor int8 tensor: the integer SVDF kernel writes int8")
    activation = op.options.get("fused_activation_function", "NONE") or "NONE"
    if activation not in ("NONE", "RELU") or (activation == "RELU" and out.range()[0] != 0):
        raise _unsupported(op, f"has fused activation {activation} with int8 output range {out.range()}: the integer "
                               "kernel only saturates to the output's range, so only NONE, or RELU on a range "
                               "from 0 (zero point -128), converts")
    state_scale = float(ctx.tfl.tensor(op.inputs[STATE]).quantization.scales[0])
    return state_scale, _accumulator_scale(ctx, op, state_scale)


def prepare_inputs(op: Operator, model: Any) -> Iterator[Rejection]:
    """Prepare: five inputs, the state (input 4) among them; the bias (input 3) may be absent."""
    if len(op.inputs) != 5 or not op.has_input(STATE):
        yield "number of inputs", len(op.inputs), "5 (input, weights_feature, weights_time, bias, activation_state)"


def prepare_rank(op: Operator, model: Any) -> Iterator[Rejection]:
    """Prepare: ``rank`` divides the filters (``weights_feature``'s rows) into whole units."""
    rank = op.options.get("rank")
    if rank is None or model is None or not op.has_input(WEIGHTS_FEATURE):
        return
    shape = model.tensor(op.inputs[WEIGHTS_FEATURE]).shape
    filters = int(shape[0]) if len(shape) else 0
    if int(rank) < 1 or filters % int(rank):
        yield "rank", rank, f"a positive divisor of the {filters} filters (weights_feature rows)"


def check_rank(op: Operator, layer: Any, model: Any) -> Iterator[Mismatch]:
    """Lint: the layer sums as many filters per unit as the op."""
    if getattr(layer, "rank", None) != int(op.options.get("rank", 0) or 0):
        yield "rank", getattr(layer, "rank", None), op.options.get("rank")


def convert_svdf(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import SVDF

    if len(op.inputs) != 5 or not op.has_input(STATE):
        raise _unsupported(op, f"has {len(op.inputs)} inputs: expected 5 (input, weights_feature, weights_time, "
                               "bias, activation_state)")
    units, rank, memory = _shapes(ctx, op)
    missing = [s for s in (WEIGHTS_FEATURE, WEIGHTS_TIME, BIAS) if op.has_input(s) and not ctx.is_constant(op, s)]
    if missing:
        raise _unsupported(op, f"has non-constant weights at inputs {missing}: expected constants")
    x_type = ctx.tfl.tensor(op.inputs[INPUT]).dtype
    w_type = ctx.tfl.tensor(op.inputs[WEIGHTS_FEATURE]).dtype
    if x_type == "FLOAT32" and w_type == "FLOAT32":
        state_scale = accumulator_scale = 0.0
        float_types = [s for s in (WEIGHTS_TIME, BIAS, STATE) if op.has_input(s)
                       and ctx.tfl.tensor(op.inputs[s]).dtype != "FLOAT32"]
        if float_types:
            raise _unsupported(op, f"has float32 input and weights_feature but inputs {float_types} are not float32")
    elif x_type == "FLOAT32":
        raise _unsupported(op, f"is hybrid (float32 input, {w_type} weights_feature): only the float and the "
                               "integer kernels convert")
    else:
        state_scale, accumulator_scale = _integer_scales(ctx, op)
    _check_zero_state(ctx, op, STATE, "activation_state")
    activation = ctx.activation(op) or "linear"
    layer = SVDF(units, rank=rank, memory_size=memory, activation=activation, use_bias=op.has_input(BIAS),
                 state_scale=state_scale, state_rounding=bool(state_scale) and ctx.mode == "fake_quant",
                 accumulator_scale=accumulator_scale,
                 name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(ctx.input(op, INPUT))]


register_op(OpSpec(
    "SVDF", layers=("SVDF",), fused_activation=True, full_activation=True, converter=convert_svdf, checks=(check_rank,),
    prepare=(prepare_inputs, prepare_rank),
    weights=(WeightSlot(WEIGHTS_FEATURE, "kernel", OI_TO_IO, optional=False),
             WeightSlot(WEIGHTS_TIME, "weights_time", TIME_LAYOUT, optional=False), WeightSlot(BIAS, "bias")),
))
