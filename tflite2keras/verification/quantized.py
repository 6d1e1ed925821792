"""What :func:`tflite2keras.verify` does differently when the reference is an integer model.

- Each input is drawn in ``[-1, 1)`` clipped to what its quantization represents, and snapped
  to its grid: the interpreter gets the integers (or, for a float input that the file quantizes
  at once, the snapped floats), the Keras model the same real values.
- Integer outputs and intermediate tensors of the interpreter are dequantized with their scale
  and zero point, and every error is also given in quantization steps of its tensor.
- Pass bounds, in steps of each compared tensor, or twice the interpreter's own noise (its XNNPACK
  and builtin kernels' disagreement on the same inputs) where that is larger, as every bound here:

  - ``fake_quant``: within :data:`FAKE_QUANT_STEPS` steps with at least :data:`FAKE_QUANT_WITHIN` of
    the elements within one step, since only requantization rounding differs. Each layer is held
    to that on its own (fed the interpreter's integer inputs). At the outputs, "one step" widens to
    the noise floor where that is larger: in a deep integer network the two kernel sets' one-step
    rounding differences grow to many steps by the output (30 to 52 on the MobileNets), and no
    model can agree with one kernel set more closely than the two agree with each other.
  - ``float``, each layer on its own: :data:`FLOAT_LAYER_STEPS`; only its output's requantization
    (at most half a step) and the kernel's fixed-point multiplier differ.
  - ``float``, at the outputs: a float model does not round between ops, so it leaves out one
    rounding, at most half a step of its tensor, at every op on the way that requantizes
    (:func:`depths` counts them on the longest path to each output), and each carries on to the
    output at the network's gain (steps of the output per step of the tensor): about one where
    every scale is calibrated to its range, more in a deep random network. The bound is
    :data:`FLOAT_STEPS_PER_OP` per requantizing op (half a step at a gain of up to four), at least
    :data:`FLOAT_LAYER_STEPS` (:func:`bound_steps`); measured on 32 samples (README): at most 1.48
    steps per op (MobileNetV1, 44.3 steps at depth 30). The noise floor is the same kind of
    bound: the other kernel set is another rounding of the same integer function, carried through
    the same gains, and the float error stayed within 1.27 times it on every file where the two
    kernel sets disagree. Two kinds of op round more than once on the way: a recurrent op
    (:data:`RECURRENT`) rounds its state at every time step and feeds it back, so it counts once per
    step; an integer SVDF rounds its feature products into a coarse int16 state before its time
    weights, so it also counts the output steps that rounding can reach
    (``0.5 * state_scale * sum |w_time|`` over one unit's rows, in output steps).

Example:
    >>> from tflite2keras.verification.quantized import bound_steps
    >>> bound_steps("fake_quant"), bound_steps("float", depth=1), bound_steps("float", depth=65)
    (2.0, 2.0, 130.0)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..conversion.quantized import describe
from ..errors import InvalidArgumentError
from ..tflite.model import Operator, TFLiteModel
from ..tflite.quant import Affine, affine, dequantize
from .inputs import Ranges, given, resolve, sample_shape
from .inputs import draw as draw_input

FAKE_QUANT_STEPS = 2.0
FAKE_QUANT_WITHIN = 0.99
#: Each layer of a float model on its own, fed the interpreter's integer inputs, where only its
#: output's requantization differs (measured: at most 1.10 steps).
FLOAT_LAYER_STEPS = 2.0
#: Outputs of a float model: steps allowed per requantizing op on the way (half a step of rounding
#: left out, at a gain of up to four; see the module docstring).
FLOAT_STEPS_PER_OP = 2.0
#: The output bound where the caller gives no depth (streaming verify, whose state recurs over
#: frames): the bound fitted to the suite before :func:`depths`; to be replaced by the unrolled depth.
FLOAT_UNKNOWN_DEPTH_STEPS = 48.0
#: Ops that move or pick quantized values without rounding, when their output keeps the input's grid.
MOVES = frozenset({
    "BATCH_TO_SPACE_ND", "BROADCAST_TO", "CONCATENATION", "DEPTH_TO_SPACE", "DEQUANTIZE", "EXPAND_DIMS", "GATHER",
    "GATHER_ND", "MAXIMUM", "MAX_POOL_2D", "MINIMUM", "MIRROR_PAD", "PACK", "PAD", "PADV2", "REDUCE_MAX",
    "REDUCE_MIN", "RELU", "RELU6", "RESHAPE", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "SLICE", "SPACE_TO_BATCH_ND",
    "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQUEEZE", "STRIDED_SLICE", "TILE", "TRANSPOSE", "UNPACK"})


def bound_steps(mode: str, layer: bool = False, depth: int | None = None) -> float:
    """The pass bound in quantization steps for a model converted with ``quantized=mode``: of a layer
    on its own (``layer``), or of an output ``depth`` requantizing ops deep (:func:`depths`).

    Example:
        >>> bound_steps("float", layer=True), bound_steps("float", depth=30)
        (2.0, 60.0)
    """
    if mode == "fake_quant":
        return FAKE_QUANT_STEPS
    if layer:
        return FLOAT_LAYER_STEPS
    if depth is None:
        return FLOAT_UNKNOWN_DEPTH_STEPS
    return max(FLOAT_LAYER_STEPS, depth * FLOAT_STEPS_PER_OP)


def depths(tfl: TFLiteModel) -> list[int]:
    """Per output of subgraph 0, how many ops on the longest path to it requantize: every op with an
    8- or 16-bit quantized output, except one of :data:`MOVES` that keeps its input's grid.

    Example (``data`` is the suite's full-integer MobileNetV2)::

        depths(read(data))       # [66]: every conv, add, mean, FC and softmax on the way
    """
    depth: dict[int, int] = {}
    for op in tfl.operators:
        base = max((depth.get(t, 0) for t in op.inputs if t >= 0), default=0)
        first = affine(tfl.tensor(op.inputs[0])) if op.inputs and op.inputs[0] >= 0 else None
        for t in op.outputs:
            tensor, grid = tfl.tensor(t), affine(tfl.tensor(t))
            kept = op.opcode in MOVES and _same_grid(first, grid)
            rounds = int(grid is not None and tensor.dtype in ("INT8", "UINT8", "INT16") and not kept)
            depth[t] = base + rounds * _time_steps(tfl, op) + rounds * _state_steps(tfl, op, grid)
    return [depth.get(t, 0) for t in tfl.outputs]


#: Ops that carry a quantized state from one time step to the next: the state is requantized once per
#: step and fed back, so the last step's output has been rounded once per step.
RECURRENT = frozenset({"UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN",
                       "BIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_RNN"})


def _state_steps(tfl: TFLiteModel, op: Operator, out: Affine | None) -> int:
    """For an integer SVDF, the output steps its state's rounding can reach, as extra depth: the kernel
    rounds the feature products into its int16 state (half a state step each), which reaches unit ``u``
    through that unit's time weights, at most ``0.5 * state_scale * sum |w_time[u]|``; a float model
    skips that rounding. 0 for other ops."""
    if op.opcode != "SVDF" or out is None or len(op.inputs) < 5 or min(op.inputs[2], op.inputs[4]) < 0:
        return 0
    state = affine(tfl.tensor(op.inputs[4]))
    if state is None or not tfl.is_constant(op.inputs[2]):
        return 0
    time = np.abs(tfl.constant(op.inputs[2]).astype(np.float64))  # (units * rank, memory), real values
    rank = max(int(op.options.get("rank", 1)), 1)
    per_unit = time.reshape(-1, rank * time.shape[-1]).sum(axis=1)
    return int(np.ceil(0.5 * state.step * float(per_unit.max(initial=0.0)) / out.step))


def _time_steps(tfl: TFLiteModel, op: Operator) -> int:
    """How many times ``op`` requantizes on the way to its output: its time steps for a recurrent op
    (axis 0 of its input when ``time_major``, else axis 1), else once."""
    if op.opcode not in RECURRENT or not op.inputs or op.inputs[0] < 0:
        return 1
    shape = tfl.tensor(op.inputs[0]).shape
    axis = 0 if op.options.get("time_major", False) else 1
    return max(int(shape[axis]), 1) if len(shape) > axis else 1


def _same_grid(a: Affine | None, b: Affine | None) -> bool:
    return (a is not None and b is not None and np.array_equal(a.scales, b.scales)
            and np.array_equal(a.zero_points, b.zero_points))


@dataclass
class QuantPlan:
    """How to feed and read an integer file: per input, its grid and whether the file takes integers;
    per output, its quantization step."""

    mode: str
    grids: list[Affine | None]
    integer_inputs: list[bool]
    steps: list[float | None]
    #: per output, the requantizing ops on the longest path to it (:func:`depths`)
    depths: list[int]


def plan(tfl: TFLiteModel, keras_model: Any) -> QuantPlan | None:
    """The plan for an integer file, or None for a float one."""
    io = describe(tfl)
    grids = [edge if edge is not None else _quantized_at_once(tfl, index) for index, edge in zip(tfl.inputs, io.inputs)]
    if not io.integer and not any(g is not None for g in grids):
        return None
    record = getattr(keras_model, "quantization", None)
    mode = getattr(record, "mode", "float")
    return QuantPlan(mode, grids, [e is not None for e in io.inputs], io.steps, depths(tfl))


def _quantized_at_once(tfl: TFLiteModel, index: int) -> Affine | None:
    """A float input whose every consumer is QUANTIZE with the same parameters: their grid."""
    consumers = tfl.consumers(index)
    grids = [affine(tfl.tensor(op.outputs[0])) for op in consumers if op.opcode == "QUANTIZE"]
    if not consumers or len(grids) != len(consumers) or grids[0] is None:
        return None
    first = grids[0]
    if all(g is not None and np.array_equal(g.scales, first.scales) and np.array_equal(g.zero_points, first.zero_points)
           for g in grids):
        return first
    return None


def draw(tfl: TFLiteModel, quant: QuantPlan, samples: int, seed: int, batch: int,
         ranges: Ranges = None) -> list[list[np.ndarray]]:
    """Seeded real-valued samples: a quantized input in ``[-1, 1)`` (or its ``ranges`` entry, in real
    values) within what its quantization represents; any other input from its range
    (:func:`tflite2keras.verification.inputs.resolve`).

    Raises:
        InvalidArgumentError: a quantized input's range lies wholly outside what it represents.
    """
    bounds, user = resolve(tfl, ranges), given(tfl, ranges)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        sample = []
        for j, (index, grid, lo_hi) in enumerate(zip(tfl.inputs, quant.grids, bounds)):
            tensor = tfl.tensor(index)
            shape = sample_shape(tensor, batch)
            if grid is None:
                sample.append(draw_input(rng, tfl, index, shape, lo_hi))
                continue
            lo, hi = user.get(j, (-1.0, 1.0))
            lo, hi = max(lo, grid.range()[0]), min(hi, grid.range()[1])
            if lo >= hi:
                raise InvalidArgumentError(
                    f"verify: input {j} {tensor.name!r} represents [{grid.range()[0]:.4g}, {grid.range()[1]:.4g}] "
                    f"({grid.dtype.lower()}), and its range {user.get(j)} lies outside it")
            sample.append(rng.uniform(lo, hi, size=shape).astype(np.float32))
        out.append(sample)
    return out


def split(quant: QuantPlan, feed: list[list[np.ndarray]], user: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """The interpreter's feed (integers where the file takes them) and Keras's (the same real values).

    The last ``user`` samples came from the caller: a value far outside what its input can
    represent is clamped by quantization, and that is warned about rather than hidden.
    """
    interpreter, keras_feed = [], []
    for s, sample in enumerate(feed):
        ints, reals = [], []
        for j, (x, grid, integer) in enumerate(zip(sample, quant.grids, quant.integer_inputs)):
            if grid is None:
                ints.append(x)
                reals.append(x)
                continue
            lo, hi = grid.range()
            if s >= len(feed) - user and (x.min() < lo - grid.step or x.max() > hi + grid.step):
                warnings.warn(f"verify: inputs[{s - len(feed) + user}] for model input {j} spans "
                              f"[{x.min():.4g}, {x.max():.4g}], beyond what its {grid.dtype.lower()} quantization "
                              f"represents, [{lo:.4g}, {hi:.4g}]: the interpreter sees it clamped", stacklevel=3)
            q = grid.quantize(x)
            reals.append(grid.dequantize(q))
            ints.append(q if integer else reals[-1])
        interpreter.append(ints)
        keras_feed.append(reals)
    return interpreter, keras_feed


def real(tfl: TFLiteModel, index: int, value: np.ndarray) -> np.ndarray:
    """An interpreter tensor as real values: integers dequantized with the tensor's parameters."""
    tensor = tfl.tensor(index)
    if value.dtype.kind not in "iu" or affine(tensor) is None:
        return value
    return dequantize(value, tensor)
