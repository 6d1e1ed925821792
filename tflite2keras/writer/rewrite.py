"""Replace MediaPipe custom ops with TFLite builtins, inside the flatbuffer (Keras only traces the attention ops).

:func:`rewrite_custom_ops` edits the model through the schema's generated object API
(``ai_edge_litert.schema_py_generated``): it unpacks the file into a ``ModelT`` tree,
swaps operators, and packs it again. MediaPipe's ``Convolution2DTransposeBias``
(inputs: input, OHWI weights, bias) becomes the builtin ``TRANSPOSE_CONV`` (inputs:
an added int32 ``output_shape`` constant, the same weights, input and bias) at op
version 3, or, with ``transpose_conv_bias="add"``, a version-1 ``TRANSPOSE_CONV``
without bias followed by an ``ADD`` of the bias, for runtimes without version 3.
The weights and bias keep their buffers. Both ops size their output the same way
(:func:`~tflite2keras.ops.transpose_geometry.transpose_geometry`) when the output tensor's
extent is MediaPipe's and a forward convolution of it gives back the input's extent (TFLite
derives its padding from that). An op whose shapes break this rule, or whose tensors are
not float32, is left in place and listed, as is every custom op the function does not know. MediaPipe's
``Landmarks2TransformMatrix``, ``TransformTensorBilinear`` and ``TransformLandmarks``
become small builtin subgraphs exported from their Keras layers
(:mod:`tflite2keras.writer.attention`; this needs TensorFlow).

Example:
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.writer.rewrite import rewrite_custom_ops
    >>> report = rewrite_custom_ops(tiny.tflite())   # no custom ops: the bytes come back unchanged
    >>> report.unchanged, report.data == tiny.tflite(), report.replaced
    (True, True, [])
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._files import write_atomically
from ..errors import InvalidArgumentError, Tflite2KerasError
from ..ops import custom_options
from ..ops.transpose_geometry import transpose_geometry
from ..tflite.model import Source
from ..tflite.reader import read
from ..tflite.schema import (
    CUSTOM,
    aligned_buffer,
    as_bytes,
    builtin_code,
    code_name,
    drop_unused_codes,
    name_of,
    opcode_index,
    pack,
    unpack,
)
from .attention import LOWERED
from .rewrite_report import Replacement, RewriteReport, latencies

MODES = ("fused", "add")


def rewrite_custom_ops(src: Source, dst: str | os.PathLike[str] | None = None, *,
                       transpose_conv_bias: str = "fused", measure: bool = False,
                       repeats: int = 20) -> RewriteReport:
    """Replace the custom ops a stock runtime can run as builtins; keep and list the others.

    Args:
        src: a ``.tflite`` path, its bytes, or a :class:`~tflite2keras.TFLiteModel`.
        dst: where to write the result (atomically); None to only return the bytes.
        transpose_conv_bias: ``"fused"``: ``Convolution2DTransposeBias`` becomes one
            ``TRANSPOSE_CONV`` version 3 with the bias as its fourth input. ``"add"``:
            ``TRANSPOSE_CONV`` version 1 (three inputs) then ``ADD`` of the bias.
        measure: time one invoke of the model before and after (XNNPACK, 1 thread),
            interleaved, ``repeats`` times each; the medians go in the report.
        repeats: timed invokes per model when ``measure``.

    Returns:
        A :class:`RewriteReport`; ``report.data`` are the new bytes.

    Raises:
        InvalidArgumentError: an unknown ``transpose_conv_bias`` mode.
        InvalidModelError: ``src`` is not a TFLite model.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> print(rewrite_custom_ops(tiny.tflite()))
        <bytes>: ... bytes, no custom op replaced: the model is identical
        kind  op  what  detail
        ----  --  ----  ------
    """
    if transpose_conv_bias not in MODES:
        raise InvalidArgumentError(f"transpose_conv_bias must be one of {MODES}. Received: {transpose_conv_bias!r}")
    tfl = read(src)
    report = RewriteReport(path=None, data=tfl.data, mode=transpose_conv_bias)
    from ai_edge_litert import schema_py_generated as schema

    model = unpack(tfl.data)
    codes = [code_name(c) for c in model.operatorCodes or []]
    for s, graph in enumerate(model.subgraphs or []):
        new_ops: list[Any] = []
        for i, op in enumerate(graph.operators or []):
            name = codes[op.opcodeIndex]
            if name == "Convolution2DTransposeBias":
                ops, reason = _transpose_conv_bias(schema, model, graph, op, i, transpose_conv_bias, s,
                                                   len(new_ops), report)
                if ops:
                    new_ops.extend(ops)
                    continue
                report.kept.append((s, i, name, reason))
            elif name in LOWERED:
                new_ops.extend(_lowered(schema, model, graph, op, i, name, s, len(new_ops), report))
                continue
            elif builtin_code(model.operatorCodes[op.opcodeIndex]) == CUSTOM:
                report.kept.append((s, i, name, "no builtin replacement known"))
            new_ops.append(op)
        graph.operators = new_ops
    if report.replaced:
        drop_unused_codes(model)
        for buffer in model.buffers:
            buffer.__class__ = aligned_buffer()
        report.data = pack(model)
    if measure:
        report.latency_before, report.latency_after = latencies(tfl, report.data, repeats)
    if dst is not None:
        report.path = write_atomically(os.fspath(dst), report.data)
    return report


def _transpose_conv_bias(schema: Any, model: Any, graph: Any, op: Any, index: int, mode: str, s: int,
                         at: int, report: RewriteReport) -> tuple[list[Any], str]:
    """The replacement ops (recorded in ``report``), or no ops and the reason why not."""
    try:
        options = custom_options.parse("Convolution2DTransposeBias", as_bytes(op.customOptions), index=index)
    except Tflite2KerasError as err:
        return [], f"options not readable: {err}"
    inputs = [int(t) for t in op.inputs]
    if len(inputs) < 2 or len(op.outputs) != 1:
        return [], f"expected inputs (input, weights[, bias]) and one output, got {len(inputs)} and {len(op.outputs)}"
    x, w, out = (graph.tensors[t] for t in (inputs[0], inputs[1], int(op.outputs[0])))
    bias = inputs[2] if len(inputs) > 2 and inputs[2] >= 0 else -1
    if any(t.type != schema.TensorType.FLOAT32 for t in (x, w, out)):
        return [], "only float32 tensors are rewritten"
    if len(x.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        return [], "expected 4-D input, weights and output"
    strides = (options["stride_height"], options["stride_width"])
    padding = options["padding"]
    size_in, kernel, size_out = ([int(t.shape[axis]) for axis in (1, 2)] for t in (x, w, out))
    mediapipe = transpose_geometry(padding, size_in, kernel, strides)
    tflite = transpose_geometry(padding, size_in, kernel, strides, out=size_out)
    for axis in (0, 1):
        if size_out[axis] != mediapipe.out[axis] or tflite.forward[axis] != size_in[axis]:
            return [], f"output extent {size_out[axis]} on axis {axis + 1} does not follow both runtimes' size rule"
    shape_name = name_of(out) + "/output_shape"
    report.buffers_added.append(len(model.buffers))
    model.buffers.append(schema.BufferT())
    model.buffers[-1].data = np.asarray([1, *out.shape[1:]], "<i4").view(np.uint8)
    shape_tensor = _tensor(schema, graph, shape_name, [4], schema.TensorType.INT32, len(model.buffers) - 1, report, s)
    conv = schema.OperatorT()
    conv.builtinOptionsType = schema.BuiltinOptions.TransposeConvOptions
    conv.builtinOptions = schema.TransposeConvOptionsT(
        padding=schema.Padding.SAME if padding == "SAME" else schema.Padding.VALID,
        strideW=strides[1], strideH=strides[0], fusedActivationFunction=schema.ActivationFunctionType.NONE)
    ops = [conv]
    if mode == "fused" or bias < 0:
        conv.opcodeIndex = opcode_index(schema, model, schema.BuiltinOperator.TRANSPOSE_CONV, 3 if bias >= 0 else 1)
        conv.inputs = [shape_tensor, inputs[1], inputs[0]] + ([bias] if bias >= 0 else [])
        conv.outputs = [int(op.outputs[0])]
        became = f"TRANSPOSE_CONV v{3 if bias >= 0 else 1}"
    else:
        middle = _tensor(schema, graph, name_of(out) + "/transpose_conv", list(out.shape), out.type, 0, report, s)
        conv.opcodeIndex = opcode_index(schema, model, schema.BuiltinOperator.TRANSPOSE_CONV, 1)
        conv.inputs, conv.outputs = [shape_tensor, inputs[1], inputs[0]], [middle]
        add = schema.OperatorT()
        add.opcodeIndex = opcode_index(schema, model, schema.BuiltinOperator.ADD, 1)
        add.builtinOptionsType = schema.BuiltinOptions.AddOptions
        add.builtinOptions = schema.AddOptionsT()
        add.inputs, add.outputs = [middle, bias], [int(op.outputs[0])]
        ops.append(add)
        became = "TRANSPOSE_CONV v1 + ADD"
    report.buffers_reused += [graph.tensors[t].buffer for t in (inputs[1], bias) if t >= 0]
    report.ops_added += len(ops)
    report.replaced.append(Replacement(s, index, "Convolution2DTransposeBias", became,
                                       tuple(range(at, at + len(ops)))))
    return ops, ""


def _lowered(schema: Any, model: Any, graph: Any, op: Any, index: int, name: str, s: int, at: int,
             report: RewriteReport) -> list[Any]:
    """The builtin subgraph replacing a MediaPipe attention op (:mod:`~tflite2keras.writer.attention`), recorded."""
    from .attention import describe, lower

    tensors, buffers = len(graph.tensors), len(model.buffers)
    ops = lower(schema, model, graph, op, index, name)
    report.tensors_added += [(s, t, name_of(graph.tensors[t])) for t in range(tensors, len(graph.tensors))]
    report.buffers_added += list(range(buffers, len(model.buffers)))
    report.ops_added += len(ops)
    report.replaced.append(Replacement(s, index, name, describe(model, ops), tuple(range(at, at + len(ops)))))
    return ops


def _tensor(schema: Any, graph: Any, name: str, shape: list[int], dtype: int, buffer: int,
            report: RewriteReport, s: int) -> int:
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type, tensor.buffer = name, list(map(int, shape)), dtype, buffer
    graph.tensors.append(tensor)
    report.tensors_added.append((s, len(graph.tensors) - 1, name))
    return len(graph.tensors) - 1


__all__ = ["MODES", "Replacement", "RewriteReport", "rewrite_custom_ops"]
