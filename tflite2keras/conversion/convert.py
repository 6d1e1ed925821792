"""``convert()``: a trainable Keras functional model built op by op from a TFLite graph.

Each op's converter (registered on its :class:`~tflite2keras.ops.registry.OpSpec`) creates
standard Keras layers where they express the op exactly and registered layers from
:mod:`tflite2keras.layers` where they do not. Weights then go in through
:func:`tflite2keras.transplant`, so there is one code path for layouts.
"""

from __future__ import annotations

import os
import re
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import (
    BatchAxisError,
    InvalidModelError,
    ShapeMismatchError,
    Tflite2KerasError,
    UnsupportedOpError,
)
from ..ops import fused, patterns
from ..ops.contract import ConvertContext, check_output
from ..ops.prepare import field_rejections, input_count, type_rejections, validate
from ..ops.registry import find
from ..tflite.model import DECODING_OPS, Operator, Source, TFLiteModel
from ..tflite.names import sanitize
from ..tflite.reader import read
from ..tflite.signatures import read_signature, signature_subgraphs
from . import streaming
from .deferred import deferred_variables
from .prepared import describe as describe_stale
from .prepared import prepared_view
from .quantized import check_mode, describe

if TYPE_CHECKING:
    import keras

__all__ = ["ConvertContext", "check_output", "convert", "load", "warn_non_finite", "warn_other_signatures"]

#: Where the docs show how to register a converter from a notebook.
DOCS_ADDING_AN_OP = "README.md, section 'Adding an op'"


def convert(source: Source, *, name: str | None = None, quantized: str = "float",
            signature: str | None = None) -> keras.Model:
    """Build a trainable Keras model from subgraph 0 of a TFLite model, or from one signature's subgraph.

    Inputs and outputs keep the TFLite order and names; the batch dimension is free where every
    op allows it. Where an op pins axis 0 (a TRANSPOSE moving it, a RESHAPE folding it, a rank-1
    waveform framed, an operand broadcast along it), the model has fixed shapes instead: Keras
    inputs with the file's full shapes, ``model.fixed_shape`` the reason (None for a free batch),
    with a warning.
    Every weight tensor of the file becomes a trainable variable. The stored shapes are used
    while they convert; where they do not, the shapes the interpreter computes (asked in a child
    process) replace them, if they differ.

    Args:
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        name: the Keras model's name (default: the file's stem).
        quantized: for integer files, ``"float"`` (a float32 model, the integer model's function
            without its rounding: weights dequantized, saturation kept, QUANTIZE/DEQUANTIZE of
            activations as identities, integer inputs and outputs as float32) or ``"fake_quant"``
            (the same without ``Saturate`` clamps, with a ``FakeQuant`` layer after every quantized
            activation tensor, reproducing the integer model and training quantization-aware).
            See :mod:`tflite2keras.conversion.quantized`; ``model.quantization`` records the file's integer
            edges, and :func:`tflite2keras.quantized_io` restores them.
        signature: the key of the signature to build, in a file with several (see
            :func:`tflite2keras.tflite.signatures.read_signature`, which gives the file to verify it against).
            By default subgraph 0, with a warning naming the signatures left out.

    Returns:
        A ``keras.Model``, called once on zeros before it is returned.

    Raises:
        InvalidModelError: an op has options the interpreter's Prepare rejects (a stride of 0,
            an unknown enum value, an options table of another op's type ...), or tensor shapes it
            rejects (a rank-3 input to a CONV_2D, a bias of the wrong length, an ADD of shapes that
            do not broadcast ...); the message names the op, its index, the option or tensor, its
            value and what was expected (:mod:`tflite2keras.ops.prepare`,
            :mod:`tflite2keras.ops.prepare_shapes`).
        UnsupportedOpError: an op has no registered converter; the message names the op,
            its index and its input/output tensors. Or a graph input is a scalar (rank 0). Or an
            op pins axis 0 and the fixed-shapes conversion fails too (both reasons named).
        ShapeMismatchError: a converter built a Keras tensor whose shape (batch and dynamic
            dimensions aside) or dtype differs from the TFLite tensor's.

    Warns:
        UserWarning: the model has fixed shapes (naming the op that pins axis 0); or a weight
            tensor holds NaN or infinite values (converted all the same), or the file has
            signatures besides the one of subgraph 0, which is the one converted, or tensors whose
            stored shapes differ from the ones the interpreter computes (named, with both shapes;
            the conversion follows the computed ones, see :mod:`tflite2keras.conversion.prepared`).

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> model = t2k.convert(tiny.tflite())      # or a path: t2k.convert("selfie_segmentation.tflite")
        >>> [type(layer).__name__ for layer in model.layers]
        ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Conv2D']
        >>> model.layers[1].activation.__name__, model.input.shape
        ('relu', (None, 8, 8, 3))
    """
    mode = check_mode(quantized)
    stored = read(source) if signature is None else read_signature(source, signature)
    tfl = _checked(stored)
    warn_non_finite(tfl)
    if signature is None:
        warn_other_signatures(tfl)
    model_name = sanitize(name or tfl.source.rsplit(".", 1)[0]) or "converted"
    try:
        return _free_or_fixed(tfl, model_name, mode)
    except Exception:  # noqa: BLE001 - whatever the stored shapes led to: stale ones are asked about, once
        view = _recomputed(tfl) if tfl is stored else None
        if view is None:
            raise
    return _free_or_fixed(view, model_name, mode)


