"""Quantized files: which tensors are quantized, and the integer edges of a converted model.

``convert(source, quantized="float")`` (the default) gives a float32 model: weights are
dequantized, QUANTIZE/DEQUANTIZE of activations become identities, and an int8/uint8/int16 graph
input or output becomes float32. ``quantized="fake_quant"`` puts a
:class:`~tflite2keras.layers.FakeQuant` after every quantized activation tensor of the file, so
the model rounds and clamps as the integer interpreter does and trains quantization-aware.

Float mode is the integer model's function without its rounding: weights dequantized, saturation
kept. An integer kernel saturates its result to what the output tensor represents
(:meth:`Affine.range`), and TOCO-era files carry ReLU6 only that way (fused activation NONE, output
range [0, 6]). So wherever an op's float result can leave that range (:func:`natural_range`), the
float model clamps it: in the layer's ``activation=`` when the clamp is exactly ``relu6`` or
``hard_tanh`` (:func:`range_activation`), else with a :class:`~tflite2keras.layers.Saturate` layer.

Either way the file's integer inputs and outputs, with their scales and zero points, are kept
in ``model.quantization`` (:class:`QuantizedIO`); :func:`quantized_io` wraps the model so that it
takes and returns those integer types.

Example:
    >>> import numpy as np
    >>> from tflite2keras.quantized import Affine
    >>> Affine("int8", np.array([0.5]), np.array([-3]), -1).quantize(np.array([1.0, 100.0])).tolist()
    [-1, 127]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import CLAMPS, FULL_ACTIVATION_OPS, KERAS, fused
from .errors import InvalidArgumentError, InvalidModelError
from .model import Operator, Source, Tensor, TFLiteModel
from .registry import find

MODES = ("float", "fake_quant")
#: Layers that round a tensor to the quantization grid the file gives it: the file's tensor is the
#: same before and after them (``align`` pairs through them).
GRID_LAYERS = ("FakeQuant", "Saturate")
#: TFLite integer types that carry quantized activations -> (qmin, qmax).
RANGES = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767)}


@dataclass(frozen=True)
class Affine:
    """One tensor's quantization: ``real = scale * (q - zero_point)``, per tensor or along ``axis``."""

    dtype: str
    scales: np.ndarray
    zero_points: np.ndarray
    axis: int

    @property
    def step(self) -> float:
        """The largest scale: one quantization step of the tensor."""
        return float(np.max(self.scales))

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Round half away from zero and clamp, as TFLite's QUANTIZE (per tensor)."""
        lo, hi = RANGES[self.dtype.upper()]
        q = np.sign(x / self.scales[0]) * np.floor(np.abs(x / self.scales[0]) + 0.5) + self.zero_points[0]
        return np.clip(q, lo, hi).astype(self.dtype.lower())

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """``scale * (q - zero_point)`` in float32 (per tensor)."""
        return (self.scales[0] * (q.astype(np.float64) - self.zero_points[0])).astype(np.float32)

    def range(self) -> tuple[float, float]:
        """The real values the tensor can represent (per tensor)."""
        lo, hi = RANGES[self.dtype.upper()]
        return float(self.dequantize(np.array(lo))), float(self.dequantize(np.array(hi)))

    def layer_args(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~tflite2keras.layers.FakeQuant` and its siblings."""
        return {"scale": self.scales.tolist(), "zero_point": self.zero_points.tolist(),
                "dtype_name": self.dtype.lower(), "axis": self.axis}


def affine(tensor: Tensor) -> Affine | None:
    """The quantization of an int8/uint8/int16 tensor with scales, or None.

    Raises:
        InvalidModelError: a scale is zero, negative or not finite, or a zero point lies outside
            the type's range; the message names the tensor.
    """
    quant = tensor.quantization
    if tensor.dtype not in RANGES or quant is None or not quant.scales.size:
        return None
    scales = np.asarray(quant.scales, np.float32).reshape(-1)
    points = np.asarray(quant.zero_points, np.int64).reshape(-1) if quant.zero_points.size else np.zeros(1, np.int64)
    lo, hi = RANGES[tensor.dtype]
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: quantization scales {scales[:4].tolist()} "
                                "must be positive and finite")
    if np.any(points < lo) or np.any(points > hi):
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: zero points {points[:4].tolist()} lie "
                                f"outside {tensor.dtype} [{lo}, {hi}]")
    if points.size not in (1, scales.size):
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: {points.size} zero points for "
                                f"{scales.size} scales")
    if scales.size > 1 and not 0 <= quant.quantized_dimension < max(len(tensor.shape), 1):
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: per-channel axis "
                                f"{quant.quantized_dimension} does not exist in shape {tuple(tensor.shape)}")
    if scales.size > 1 and tensor.shape[quant.quantized_dimension] != scales.size:
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: {scales.size} scales along axis "
                                f"{quant.quantized_dimension} do not fit shape {tuple(tensor.shape)}")
    return Affine(tensor.dtype, scales, np.broadcast_to(points, scales.shape).copy(), int(quant.quantized_dimension))


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
        >>> from tflite2keras.model import Operator
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
    if (spec is None or not spec.fused_activation or op.opcode in FULL_ACTIVATION_OPS or len(op.outputs) != 1
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


def keras_dtype(tensor: Tensor) -> str:
    """The dtype a converted model computes the tensor in: float32 for a quantized activation."""
    return "float32" if affine(tensor) is not None else tensor.dtype.lower()


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`.

    Raises:
        InvalidArgumentError: it is not.
    """
    if mode not in MODES:
        raise InvalidArgumentError(f"convert: quantized={mode!r}; expected one of {list(MODES)}")
    return mode


@dataclass
class QuantizedIO:
    """A converted model's record of the file's integer edges (``model.quantization``).

    Attributes:
        mode: the ``quantized=`` mode the model was converted with.
        inputs / outputs: per model input / output, its quantization, or None for a float edge.
        steps: per model output, one quantization step of the tensor the file computes it from
            (the output itself, or the input of a final DEQUANTIZE), or None for a float model.
    """

    mode: str = "float"
    inputs: list[Affine | None] = field(default_factory=list)
    outputs: list[Affine | None] = field(default_factory=list)
    steps: list[float | None] = field(default_factory=list)

    @property
    def integer(self) -> bool:
        """True when the file computes any output in integers."""
        return any(s is not None for s in self.steps)


def describe(tfl: TFLiteModel, mode: str = "float") -> QuantizedIO:
    """The integer edges of a file and the quantization step of each output."""
    io = QuantizedIO(mode=mode)
    io.inputs = [affine(tfl.tensor(i)) for i in tfl.inputs]
    io.outputs = [affine(tfl.tensor(i)) for i in tfl.outputs]
    for index, edge in zip(tfl.outputs, io.outputs):
        source = edge
        producer = tfl.producer(index)
        if source is None and producer is not None and producer.opcode == "DEQUANTIZE":
            source = affine(tfl.tensor(producer.inputs[0]))
        io.steps.append(None if source is None else source.step)
    return io


def quantized_io(model: Any, source: Source | None = None) -> Any:
    """Wrap a converted model so that it takes and returns the file's integer types.

    Each quantized input is dequantized with the file's scale and zero point before the model,
    and each quantized output quantized after it; float edges pass unchanged.

    Args:
        model: a model from ``convert`` (it carries ``model.quantization``); after a reload,
            pass ``source`` too.
        source: the ``.tflite`` file the model came from, read when the model has no record.

    Returns:
        A ``keras.Model`` with integer inputs and outputs where the file has them.

    Raises:
        InvalidArgumentError: the model has no record and no ``source`` was given.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras import tiny
        >>> wrapped = t2k.quantized_io(t2k.convert(tiny.tflite()))   # a float file: unchanged edges
        >>> wrapped.input.dtype
        'float32'
    """
    import keras

    from .layers import Dequantize, Quantize
    from .reader import read

    io = getattr(model, "quantization", None)
    if io is None:
        if source is None:
            raise InvalidArgumentError("quantized_io: the model has no `quantization` record (reloaded?); "
                                       "pass source= the .tflite file it was converted from")
        io = describe(read(source))
    inputs, feeds = [], []
    for tensor, edge in zip(model.inputs, io.inputs):
        name = tensor.name.split(":")[0]
        if edge is None:
            inputs.append(keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=name))
            feeds.append(inputs[-1])
        else:
            inputs.append(keras.Input(tensor.shape[1:], dtype=edge.dtype.lower(), name=name))
            feeds.append(Dequantize(**edge.layer_args(), name=f"{name}_dequantize")(inputs[-1]))
    outs = model(feeds if len(feeds) > 1 else feeds[0])
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    wrapped = [o if e is None else Quantize(**e.layer_args(), name=f"output_{i}_quantize")(o)
               for i, (o, e) in enumerate(zip(outs, io.outputs))]
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], wrapped if len(wrapped) > 1 else wrapped[0],
                       name=f"{model.name}_quantized_io")
