"""``convert()``: a trainable Keras functional model built op by op from a TFLite graph.

Each op's converter (registered on its :class:`~tflite2keras.registry.OpSpec`) creates
standard Keras layers where they express the op exactly and registered layers from
:mod:`tflite2keras.layers` where they do not. Weights then go in through
:func:`tflite2keras.transplant`, so there is one code path for layouts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import activations, patterns, shapes
from .quantized import affine, check_mode, describe, keras_dtype
from .errors import ShapeMismatchError, UnsupportedOpError
from .mapping import assign_names, input_name, op_names, sanitize, scope_names
from .model import Operator, Source, TFLiteModel
from .reader import read
from .registry import find, weight_ops

#: Where the docs show how to register a converter from a notebook.
DOCS_ADDING_AN_OP = "README.md, section 'Adding an op'"


class ConvertContext:
    """What a converter sees: the TFLite model, the Keras tensors made so far, and naming.

    Attributes:
        tfl: the TFLite model being converted.
        tensors: TFLite tensor index -> Keras tensor, for every tensor computed so far.
        weight_ops: Keras layer name -> ``"#op_index"`` for every layer that takes weights.
    """

    def __init__(self, tfl: TFLiteModel, mode: str = "float") -> None:
        self.tfl = tfl
        self.mode = mode
        self.tensors: dict[int, Any] = {}
        self.weight_ops: dict[str, str] = {}
        self._names: set[str] = set()
        self._output_names = {t: sanitize(tfl.tensor(t).name) for t in tfl.outputs}
        #: tensor index -> its value folded at two batch sizes (see :mod:`tflite2keras.shapes`).
        self.folded = shapes.fold(tfl)
        self._weight_names = assign_names({
            op.index: [n for n in op_names(tfl, op, find(op.opcode).name_slots) if not n.startswith("model")]
            for op in weight_ops(tfl)})

    def graph_input(self, index: int) -> Any:
        """The Keras input for graph input tensor ``index`` (float32 where the file quantizes it)."""
        import keras

        tensor = self.tfl.tensor(index)
        shape = tuple(d if d > 0 else None for d in (tensor.shape_signature or tensor.shape))[1:]
        x = keras.Input(shape=shape, name=self.input_name(index), dtype=keras_dtype(tensor))
        self.tensors[index] = self._fake_quant(index, x)
        return x

    def emit(self, op: Operator, index: int, value: Any) -> None:
        """Record the Keras tensor a converter built for ``op``'s output tensor ``index``, after
        checking its shape and dtype; in ``fake_quant`` mode, a quantized tensor is fake-quantized."""
        _check_output(self.tfl, op, index, value)
        self.tensors[index] = self._fake_quant(index, value)

    def _fake_quant(self, index: int, x: Any) -> Any:
        edge = affine(self.tfl.tensor(index)) if self.mode == "fake_quant" else None
        if edge is None:
            return x
        from .layers import FakeQuant

        base = sanitize(self.tfl.tensor(index).name.split(";")[0]) or f"tensor_{index}"
        return FakeQuant(**edge.layer_args(), name=self.suffixed(base, "fake_quant"))(x)

    def input(self, op: Operator, slot: int = 0) -> Any:
        """The Keras tensor that feeds ``op``'s input ``slot``."""
        index = op.inputs[slot]
        if index in self.folded and index not in self.tensors:
            raise UnsupportedOpError(
                f"op {op.index} ({op.opcode}) input {slot} is tensor {index} {self.tfl.tensor(index).name!r}, "
                f"shape arithmetic folded to {self.folded[index][0].tolist()} at batch {shapes.BATCHES[0]}: "
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
        return self.tfl.is_constant(index) or shapes.is_fixed(self.folded.get(index))

    def constant(self, op: Operator, slot: int) -> np.ndarray:
        """The value of ``op``'s constant input ``slot``."""
        index = op.inputs[slot]
        if index in self.folded:
            return self.folded[index][0]
        return self.tfl.constant(index)

    def folded_value(self, op: Operator, slot: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``op``'s input ``slot`` folded at the batch sizes of :data:`tflite2keras.shapes.BATCHES`,
        or None when it is not shape arithmetic."""
        return self.folded.get(op.inputs[slot]) if op.has_input(slot) else None

    def activation(self, op: Operator) -> str | None:
        """The Keras name of the op's fused activation, or None (see :mod:`tflite2keras.activations`).

        Raises:
            UnsupportedOpError: no Keras activation computes it (``SIGN_BIT``).
        """
        return activations.keras_activation(op)

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

        activation = self.activation(op)
        if activation is None:
            return x
        return keras.layers.Activation(activation, name=self.suffixed(base, activation))(x)


def convert(source: Source, *, name: str | None = None, quantized: str = "float") -> Any:
    """Build a trainable Keras model from subgraph 0 of a TFLite model.

    Inputs and outputs keep the TFLite order and names; the batch dimension is free.
    Every weight tensor of the file becomes a trainable variable.

    Args:
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        name: the Keras model's name (default: the file's stem).
        quantized: for integer files, ``"float"`` (a float32 model: weights dequantized,
            QUANTIZE/DEQUANTIZE of activations as identities, integer inputs and outputs as
            float32) or ``"fake_quant"`` (the same, with a ``FakeQuant`` layer after every quantized
            activation tensor, reproducing the integer model and training quantization-aware).
            See :mod:`tflite2keras.quantized`; ``model.quantization`` records the file's integer
            edges, and :func:`tflite2keras.quantized_io` restores them.

    Returns:
        A ``keras.Model``, called once on zeros before it is returned.

    Raises:
        UnsupportedOpError: an op has no registered converter; the message names the op,
            its index and its input/output tensors.
        ShapeMismatchError: a converter built a Keras tensor whose shape (batch and dynamic
            dimensions aside) or dtype differs from the TFLite tensor's.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras import tiny
        >>> model = t2k.convert(tiny.tflite())      # or a path: t2k.convert("selfie_segmentation.tflite")
        >>> [type(layer).__name__ for layer in model.layers]
        ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Conv2D']
        >>> model.layers[1].activation.__name__, model.input.shape
        ('relu', (None, 8, 8, 3))
    """
    import keras

    from .transplant import transplant

    tfl = read(source)
    ctx = ConvertContext(tfl, check_mode(quantized))
    inputs = [ctx.graph_input(index) for index in tfl.inputs]
    _convert_ops(ctx)
    missing = [t for t in tfl.outputs if t not in ctx.tensors]
    if missing:
        raise UnsupportedOpError(f"no op computes the model outputs {missing}")
    model_name = sanitize(name or tfl.source.rsplit(".", 1)[0]) or "converted"
    outputs = [ctx.tensors[t] for t in tfl.outputs]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                        name=model_name)
    transplant(model, tfl, overrides=ctx.weight_ops, strict=True)
    model.quantization = describe(tfl, ctx.mode)
    _call_once(model)
    return model


def _convert_ops(ctx: ConvertContext) -> None:
    """Run every op's converter (or its pattern's builder) in graph order; folded ops build nothing."""
    tfl = ctx.tfl
    matches = {m.ops[-1]: m for m in patterns.find(tfl)}
    covered = {i for m in matches.values() for i in m.ops}
    skip = covered | {op.index for op in tfl.operators if all(t in ctx.folded for t in op.outputs)}
    _check_all_supported(tfl, skip)
    for op in tfl.operators:
        if op.index in matches:
            for index, value in matches[op.index].build(ctx).items():
                ctx.emit(op, index, value)
        if op.index in skip:
            continue
        spec = find(op.opcode)
        if _decodes_a_constant(tfl, op, spec):
            continue
        assert spec is not None and spec.converter is not None  # _check_all_supported
        activations.check_declared(op, spec)
        for index, value in zip(op.outputs, spec.converter(ctx, op)):
            ctx.emit(op, index, value)


def _call_once(model: Any) -> None:
    """Run the model once on zeros at batch 1, so that a model that cannot run never converts.

    Raises:
        ShapeMismatchError: the built model fails on its own input shapes.
    """
    feeds = [np.zeros((1, *(d or 1 for d in x.shape[1:])), x.dtype) for x in model.inputs]
    try:
        model(feeds if len(feeds) > 1 else feeds[0], training=False)
    except Exception as err:  # noqa: BLE001 - any failure here is a conversion bug, reported as one
        raise ShapeMismatchError(f"the converted model {model.name!r} fails on a zero input of batch 1: "
                                 f"{type(err).__name__}: {str(err)[:500]}") from err


def load(path: Any) -> Any:
    """Load a saved converted model with ``safe_mode=True``, registering our layers first.

    ``keras.saving.load_model`` works too once ``tflite2keras.layers`` has been imported.

    Example:
        >>> import os, tempfile
        >>> import tflite2keras as t2k
        >>> from tflite2keras import tiny
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "tiny.keras")
        >>> t2k.convert(tiny.tflite()).save(path)
        >>> t2k.load(path).count_params()            # 3*3*3*4 + 4 and 1*1*4*2 + 2
        122
        >>> folder.cleanup()
    """
    import keras

    from . import layers  # noqa: F401  (registers the custom layer classes)

    return keras.saving.load_model(path, safe_mode=True)


def _check_output(tfl: TFLiteModel, op: Operator, index: int, value: Any) -> None:
    """The Keras tensor a converter built for TFLite tensor ``index`` must have its rank, dtype
    and every extent both sides know: not the batch, not a dimension the signature leaves dynamic."""
    tensor = tfl.tensor(index)
    want = tuple(tensor.shape_signature or tensor.shape)
    got = tuple(value.shape)
    known = len(got) == len(want) and all(g is None or w < 0 or g == w for g, w in zip(got[1:], want[1:]))
    dtype = keras_dtype(tensor)
    if not known or str(value.dtype) != dtype:
        expected = (None,) + tuple(None if w < 0 else w for w in want[1:]) if want else ()
        raise ShapeMismatchError(
            f"op {op.index} ({op.opcode}) output tensor {index} {tensor.name!r}: expected shape {expected} "
            f"{dtype}, received {got} {value.dtype} from its converter")


def _decodes_a_constant(tfl: TFLiteModel, op: Operator, spec: Any) -> bool:
    """DEQUANTIZE/DENSIFY of a constant: part of the weight, decoded by ``model.constant()``."""
    return spec is not None and spec.pass_through and tfl.is_constant(op.inputs[0])


def _check_all_supported(tfl: TFLiteModel, skip: set[int]) -> None:
    """Raise one error listing every op of the file (but those in ``skip``, folded or covered by a
    pattern) that has no converter, with counts."""
    missing: dict[str, list[Operator]] = {}
    for op in tfl.operators:
        if op.index in skip:
            continue
        spec = find(op.opcode)
        if _decodes_a_constant(tfl, op, spec):
            continue
        if spec is None or spec.converter is None:
            missing.setdefault(op.opcode, []).append(op)
    if not missing:
        return
    listed = ", ".join(f"{code} x{len(ops)} (ops {', '.join(str(o.index) for o in ops[:5])}"
                       f"{', ...' if len(ops) > 5 else ''})" for code, ops in missing.items())
    first = min((ops[0] for ops in missing.values()), key=lambda o: o.index)
    raise UnsupportedOpError(f"{tfl.source}: {sum(map(len, missing.values()))} ops in {len(missing)} kinds have no "
                             f"converter: {listed}. The first: {_unsupported(tfl, first)}")


def _unsupported(tfl: TFLiteModel, op: Operator) -> str:
    ins = ", ".join(repr(tfl.tensor(t).name) for t in op.inputs if t >= 0)
    outs = ", ".join(repr(tfl.tensor(t).name) for t in op.outputs)
    return (f"op {op.index} ({op.opcode}) has no converter; inputs: {ins}; outputs: {outs}. "
            f"Register one from a notebook with tflite2keras.register_op (see {DOCS_ADDING_AN_OP}).")