def _free_or_fixed(tfl: TFLiteModel, model_name: str, mode: str) -> keras.Model:
    """Axis 0 a free batch where every converter allows it, else the file's full shapes (warned)."""
    try:
        return _build(tfl, model_name, mode, None)
    except BatchAxisError as err:
        reason = str(err)
        free = err
    try:
        model = _build(tfl, model_name, mode, reason)
    except Tflite2KerasError as err:  # both ways fail: say both
        raise type(err)(f"{reason}; converting with fixed shapes instead (axis 0 as data) fails too: {err}") from free
    except Exception as err:  # noqa: BLE001 - a Keras error on the full shapes: reported as the op's refusal
        raise UnsupportedOpError(f"{reason}; converting with fixed shapes instead (axis 0 as data) fails too: "
                                 f"{type(err).__name__}: {str(err)[:500]}") from err
    import warnings

    warnings.warn(f"{tfl.source}: converted with fixed shapes, the file's full input shapes "
                  f"{[tuple(x.shape) for x in model.inputs]}, as axis 0 cannot stay a free batch: {reason}",
                  UserWarning, stacklevel=3)
    return model


def _build(tfl: TFLiteModel, model_name: str, mode: str, fixed_batch: str | None) -> keras.Model:
    """One conversion of ``tfl``: axis 0 a free batch (``fixed_batch`` None), or with fixed shapes
    (``fixed_batch`` the reason, recorded as ``model.fixed_shape``).

    Raises:
        BatchAxisError: (free batch) a converter cannot keep axis 0 free.
    """
    import keras

    from ..weights.transplant import transplant

    with deferred_variables():  # each variable starts from the file's value: no initializer runs
        ctx = ConvertContext(tfl, mode, fixed_batch)
        inputs = [ctx.graph_input(index) for index in tfl.inputs] + ctx.state_inputs()
        filled = _convert_ops(ctx)
        missing = [t for t in tfl.outputs if t not in ctx.tensors]
        if missing:
            raise UnsupportedOpError(f"no op computes the model outputs {missing}")
        outputs = [ctx.tensors[t] for t in tfl.outputs] + ctx.state_outputs()
        model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                            name=model_name)
        transplant(model, tfl, overrides=ctx.weight_ops, skip=filled, strict=True)
    model.quantization = describe(tfl, ctx.mode)
    model.streaming = streaming.describe(tfl, ctx.state_variables)
    model.fixed_shape = fixed_batch
    _call_once(model)
    return model


def _checked(stored: TFLiteModel) -> TFLiteModel:
    """The file, its options and shapes checked as the interpreter's Prepare checks them. Where the
    stored shapes fail that check but every op's options pass, the shapes the interpreter computes
    (:func:`_recomputed`) are checked in their place, if they differ."""
    try:
        validate(stored)
        return stored
    except InvalidModelError:
        if any(next(chain(type_rejections(op), input_count(op, stored), field_rejections(op, stored)), None)
               for op in stored.operators):
            raise
        view = _recomputed(stored)
        if view is None:
            raise
    validate(view)
    return view


def _recomputed(stored: TFLiteModel) -> TFLiteModel | None:
    """The file with the shapes the interpreter computes (:mod:`tflite2keras.conversion.prepared`), or
    None where they are the stored ones (or it cannot run the file). Asked only when the stored
    shapes do not convert, in a child process (its kernels abort the process on some files that
    convert refuses); warns once where stored shapes are wrong (a signature's -1 over a fixed
    extent is refined without a word: see :class:`~.prepared.Stale`)."""
    import warnings

    view, stale = prepared_view(stored, isolated=True)
    if not stale:
        return None
    wrong = [s for s in stale if s.wrong]
    if wrong:
        warnings.warn(describe_stale(wrong, stored.source), UserWarning, stacklevel=4)
    return view


def _convert_ops(ctx: ConvertContext) -> list[str]:
    """Run every op's converter (or its pattern's builder) in graph order; folded ops build nothing.

    Returns the Keras layers that pattern builders filled themselves (``transplant`` skips them).
    """
    tfl = ctx.tfl
    matches = {m.ops[-1]: m for m in patterns.find(tfl)}
    covered = {i for m in matches.values() for i in m.ops}
    skip = covered | {op.index for op in tfl.operators if op.outputs and all(t in ctx.folded for t in op.outputs)}
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
        fused.check_declared(op, spec)
        for index, value in zip(op.outputs, spec.converter(ctx, op)):
            ctx.emit(op, index, value)
    return [name for m in matches.values() for name in m.filled]


