"""The contract between the graph walk and the converters: :class:`ConvertContext` and :data:`Converter`.

A converter is ``converter(ctx, op) -> [Keras tensors]``: one Keras tensor per output of ``op``
(or one tensor for a one-output op), built with registered Keras layers from ``ctx.input(op,
slot)`` and ``ctx.constant(op, slot)``. ``convert`` makes one :class:`ConvertContext` per
conversion and records each op's outputs in it.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.ops.contract import ConvertContext
    >>> ctx = ConvertContext(read(tiny.tflite()))
    >>> ctx.input_name(ctx.tfl.inputs[0]), ctx.mode
    ('args_0', 'float')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

from ..errors import ShapeMismatchError, UnsupportedOpError
from ..tflite.model import Operator, TFLiteModel
from ..tflite.names import assign_names, input_name, op_names, sanitize, scope_names
from ..tflite.quant import affine, keras_dtype
from ..tflite.variables import variables
from . import fold, fused
from .ranges import UNBOUNDED, Interval, natural_range, range_activation
from .registry import find
from .slots import weight_ops

if TYPE_CHECKING:
    from keras import KerasTensor


class ConvertContext:
    """What a converter sees: the TFLite model, the Keras tensors made so far, and naming.

    Attributes:
        tfl: the TFLite model being converted. ``convert`` gives the file with the shapes the
            interpreter computes in place of stale stored ones (see
            :mod:`tflite2keras.conversion.prepared`), so converters, :func:`check_output` and
            shape folding read the computed shapes through ``tfl.tensor(i).shape``.
        tensors: TFLite tensor index -> Keras tensor, for every tensor computed so far.
        weight_ops: Keras layer name -> ``"#op_index"`` for every layer that takes weights.
        fixed_batch: None while axis 0 is a free batch; with fixed shapes, the reason (the op that
            pins axis 0): the Keras inputs then have the file's full shapes, :func:`check_output`
            compares axis 0 too, shape arithmetic folds at the file's own shapes, and converters
            that refuse for the batch use full-tensor layers (:mod:`tflite2keras.layers.fixed`).
    """

    def __init__(self, tfl: TFLiteModel, mode: str = "float", fixed_batch: str | None = None) -> None:
        self.tfl = tfl
        self.mode = mode
        self.fixed_batch = fixed_batch
        #: VAR_HANDLE output tensor -> its resource variable (:mod:`tflite2keras.tflite.variables`).
        self.state_variables = variables(tfl)
        #: variable name -> its current Keras tensor (the state input, or the last assigned value).
        self.state: dict[str, Any] = {}
        self.tensors: dict[int, Any] = {}
        self.weight_ops: dict[str, str] = {}
        self._names: set[str] = set()
        self._output_names = {t: sanitize(tfl.tensor(t).name) for t in tfl.outputs}
        #: tensor index -> its value folded at two batch sizes (see :mod:`tflite2keras.ops.fold`).
        self.folded = fold.fold(tfl, fixed=fixed_batch is not None)
        #: quantized tensor index -> where the float model's value lies (float mode's saturation).
        self.intervals: dict[int, Interval] = {}
        #: op index -> the Keras activation its output range carries, folded into its layer.
        self.range_folded: dict[int, str] = {}
        self._weight_names = assign_names({
            op.index: [n for n in op_names(tfl, op, find(op.opcode).name_slots) if not n.startswith("model")]
            for op in weight_ops(tfl)})

    def graph_input(self, index: int) -> Any:
        """The Keras input for graph input tensor ``index`` (float32 where the file quantizes it).

        With :attr:`fixed_batch`, the input has the file's full shape (``batch_shape``).

        Raises:
            UnsupportedOpError: the input is a scalar (rank 0): a Keras input has a batch axis.
        """
        import keras

        tensor = self.tfl.tensor(index)
        if self.fixed_batch is not None and tensor.shape:
            x = keras.Input(batch_shape=full_shape(tensor), name=self.input_name(index), dtype=keras_dtype(tensor))
            self.tensors[index] = self._fake_quant(index, x)
            return x
        if not (tensor.shape_signature or tensor.shape):
            raise UnsupportedOpError(
                f"graph input tensor {index} {tensor.name!r} is a scalar (rank 0, {tensor.dtype}): the inputs of a "
                "Keras model have a batch axis first, expected rank >= 1, received rank 0. Export the model with "
                "an input of shape [1] (or [batch]) instead of a scalar")
        shape = tuple(d if d > 0 else None for d in (tensor.shape_signature or tensor.shape))[1:]
        x = keras.Input(shape=shape, name=self.input_name(index), dtype=keras_dtype(tensor))
        self.tensors[index] = self._fake_quant(index, x)
        return x

    def state_inputs(self) -> list[Any]:
        """One Keras input per resource variable, named after it; each is the variable's value
        before the step until an ASSIGN_VARIABLE replaces it."""
        import keras

        inputs = []
        for variable in self.state_variables.values():
            name = self._unique(variable.key)
            if self.fixed_batch is not None:
                inputs.append(keras.Input(batch_shape=tuple(variable.shape), name=name, dtype=variable.dtype))
            else:
                inputs.append(keras.Input(shape=variable.shape[1:], name=name, dtype=variable.dtype))
            self.state[variable.name] = inputs[-1]
        return inputs

    def state_outputs(self) -> list[Any]:
        """Each variable's value after the step, as an output named ``<variable>_out``."""
        import keras

        return [keras.layers.Identity(name=self._unique(f"{v.key}_out"))(self.state[v.name])
                for v in self.state_variables.values()]

    def dtype(self, index: int) -> str:
        """The Keras dtype of TFLite tensor ``index``: its own, or float32 for a quantized activation."""
        return keras_dtype(self.tfl.tensor(index))

    def emit(self, op: Operator, index: int, value: Any) -> None:
        """Record the Keras tensor a converter built for ``op``'s output tensor ``index``, after
        checking its shape and dtype; a quantized tensor is fake-quantized in ``fake_quant`` mode, and
        in ``float`` mode saturated to its range where the op's result can leave it."""
        check_output(self.tfl, op, index, value, fixed=self.fixed_batch is not None)
        self.tensors[index] = self._fake_quant(index, self._saturate(op, index, value))

    def interval(self, index: int) -> Interval:
        """Where the float model's value of tensor ``index`` lies: as emitted, or, for a quantized
        constant or graph input, the range it represents; else unbounded."""
        if index in self.intervals:
            return self.intervals[index]
        edge = affine(self.tfl.tensor(index))
        if edge is not None and edge.scales.size == 1 and (self.tfl.is_constant(index) or index in self.tfl.inputs):
            return edge.range()
        return UNBOUNDED

    def _saturate(self, op: Operator, index: int, x: Any) -> Any:
        """In float mode, clamp a quantized result to its range where it can leave it by more than a
        step (a :class:`~tflite2keras.layers.Saturate`), as the integer kernel saturates."""
        edge = affine(self.tfl.tensor(index)) if self.mode == "float" else None
        if edge is None or edge.scales.size != 1:
            return x
        inputs = [self.interval(t) for t in op.inputs if t >= 0 and affine(self.tfl.tensor(t)) is not None]
        natural = natural_range(op, inputs, self.range_folded.get(op.index))
        low, high = edge.range()
        slack = edge.step * (1 + 1e-6)  # one step: rounding's share (LOGISTIC's 1.0 into 255/256)
        if natural[0] >= low - slack and natural[1] <= high + slack:
            self.intervals[index] = natural
            return x
        from ..layers.quantize import Saturate

        self.intervals[index] = (max(natural[0], low), min(natural[1], high))
        base = sanitize(self.tfl.tensor(index).name.split(";")[0]) or f"tensor_{index}"
        return Saturate(low, high, name=self.suffixed(base, "saturate"))(x)

    def _fake_quant(self, index: int, x: Any) -> Any:
        edge = affine(self.tfl.tensor(index)) if self.mode == "fake_quant" else None
        if edge is None:
            return x
        from ..layers import FakeQuant

        base = sanitize(self.tfl.tensor(index).name.split(";")[0]) or f"tensor_{index}"
        return FakeQuant(**edge.layer_args(), name=self.suffixed(base, "fake_quant"))(x)

    def input(self, op: Operator, slot: int = 0) -> Any:
        """The Keras tensor that feeds ``op``'s input ``slot``."""
        index = op.inputs[slot]
        if index in self.folded and index not in self.tensors:
            raise UnsupportedOpError(
                f"op {op.index} ({op.opcode}) input {slot} is tensor {index} {self.tfl.tensor(index).name!r}, "
                f"shape arithmetic folded to {self.folded[index][0].tolist()} at batch {fold.BATCHES[0]}: "
                "its value depends on the batch, and this converter takes it only as a tensor")
        if index not in self.tensors:
            raise UnsupportedOpError(
                f"op {op.index} ({op.opcode}) input {slot} is tensor {index} "
                f"{self.tfl.tensor(index).name!r}, which no converted op computes (a constant where a "
                "tensor was expected?)"
            )
        return self.tensors[index]

    def is_constant(self, op: Operator, slot: int) -> bool:
        """True when ``op``'s input ``slot`` is a constant (possibly behind DEQUANTIZE/DENSIFY), or
        shape arithmetic whose value does not depend on the batch."""
        if not op.has_input(slot):
            return False
        index = op.inputs[slot]
        return self.tfl.is_constant(index) or fold.is_fixed(self.folded.get(index))

    def constant(self, op: Operator, slot: int) -> np.ndarray:
        """The value of ``op``'s constant input ``slot``."""
        index = op.inputs[slot]
        if index in self.folded:
            return self.folded[index][0]
        return self.tfl.constant(index)

    def folded_value(self, op: Operator, slot: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``op``'s input ``slot`` folded at the batch sizes of :data:`tflite2keras.ops.fold.BATCHES`,
        or None when it is not shape arithmetic."""
        return self.folded.get(op.inputs[slot]) if op.has_input(slot) else None

    def activation(self, op: Operator) -> str | None:
        """The Keras name of the op's fused activation, or None (see :mod:`tflite2keras.ops.fused`).

        In ``float`` mode, the activation the op's output range carries where that is exactly
        ``relu6`` or ``hard_tanh`` (:func:`tflite2keras.ops.ranges.range_activation`): for layers that
        take ``activation=``.

        Raises:
            UnsupportedOpError: no Keras activation computes it (``SIGN_BIT``).
        """
        name = fused.keras_activation(op)
        carried = range_activation(self.tfl, op) if self.mode == "float" else None
        if carried is not None:
            self.range_folded[op.index] = carried
            return carried
        return name

    def name(self, op: Operator, weights: bool = False) -> str:
        """A unique, stable Keras layer name for ``op``.

        The op's output tensor name, when it is a model output; else the layer scope in the
        TFLite names (``model_1/model/conv2d_4/Conv2D`` -> ``conv2d_4``); else op kind and index.
        """
        candidates = [self._output_names.get(op.outputs[0], "")] if op.outputs else []
        candidates += [self._weight_names.get(op.index, "")] if weights else []
        candidates += scope_names(self.tfl.tensor(op.outputs[0]).name)[:1] if op.outputs else []
        for candidate in map(sanitize, candidates):
            if candidate and candidate not in self._names and not candidate.startswith("model"):
                return self._unique(candidate)
        return self._unique(f"{op.opcode.lower()}_{op.index}")

    def input_name(self, index: int) -> str:
        """A unique Keras name for graph input tensor ``index`` (its TFLite name, cleaned)."""
        return self._unique(sanitize(input_name(self.tfl.tensor(index).name)) or f"input_{index}")

    def suffixed(self, base: str, suffix: str) -> str:
        """A unique name for a helper layer that follows layer ``base`` (e.g. a fused ReLU)."""
        return self._unique(f"{base}_{suffix}")

    def _unique(self, name: str) -> str:
        while name in self._names:
            name += "_"
        self._names.add(name)
        return name

    def takes_weights(self, layer: Any, op: Operator) -> Any:
        """Record that ``layer`` receives ``op``'s weights; returns the layer."""
        self.weight_ops[layer.name] = f"#{op.index}"
        return layer

    def activate(self, x: Any, op: Operator, base: str) -> Any:
        """Apply the op's fused activation as its own layer (for layers without ``activation=``)."""
        import keras

        activation = fused.keras_activation(op)  # (a range's clamp is left to ``emit``)
        if activation is None:
            return x
        return keras.layers.Activation(activation, name=self.suffixed(base, activation))(x)


def full_shape(tensor: Any) -> tuple[int | None, ...]:
    """A tensor's shape with fixed shapes: axis 0 as the interpreter computes it, another extent the
    signature leaves dynamic as None."""
    signature = tuple(tensor.shape_signature or tensor.shape)
    return tuple(int(s) if i == 0 or w >= 0 else None for i, (s, w) in enumerate(zip(tensor.shape, signature)))


def check_output(tfl: TFLiteModel, op: Operator, index: int, value: Any, fixed: bool = False) -> None:
    """The Keras tensor a converter built for TFLite tensor ``index`` must have its rank, dtype
    and every extent both sides know: not the batch (but with ``fixed`` shapes, where axis 0 is
    data), not a dimension the signature leaves dynamic.

    ``tfl``'s shapes are the truth checked against: in ``convert``, the ones the interpreter
    computes (:mod:`tflite2keras.conversion.prepared`), the stored ones where it cannot run the file."""
    tensor = tfl.tensor(index)
    want = tuple(tensor.shape_signature or tensor.shape)
    if fixed and want:
        want = tuple(-1 if d is None else d for d in full_shape(tensor))
    got = tuple(value.shape)
    first = 0 if fixed else 1
    known = len(got) == len(want) and all(g is None or w < 0 or g == w for g, w in zip(got[first:], want[first:]))
    dtype = keras_dtype(tensor)
    if not known or str(value.dtype) != dtype:
        expected = tuple(None if w < 0 else w for w in want) if fixed else (
            (None,) + tuple(None if w < 0 else w for w in want[1:]) if want else ())
        raise ShapeMismatchError(
            f"op {op.index} ({op.opcode}) output tensor {index} {tensor.name!r}: expected shape {expected} "
            f"{dtype}, received {got} {value.dtype} from its converter")


#: ``converter(ctx, op)``: the Keras tensors of ``op``'s outputs (a sequence, or one tensor).
Converter = Callable[[ConvertContext, Operator], Union["Sequence[KerasTensor]", "KerasTensor"]]
