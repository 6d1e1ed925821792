"""Quantized files: which tensors are quantized, and the integer edges of a converted model.

``convert(source, quantized="float")`` (the default) gives a float32 model: weights are
dequantized, QUANTIZE/DEQUANTIZE of activations become identities, and an int8/uint8/int16 graph
input or output becomes float32. ``quantized="fake_quant"`` puts a
:class:`~tflite2keras.layers.FakeQuant` after every quantized activation tensor of the file, so
the model rounds and clamps as the integer interpreter does and trains quantization-aware.

Float mode is the integer model's function without its rounding: weights dequantized, saturation
kept. An integer kernel saturates its result to what the output tensor represents
(:meth:`tflite2keras.tflite.quant.Affine.range`), and TOCO-era files carry ReLU6 only that way (fused activation NONE, output
range [0, 6]). So wherever an op's float result can leave that range (:func:`tflite2keras.ops.ranges.natural_range`), the
float model clamps it: in the layer's ``activation=`` when the clamp is exactly ``relu6`` or
``hard_tanh`` (:func:`tflite2keras.ops.ranges.range_activation`), else with a :class:`~tflite2keras.layers.Saturate` layer.

Either way the file's integer inputs and outputs, with their scales and zero points, are kept
in ``model.quantization`` (:class:`QuantizedIO`); :func:`quantized_io` wraps the model so that it
takes and returns those integer types.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> describe(read(tiny.tflite())).inputs     # a float file: no integer edges
    [None]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError
from ..tflite.model import Source, TFLiteModel
from ..tflite.quant import Affine, affine
from ..tflite.variables import variables

if TYPE_CHECKING:
    import keras

MODES = ("float", "fake_quant")
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


def quantized_io(model: keras.Model, source: Source | None = None) -> keras.Model:
    """Wrap a converted model so that it takes and returns the file's integer types.

    Each quantized input is dequantized with the file's scale and zero point before the model,
    and each quantized output quantized after it; float edges pass unchanged. A streaming model's
    state inputs and outputs are edges too: a variable the file keeps in integers is taken and
    returned in them.

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
        >>> from tflite2keras.testdata import tiny
        >>> wrapped = t2k.quantized_io(t2k.convert(tiny.tflite()))   # a float file: unchanged edges
        >>> wrapped.input.dtype
        'float32'
    """
    import keras

    from ..layers import Dequantize, Quantize
    from ..tflite.reader import read

    io = getattr(model, "quantization", None)
    if io is None:
        if source is None:
            raise InvalidArgumentError("quantized_io: the model has no `quantization` record (reloaded?); "
                                       "pass source= the .tflite file it was converted from")
        io = describe(read(source))
    record = getattr(model, "streaming", None)
    grids = (record.grids if record is not None else
             [v.quantization for v in variables(read(source)).values()] if source is not None else [])
    in_edges, out_edges = io.inputs + grids, io.outputs + grids
    if len(model.inputs) != len(in_edges) or len(model.outputs) != len(out_edges):
        raise InvalidArgumentError(f"quantized_io: expected a model with {len(in_edges)} inputs and {len(out_edges)} "
                                   f"outputs (the file's, and its state), received {len(model.inputs)} and "
                                   f"{len(model.outputs)}")
    inputs, feeds = [], []
    for tensor, edge in zip(model.inputs, in_edges):
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
               for i, (o, e) in enumerate(zip(outs, out_edges))]
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], wrapped if len(wrapped) > 1 else wrapped[0],
                       name=f"{model.name}_quantized_io")