def warn_non_finite(tfl: TFLiteModel) -> list[str]:
    """Warn (``UserWarning``) about every weight tensor of the file that holds NaN or infinite values.

    The converted model keeps them, as the file does: a -inf attention mask is meant, a NaN
    kernel usually is not. Quantized weights are checked dequantized (a NaN scale shows).

    Returns:
        The names of the tensors warned about.

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> warn_non_finite(read(tiny.tflite()))
        []
    """
    import warnings

    from ..ops.registry import is_weight

    named = []
    for tensor in tfl.tensors:
        if not is_weight(tfl, tensor.index) or tfl.source_of(tensor.index) is not tensor:
            continue  # a DEQUANTIZE of a weight is warned about at the weight
        value = tfl.constant(tensor.index)
        if value.dtype.kind != "f" or bool(np.isfinite(value).all()):
            continue
        nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
        warnings.warn(f"{tfl.source}: weight tensor {tensor.index} {tensor.name!r} of shape {tensor.shape} holds "
                      f"{nan} NaN and {inf} infinite values of {value.size}; the converted model keeps them, "
                      "as the file does", UserWarning, stacklevel=3)
        named.append(tensor.name)
    return named


def warn_other_signatures(tfl: TFLiteModel) -> list[str]:
    """Warn (``UserWarning``) when the file has signatures that ``convert`` does not build.

    ``convert`` builds subgraph 0; a file with several signatures (one subgraph each) has
    others, which the converted model does not have.

    Returns:
        The keys of the signatures left out (empty when there is at most one signature).
    """
    import warnings

    if len(tfl.signature_defs) < 2:
        return []
    keys = list(tfl.signature_defs)
    graphs = _signature_subgraphs(tfl)
    converted = [k for k in keys if graphs.get(k) == 0] or keys[:1]
    ignored = [k for k in keys if k not in converted]
    warnings.warn(f"{tfl.source} has {len(keys)} signatures {keys}: convert builds subgraph 0, the graph of "
                  f"signature {converted[0]!r}; signatures {ignored} are not converted (choose one with "
                  "signature=)", UserWarning, stacklevel=3)
    return ignored


def _signature_subgraphs(tfl: TFLiteModel) -> dict[str, int]:
    """Signature key -> the index of the subgraph it runs (empty when the file cannot tell)."""
    try:
        return signature_subgraphs(tfl)
    except Exception:  # noqa: BLE001 - only the warning's wording depends on it
        return {}


def _call_once(model: Any) -> None:
    """Run the model once on zeros at batch 1 (or its fixed shapes), so that a model that cannot run
    never converts.

    Raises:
        ShapeMismatchError: the built model fails on its own input shapes.
    """
    feeds = [np.zeros(tuple(d or 1 for d in x.shape), x.dtype) for x in model.inputs]
    try:
        model(feeds if len(feeds) > 1 else feeds[0], training=False)
    except Exception as err:  # noqa: BLE001 - any failure here is a conversion bug, reported as one
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # Keras colours its messages for terminals
        fed = ("a zero input of batch 1" if getattr(model, "fixed_shape", None) is None
               else f"zero inputs of its fixed shapes {[f.shape for f in feeds]}")
        raise ShapeMismatchError(f"the converted model {model.name!r} fails on {fed}: "
                                 f"{type(err).__name__}: {text[:500]}") from err


def load(path: str | os.PathLike[str]) -> keras.Model:
    """Load a saved converted model with ``safe_mode=True``, registering our layers first.

    ``keras.saving.load_model`` works too once ``tflite2keras.layers`` has been imported.

    Example:
        >>> import os, tempfile
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "tiny.keras")
        >>> t2k.convert(tiny.tflite()).save(path)
        >>> t2k.load(path).count_params()            # 3*3*3*4 + 4 and 1*1*4*2 + 2
        122
        >>> folder.cleanup()
    """
    import keras

    from .. import layers  # noqa: F401  (registers the custom layer classes)

    return keras.saving.load_model(path, safe_mode=True)


def _decodes_a_constant(tfl: TFLiteModel, op: Operator, spec: Any) -> bool:
    """DEQUANTIZE/DENSIFY of a constant: part of the weight, decoded by ``model.constant()``."""
    return op.opcode in DECODING_OPS and tfl.is_constant(op.inputs[0])


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
    subgraphs = [f"{key.removesuffix('_subgraph_index')} subgraph {value}"
                 for key, value in sorted(op.options.items()) if key.endswith("_subgraph_index")]
    if subgraphs:  # WHILE, IF: a Keras functional model has no loops or branches of its own
        return (f"op {op.index} ({op.opcode}) runs {', '.join(subgraphs)}: control flow is not converted "
                f"(cut the graph before it with tflite2keras.truncate); inputs: {ins}; outputs: {outs}. "
                f"Or register a converter from a notebook with tflite2keras.register_op (see {DOCS_ADDING_AN_OP}).")
    return (f"op {op.index} ({op.opcode}) has no converter; inputs: {ins}; outputs: {outs}. "
            f"Register one from a notebook with tflite2keras.register_op (see {DOCS_ADDING_AN_OP}).")


