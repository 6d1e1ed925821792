"""Quantized files: which tensors are quantized, and the integer edges of a converted model.

``convert(source, quantized="float")`` (the default) gives a float32 model: weights are
dequantized, QUANTIZE/DEQUANTIZE of activations become identities, and an int8/uint8/int16 graph
input or output becomes float32. ``quantized="fake_quant"`` puts a
:class:`~tflite2keras.layers.FakeQuant` after every quantized activation tensor of the file, so
the model rounds and clamps as the integer interpreter does and trains quantization-aware.

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

from .errors import InvalidArgumentError, InvalidModelError
from .model import Source, Tensor, TFLiteModel

MODES = ("float", "fake_quant")
#: Layers that round a tensor to the quantization grid the file gives it: the file's tensor is the
#: same before and after them (``align`` pairs through them).
GRID_LAYERS = ("FakeQuant",)
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
