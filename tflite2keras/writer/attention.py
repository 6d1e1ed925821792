"""Lower MediaPipe's attention-crop custom ops to builtin TFLite subgraphs (for ``rewrite_custom_ops``).

``Landmarks2TransformMatrix``, ``TransformTensorBilinear`` and ``TransformLandmarks``
(used by ``face_landmark_with_attention``) have exact Keras layers in
:mod:`tflite2keras.layers.mediapipe`. For each op instance, :func:`lower` builds the layer
from the op's options as its converter does (:func:`tflite2keras.ops.mediapipe.attention_layer`),
traces it at the op's exact input shapes in ``tf.function`` (inside
:func:`~tflite2keras.layers.export_form.export_form`) and converts it with TFLite's converter
to builtin ops only. The small graph is then spliced into the big model in place
of the custom op: its operators go where the op was (keeping topological order), its
inputs and outputs become the op's own tensors (dtypes and shapes must agree), its inner
tensors are added with the op's output name as a prefix, its constants as new buffers,
and its operator codes are reused or appended. Identical (op, options, shapes) convert once.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..ops import custom_options
from ..ops.mediapipe import ATTENTION_LAYERS, attention_layer
from ..tflite.schema import as_bytes, builtin_code, name_of, opcode_index, unpack

#: The custom ops lowered to builtin subgraphs: those with a Keras layer in :mod:`tflite2keras.ops.mediapipe`.
LOWERED = tuple(ATTENTION_LAYERS)


def options_of(name: str, data: bytes, index: int) -> dict[str, Any]:
    """The op's parsed custom options (JSON-safe values)."""
    options = custom_options.parse(name, data, index=index)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


#: The Keras layer computing a custom op from its options and output shape: the converter's own builder.
make_layer = attention_layer


def export_op(name: str, options: dict[str, Any], input_shapes: tuple[tuple[int, ...], ...],
              output_shape: tuple[int, ...]) -> bytes:
    """A one-op ``.tflite`` (builtin ops only, float32) computing the custom op at these shapes."""
    return _export(name, json.dumps(options, sort_keys=True), tuple(map(tuple, input_shapes)), tuple(output_shape))


@functools.lru_cache(maxsize=64)
def _export(name: str, options: str, input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...]) -> bytes:
    import tensorflow as tf

    from ..layers.export_form import export_form

    layer = make_layer(name, json.loads(options), output_shape)
    specs = [tf.TensorSpec(shape, tf.float32, name=f"in{k}") for k, shape in enumerate(input_shapes)]

    @tf.function(input_signature=specs)
    def call(*xs: Any) -> Any:
        return layer(list(xs) if len(xs) > 1 else xs[0])

    with export_form():
        concrete = call.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], call)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return bytes(converter.convert())
    except Exception as err:  # the converter raises its own ConverterError
        raise UnsupportedOpError(f"{name} does not lower to builtin TFLite ops: {str(err)[-500:]}") from err


def lower(schema: Any, model: Any, graph: Any, op: Any, index: int, name: str) -> list[Any]:
    """The builtin operators replacing custom op ``index`` of ``graph`` (tensors, buffers, codes added to the model).

    Raises:
        UnsupportedOpError: the op's tensors are not float32, or the lowered graph's inputs or
            outputs do not match the op's in count, dtype or shape.
    """
    inputs, outputs = [int(t) for t in op.inputs], [int(t) for t in op.outputs]
    where = f"{name} (op {index})"
    if len(outputs) != 1 or min(inputs + outputs) < 0:
        raise UnsupportedOpError(f"{where}: expected present inputs and one output")
    big = [graph.tensors[t] for t in inputs + outputs]
    if any(t.type != schema.TensorType.FLOAT32 for t in big):
        raise UnsupportedOpError(f"{where}: only float32 tensors are lowered")
    shapes = [tuple(int(d) for d in (t.shape if t.shape is not None else ())) for t in big]
    options = options_of(name, as_bytes(op.customOptions), index)
    small_model = unpack(export_op(name, options, tuple(shapes[:-1]), shapes[-1]))
    if len(small_model.subgraphs) != 1:
        raise UnsupportedOpError(f"{where}: the lowered graph has {len(small_model.subgraphs)} subgraphs")
    small = small_model.subgraphs[0]
    small_inputs = sorted((int(t) for t in small.inputs), key=lambda t: name_of(small.tensors[t]))
    ends = list(zip(small_inputs, inputs)) + list(zip((int(t) for t in small.outputs), outputs))
    if len(small.inputs) != len(inputs) or len(small.outputs) != len(outputs):
        raise UnsupportedOpError(f"{where}: the lowered graph has {len(small.inputs)} inputs and "
                                 f"{len(small.outputs)} outputs, the op {len(inputs)} and {len(outputs)}")
    mapping: dict[int, int] = {}
    for mine, theirs in ends:
        a, b = small.tensors[mine], graph.tensors[theirs]
        if a.type != b.type or list(a.shape) != list(b.shape):
            raise UnsupportedOpError(f"{where}: tensor {name_of(b)!r} is type {b.type} shape {list(b.shape)}, "
                                     f"the lowered graph's {a.type} {list(a.shape)}")
        mapping[mine] = theirs
    prefix = name_of(graph.tensors[outputs[0]]) + "/lowered/"
    for t, tensor in enumerate(small.tensors):
        if t in mapping:
            continue
        buffer = small_model.buffers[tensor.buffer] if tensor.buffer else None
        if buffer is not None and buffer.data is not None and len(buffer.data):
            copy = schema.BufferT()
            copy.data = np.asarray(buffer.data, np.uint8).copy()
            model.buffers.append(copy)
            tensor.buffer = len(model.buffers) - 1
        else:
            tensor.buffer = 0
        tensor.name = prefix + name_of(tensor)
        graph.tensors.append(tensor)
        mapping[t] = len(graph.tensors) - 1
    new_ops = []
    for small_op in small.operators:
        code = small_model.operatorCodes[small_op.opcodeIndex]
        builtin = builtin_code(code)
        if builtin == 32:
            raise UnsupportedOpError(f"{where}: the lowered graph has a custom op")
        small_op.opcodeIndex = opcode_index(schema, model, builtin, int(code.version))
        small_op.inputs = [mapping[int(t)] if int(t) >= 0 else -1 for t in small_op.inputs]
        small_op.outputs = [mapping[int(t)] for t in small_op.outputs]
        if small_op.intermediates is not None and len(small_op.intermediates):
            small_op.intermediates = [mapping[int(t)] for t in small_op.intermediates]
        new_ops.append(small_op)
    return new_ops


def describe(model: Any, ops: list[Any]) -> str:
    """``"12 builtin ops: GATHER x3, MUL x2, ..."`` (most frequent first)."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    counts = Counter(names.get(builtin_code(model.operatorCodes[op.opcodeIndex]), "?") for op in ops)
    parts = [f"{k} x{n}" if n > 1 else k for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return f"{len(ops)} builtin ops: " + ", ".join(parts)


__all__ = ["LOWERED", "describe", "export_op", "lower", "make_layer", "options_of"]
