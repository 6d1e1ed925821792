"""Where an op's float result can lie, given its inputs': the saturation a float model keeps.

An integer kernel saturates its result to what the output tensor represents, and TOCO-era files
carry ReLU6 only that way. :func:`natural_range` bounds an op's float result from its inputs'
ranges; :func:`range_activation` names the Keras activation an op's fused clamp and output range
compute together (see :mod:`tflite2keras.conversion.quantized`).

Example:
    >>> from tflite2keras.tflite.model import Operator
    >>> natural_range(Operator(0, "RELU6", 1, (0,), (1,)), [(-3.0, 9.0)])
    (0, 6)
"""

from __future__ import annotations

import numpy as np

from ..tflite.model import Operator, TFLiteModel
from ..tflite.quant import affine
from .fused import CLAMPS, KERAS, applies_in_full, fused
from .registry import find

#: Ops whose result takes its values from its quantized inputs, or averages them: it stays in their hull.
HULL_OPS = frozenset({
    "AVERAGE_POOL_2D", "BATCH_TO_SPACE_ND", "BROADCAST_TO", "CONCATENATION", "DEPTH_TO_SPACE", "EXPAND_DIMS",
    "GATHER", "GATHER_ND", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MIRROR_PAD", "PACK", "PADV2", "QUANTIZE",
    "REDUCE_MAX", "REDUCE_MIN", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "SELECT",
    "SELECT_V2", "SLICE", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQUEEZE", "STRIDED_SLICE", "TILE", "TRANSPOSE",
    "UNPACK", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"})
#: Ops that also pad with real zero (a quantized zero point).
ZERO_PAD_OPS = frozenset({"PAD", "SPACE_TO_BATCH_ND"})
#: Ops whose result lies in fixed bounds, whatever their input: (low, high), None for unbounded.
OP_CLAMPS: dict[str, tuple[float | None, float | None]] = {
    "RELU": (0, None), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1), "RELU_0_TO_1": (0, 1), "LOGISTIC": (0, 1),
    "TANH": (-1, 1), "SOFTMAX": (0, 1)}
Interval = tuple[float, float]
UNBOUNDED: Interval = (-np.inf, np.inf)


def _clip(interval: Interval, low: float | None, high: float | None) -> Interval:
    lo = -np.inf if low is None else low
    hi = np.inf if high is None else high
    return min(max(interval[0], lo), hi), max(min(interval[1], hi), lo)


def natural_range(op: Operator, inputs: list[Interval], folded: str | None = None) -> Interval:
    """Where the op's float result can lie, given where its quantized inputs lie (``inputs``, one per
    quantized input), its fused activation and ``folded``, a Keras activation applied with it.

    Example:
        >>> from tflite2keras.tflite.model import Operator
        >>> natural_range(Operator(0, "MAX_POOL_2D", 1, (0,), (1,), {}), [(-1.0, 2.0)])
        (-1.0, 2.0)
        >>> natural_range(Operator(0, "ADD", 1, (0, 1), (2,), {"fused_activation_function": "RELU6"}),
        ...               [(-1.0, 2.0), (0.0, 5.0)])
        (0, 6)
    """
    interval = UNBOUNDED
    if op.opcode in HULL_OPS | ZERO_PAD_OPS and inputs:
        interval = (min(i[0] for i in inputs), max(i[1] for i in inputs))
        if op.opcode in ZERO_PAD_OPS:
            interval = (min(interval[0], 0.0), max(interval[1], 0.0))
    interval = _clip(interval, *OP_CLAMPS.get(op.opcode, (None, None)))
    interval = _clip(interval, *CLAMPS.get(fused(op), (None, None)))
    bounds = {KERAS[k]: v for k, v in CLAMPS.items()}
    return _clip(interval, *bounds.get(folded or "", (None, None)))


def range_activation(tfl: TFLiteModel, op: Operator) -> str | None:
    """The Keras activation (``relu6`` or ``hard_tanh``) that the op's fused clamp and its output's range
    compute together, where that is not the fused activation itself; else None.

    A bound matches within half a step: the integer kernel's own RELU6 clamps at ``round(6 / scale)``.
    """
    spec = find(op.opcode)
    if (spec is None or not spec.fused_activation or applies_in_full(op) or len(op.outputs) != 1
            or fused(op) not in CLAMPS):
        return None
    edge = affine(tfl.tensor(op.outputs[0]))
    if edge is None or edge.scales.size != 1:
        return None
    low, high = _clip(edge.range(), *CLAMPS[fused(op)])
    for name in ("RELU6", "RELU_N1_TO_1"):
        want_low, want_high = CLAMPS[name]
        if name != fused(op) and abs(low - want_low) <= edge.step / 2 and abs(high - want_high) <= edge.step / 2:
            return KERAS[name]
    return None
