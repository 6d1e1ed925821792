"""ops/shape.py, split.py, layout.py, fill.py, rearrange.py: one-op models against the interpreter and numpy.

Most files come from TF functions, traced at batch 1 or (``FREE``) with a free batch, where TFLite
writes shape arithmetic (SHAPE -> ... -> FILL). Ops the TF converter never writes (SQUEEZE,
STRIDED_SLICE with ellipsis / new-axis masks or ``offset``) are built with the schema's object API
(:func:`one_op`) and still compared with the interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from oneop import MODEL_SHAPE, Case, SchemaFile, check_case, model_case, shape_dtype, tflite_of
from tensorflow.compiler.tf2xla.python import xla

import tflite2keras as t2k
from tflite2keras import layers
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.ops import registry
from tflite2keras.tflite.model import Operator
from tflite2keras.verification.reference import make_interpreter, run

SHAPE = (7, 9, 5)  # odd extents, all different
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)
INT = ((SHAPE, "int32"),)
PADS = [[0, 0], [1, 2], [0, 1], [2, 0]]


def one_op(opcode: str, slots: list[Any], outputs: list[tuple[tuple[int, ...], str]],
           options: tuple[str, dict[str, Any]] | None = None, batch: bool = True, version: int = 1) -> bytes:
    """A one-op file: each slot a graph input (an input spec, with a batch of 1 in front if ``batch``)
    or a numpy constant."""
    built = SchemaFile()
    model, graph = built.model, built.graph

    def tensor(shape: tuple[int, ...], dtype: str, data: np.ndarray | None = None) -> int:
        return built.tensor(f"t{len(graph.tensors)}", shape, data, dtype)

    inputs = []
    for slot in slots:
        if isinstance(slot, np.ndarray):
            inputs.append(tensor(slot.shape, str(slot.dtype), slot))
        else:
            shape, dtype = shape_dtype(slot)
            inputs.append(tensor((1, *shape) if batch else shape, dtype))
            graph.inputs.append(inputs[-1])
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, opcode)
    code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), version
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, inputs, [tensor(s, d) for s, d in outputs]
    if options is not None:
        table = getattr(schema, f"{options[0]}T")()
        for key, value in options[1].items():
            setattr(table, key, value)
        op.builtinOptionsType, op.builtinOptions = getattr(schema.BuiltinOptions, options[0]), table
    graph.operators, graph.outputs = [op], list(op.outputs)
    model.operatorCodes = [code]
    return built.bytes()


class Built:
    """A case's file made with :func:`one_op` (in place of a TF function)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __call__(self) -> bytes:
        return one_op(*self.args, **self.kwargs)


def built(opcode: str, slots: list[Any], outputs: list[tuple[tuple[int, ...], str]], reference: Callable[..., Any],
          options: tuple[str, dict[str, Any]] | None = None) -> Case:
    specs = tuple(s for s in slots if not isinstance(s, np.ndarray))
    return (opcode, specs, Built(opcode, slots, outputs, options), reference)


def i32(*values: Any) -> np.ndarray:
    return np.array(values, np.int32)


def _strided(begin: list[int], end: list[int], strides: list[int], out: tuple[int, ...], reference: Callable[..., Any],
             **masks: int) -> Case:
    fields = {"beginMask": 0, "endMask": 0, "ellipsisMask": 0, "newAxisMask": 0, "shrinkAxisMask": 0, "offset": False}
    fields.update(masks)
    return built("STRIDED_SLICE", [SHAPE, i32(*begin), i32(*end), i32(*strides)], [((1, *out), "float32")],
                 reference, ("StridedSliceOptions", fields))


def _reverse_sequence(x: np.ndarray, lengths: Any, seq: int, batch: int) -> np.ndarray:
    out = np.array(x)
    for j, n in enumerate(np.broadcast_to(np.asarray(lengths).reshape(-1), (x.shape[batch],))):
        index = [slice(None)] * x.ndim
        index[batch], index[seq] = j, slice(0, int(n))
        out[tuple(index)] = np.flip(x[tuple(index)], axis=seq - (seq > batch))
    return out


def _diag(x: np.ndarray) -> np.ndarray:
    return x[..., None, :] * np.eye(x.shape[-1], dtype=x.dtype)


def _set_diag(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    out = np.array(x)
    k = np.arange(min(x.shape[-2:]))
    out[..., k, k] = d
    return out


def _update(x: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    out = np.array(x)
    out[:, at[0]:at[0] + 2, at[1]:at[1] + 3] = x[:, :2, :3] * 2
    return out


#: id -> (opcode under test, input shapes, TF function or Built file, numpy reference), or a Keras-model case
#: (model_case).
CASES: dict[str, Case] = {
    "transpose": ("TRANSPOSE", ONE, lambda x: tf.transpose(x, [0, 2, 3, 1]), lambda x: x.transpose(0, 2, 3, 1)),
    "transpose_int": ("TRANSPOSE", (((7, 9), "int32"),), lambda x: tf.transpose(x, [0, -1, 1]),
                      lambda x: x.transpose(0, 2, 1)),
    "squeeze": built("SQUEEZE", [(7, 1, 5, 1)], [((1, 7, 5), "float32")], lambda x: x.squeeze((2, 4)),
                     ("SqueezeOptions", {"squeezeDims": [2, -1]})),
    "expand_dims": ("EXPAND_DIMS", ONE, lambda x: tf.expand_dims(x, 2), lambda x: np.expand_dims(x, 2)),
    "expand_dims_last": ("EXPAND_DIMS", INT, lambda x: tf.expand_dims(x, -1), lambda x: x[..., None]),
    "space_to_depth": ("SPACE_TO_DEPTH", ((6, 8, 3),), lambda x: tf.nn.space_to_depth(x, 2),
                       lambda x: x.reshape(-1, 3, 2, 4, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 3, 4, 12)),
    "depth_to_space": ("DEPTH_TO_SPACE", ((5, 7, 12),), lambda x: tf.nn.depth_to_space(x, 2),
                       lambda x: x.reshape(-1, 5, 7, 2, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 10, 14, 3)),
    "unpack": ("UNPACK", ONE, lambda x: tf.unstack(x, axis=2), lambda x: [x[:, :, i] for i in range(9)]),
    "unpack_last_int": ("UNPACK", INT, lambda x: tf.unstack(x, axis=-1), lambda x: [x[..., i] for i in range(5)]),
    "split": ("SPLIT", ((9, 7, 5),), lambda x: tf.split(x, 3, axis=1), lambda x: np.split(x, 3, axis=1)),
    "split_v": ("SPLIT_V", ONE, lambda x: tf.split(x, [2, 4, 3], axis=2), lambda x: np.split(x, [2, 6], axis=2)),
    "split_v_inferred": ("SPLIT_V", ONE, lambda x: tf.split(x, [2, -1], axis=-1), lambda x: np.split(x, [2], -1)),
    "slice": ("SLICE", ONE, lambda x: tf.slice(x, [0, 1, 2, 0], [-1, 3, 4, -1]), lambda x: x[:, 1:4, 2:6]),
    "slice_batch_1": ("SLICE", ONE, lambda x: tf.slice(x, [0, 2, 0, 1], [1, 4, -1, 3]), lambda x: x[:, 2:6, :, 1:4]),
    "tile": ("TILE", ONE, lambda x: tf.tile(x, [1, 2, 1, 3]), lambda x: np.tile(x, (1, 2, 1, 3))),
    "broadcast_to": ("BROADCAST_TO", ONE, lambda x: tf.broadcast_to(x[:, :1], [1, 7, 9, 5]),
                     lambda x: np.broadcast_to(x[:, :1], (len(x), *SHAPE))),
    "broadcast_to_free": ("BROADCAST_TO", ONE, lambda x: tf.broadcast_to(x[:, :, :1], tf.shape(x)),
                          lambda x: np.broadcast_to(x[:, :, :1], x.shape)),
    "broadcast_to_constant": ("BROADCAST_TO", ONE, tf.ones_like, np.ones_like),  # TFLite has no ONES_LIKE
    "broadcast_to_constant_int": ("BROADCAST_TO", INT, tf.ones_like, np.ones_like),
    "broadcast_args": ("BROADCAST_ARGS", ((1, 9, 5),),
                       lambda x: tf.broadcast_to(x, tf.broadcast_dynamic_shape(tf.shape(x), [1, 7, 1, 1])),
                       lambda x: np.broadcast_to(x, (len(x), *SHAPE))),
    "pad_spatial": ("PAD", ONE, lambda x: tf.pad(x, [[0, 0], [1, 2], [3, 0], [0, 0]]),
                    lambda x: np.pad(x, [[0, 0], [1, 2], [3, 0], [0, 0]])),
    "pad_channels": ("PAD", ONE, lambda x: tf.pad(x, [[0, 0], [0, 0], [0, 0], [2, 3]]),
                     lambda x: np.pad(x, [[0, 0], [0, 0], [0, 0], [2, 3]])),
    "pad_all": ("PAD", ONE, lambda x: tf.pad(x, PADS), lambda x: np.pad(x, PADS)),
    "pad_1d": ("PAD", ((7, 9),), lambda x: tf.pad(x, [[0, 0], [1, 2], [3, 1]]),
               lambda x: np.pad(x, [[0, 0], [1, 2], [3, 1]])),
    "pad_3d": ("PAD", ((3, 4, 5, 2),), lambda x: tf.pad(x, [[0, 0], [1, 0], [0, 2], [1, 1], [0, 0]]),
               lambda x: np.pad(x, [[0, 0], [1, 0], [0, 2], [1, 1], [0, 0]])),
    "pad_rank2": ("PAD", ((7,),), lambda x: tf.pad(x, [[0, 0], [2, 1]]), lambda x: np.pad(x, [[0, 0], [2, 1]])),
    "pad_int": ("PAD", INT, lambda x: tf.pad(x, PADS), lambda x: np.pad(x, PADS)),
    "padv2": ("PADV2", ONE, lambda x: tf.pad(x, PADS, constant_values=1.5),
              lambda x: np.pad(x, PADS, constant_values=1.5)),
    "mirror_pad_reflect": ("MIRROR_PAD", ONE, lambda x: tf.pad(x, PADS, mode="REFLECT"),
                           lambda x: np.pad(x, PADS, mode="reflect")),
    "mirror_pad_symmetric": ("MIRROR_PAD", ONE, lambda x: tf.pad(x, [[0, 0], [3, 7], [0, 9], [5, 0]], mode="SYMMETRIC"),
                             lambda x: np.pad(x, [[0, 0], [3, 7], [0, 9], [5, 0]], mode="symmetric")),
    "reverse": ("REVERSE_V2", ONE, lambda x: tf.reverse(x, [2, 3]), lambda x: x[:, :, ::-1, ::-1]),  # contiguous
    "reverse_negative_axis": ("REVERSE_V2", INT, lambda x: tf.reverse(x, [-2]), lambda x: x[:, :, ::-1]),
    "zeros_like": ("ZEROS_LIKE", ONE, lambda x: tf.raw_ops.ZerosLike(x=x), np.zeros_like),
    "zeros_like_int": ("ZEROS_LIKE", INT, lambda x: tf.raw_ops.ZerosLike(x=x), np.zeros_like),
    "fill": ("FILL", ONE, lambda x: tf.fill(tf.shape(x), 2.5), lambda x: np.full_like(x, 2.5)),
    "fill_int_rows": ("FILL", ONE, lambda x: tf.fill(tf.stack([tf.shape(x)[0], 4]), 3),
                      lambda x: np.full((len(x), 4), 3, np.int32)),
    "range_batch": ("RANGE", ONE, lambda x: tf.range(tf.shape(x)[0]), lambda x: np.arange(len(x), dtype=np.int32)),
    "reverse_sequence_rows": ("REVERSE_SEQUENCE", ONE,
                              lambda x: tf.reverse_sequence(x, [3, 0, 9, 5, 1, 7, 2], seq_axis=2, batch_axis=1),
                              lambda x: _reverse_sequence(x, [3, 0, 9, 5, 1, 7, 2], 2, 1)),
    "reverse_sequence_batch_1": ("REVERSE_SEQUENCE", ONE,
                                 lambda x: tf.reverse_sequence(x, [4], seq_axis=1, batch_axis=0),
                                 lambda x: _reverse_sequence(x, [4], 1, 0)),
    "reverse_sequence_tensor": ("REVERSE_SEQUENCE", (SHAPE, ((), "int32")),
                                lambda x, n: tf.reverse_sequence(x, n, seq_axis=1, batch_axis=0),
                                lambda x, n: _reverse_sequence(x, n, 1, 0)),
    "matrix_diag": ("MATRIX_DIAG", ((7, 5),), tf.linalg.diag, _diag),
    "matrix_set_diag": ("MATRIX_SET_DIAG", ((7, 9),), lambda x: tf.linalg.set_diag(x, x[:, :, 0]),
                        lambda x: _set_diag(x, x[:, :, 0])),
    "matrix_set_diag_tall": ("MATRIX_SET_DIAG", ((3, 9, 5), (3, 5)), tf.linalg.set_diag, _set_diag),
    "dynamic_update_slice": ("DYNAMIC_UPDATE_SLICE", ONE,
                             lambda x: xla.dynamic_update_slice(x, x[:, :2, :3] * 2, [0, 1, 2, 0]),
                             lambda x: _update(x, (1, 2))),
    "dynamic_update_slice_clamped": ("DYNAMIC_UPDATE_SLICE", ONE,
                                     lambda x: xla.dynamic_update_slice(x, x[:, :2, :3] * 2, [0, 6, 8, 0]),
                                     lambda x: _update(x, (5, 6))),
    "concatenation": ("CONCATENATION", TWO, lambda x, y: tf.concat([x, y], 2), lambda x, y: np.concatenate([x, y], 2)),
    "concatenation_relu": ("CONCATENATION", TWO, lambda x, y: tf.nn.relu(tf.concat([x, y], -1)),
                           lambda x, y: np.maximum(np.concatenate([x, y], -1), 0)),
    "concatenation_layer": model_case("CONCATENATION", lambda: keras.layers.Concatenate(), MODEL_SHAPE, MODEL_SHAPE),
    "strided_slice_index": ("STRIDED_SLICE", ONE, lambda x: x[..., None, 1:4:2, 0], lambda x: x[..., None, 1:4:2, 0]),
    "strided_slice_steps": Case("STRIDED_SLICE", ((11, 13, 6),), lambda x: x[:, 1:9, 2:13:3, 1:5], per_layer=True),
    "strided_slice_ellipsis": _strided([0, 1, 0], [0, 4, 0], [1, 2, 1], (7, 2), lambda x: x[..., 1:4:2, 0],
                                       ellipsisMask=1, shrinkAxisMask=4),
    "strided_slice_new_axis": _strided([0, 0, 2], [0, 0, 5], [1, 1, 1], (1, 3, 9, 5), lambda x: x[:, None, 2:5],
                                       beginMask=1, endMask=1, newAxisMask=2),
    "strided_slice_ellipsis_new_axis": _strided([0, 0, 1, 0], [0, 0, 4, 0], [1, 1, 2, 1], (7, 1, 2),
                                                lambda x: x[..., None, 1:4:2, 0], ellipsisMask=1, newAxisMask=2,
                                                shrinkAxisMask=8),
    "strided_slice_trailing_new_axis": _strided([0, 2, 0, 0], [0, -1, 0, 0], [1, 1, 1, 1], (4, 9, 5, 1),
                                                lambda x: x[:, 2:-1, ..., None], beginMask=1, endMask=1,
                                                ellipsisMask=4, newAxisMask=8),
    "strided_slice_offset": _strided([0, 1, -4, 0], [1, 3, 2, 5], [1, 1, 1, 2], (3, 2, 3),
                                     lambda x: x[:, 1:4, 5:7, ::2], beginMask=1, endMask=1, offset=True),
    "strided_slice_offset_backward": _strided([0, 6, 0, 4], [1, -3, 9, -4], [1, -1, 2, -1], (3, 5, 4),
                                              lambda x: x[:, 6:3:-1, ::2, 4:0:-1], endMask=1, offset=True),
    "strided_slice_shrink_masked": _strided([0, 5, 0, 0], [0, 0, 0, 0], [1, 1, 1, -2], (9, 3),
                                            lambda x: x[:, 0, :, ::-2], beginMask=15, endMask=13, shrinkAxisMask=2),
}
#: Traced with a free batch (TFLite writes SHAPE arithmetic, EXPAND_DIMS, FILL ...).
FREE = {"expand_dims", "expand_dims_last", "broadcast_to_free", "broadcast_to_constant", "broadcast_to_constant_int",
        "broadcast_args", "fill", "fill_int_rows", "range_batch", "slice", "strided_slice_index"}
#: Files whose constants say batch 1 (a size, a target shape, seq_lengths): their interpreter runs at batch 1 only.
BATCH_1 = {"slice_batch_1", "broadcast_to", "reverse_sequence_batch_1", "strided_slice_offset",
           "strided_slice_offset_backward"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"transpose": "Permute", "squeeze": "Reshape", "space_to_depth": "SpaceToDepth", "unpack": "Unstack",
          "split_v": "Split", "tile": "Tile", "broadcast_to_free": "BroadcastTo",
          "broadcast_to_constant": "BroadcastTo",
          "pad_rank2": "Pad", "mirror_pad_reflect": "Pad", "pad_1d": "ZeroPadding1D", "pad_3d": "ZeroPadding3D",
          "zeros_like": "Fill", "fill": "Fill", "range_batch": "Range", "reverse_sequence_rows": "ReverseSequence",
          "reverse_sequence_tensor": "ReverseSequence", "matrix_diag": "MatrixDiag", "matrix_set_diag": "MatrixSetDiag",
          "dynamic_update_slice": "SliceUpdate", "strided_slice_ellipsis_new_axis": "StridedSlice"}
#: The Keras layers (besides the inputs) that some cases convert to: standard layers where they are exact.
TARGETS = {"transpose": {"Permute"}, "squeeze": {"Reshape"}, "expand_dims": {"Reshape"}, "reverse": {"StridedSlice"},
           "slice": {"StridedSlice"}, "pad_spatial": {"ZeroPadding2D"}, "pad_channels": {"ChannelPadding"},
           "pad_all": {"ZeroPadding2D", "ChannelPadding"}, "pad_1d": {"ZeroPadding1D", "ChannelPadding"},
           "pad_3d": {"ZeroPadding3D"}, "pad_int": {"Pad"}, "padv2": {"Pad"}, "fill": {"Fill"},
           "broadcast_args": {"BroadcastTo"}, "broadcast_to_constant": {"BroadcastTo"}, "range_batch": {"Range"},
           "split": {"Split"}}
MY_MODULES = ("shape", "split", "layout", "fill", "rearrange")


def free_batch(function: Callable[..., Any], *specs: Any) -> bytes:
    """TFLite bytes of a TF function traced with a free batch."""
    signature = [tf.TensorSpec((None, *shape), dtype) for shape, dtype in map(shape_dtype, specs)]
    concrete = tf.function(function).get_concrete_function(*signature)
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def _data(name: str, function_to_tflite: Any) -> bytes:
    specs, source = CASES[name][1], CASES[name][2]
    if isinstance(source, Built):
        return source()
    return free_batch(source, *specs) if name in FREE else tflite_of(CASES[name], function_to_tflite)


def test_every_op_of_the_modules_has_a_case() -> None:
    mine = {code for code, spec in registry.specs().items()
            if spec.converter is not None and spec.converter.__module__.rsplit(".", 1)[-1] in MY_MODULES}
    assert mine == {case[0] for case in CASES.values()}, mine ^ {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    batches = (1,) if name in BATCH_1 else (1, 3)
    model = check_case(CASES[name], _data(name, function_to_tflite), tmp_path, RELOAD.get(name), batches)
    if name in TARGETS:
        assert {type(layer).__name__ for layer in model.layers} - {"InputLayer"} == TARGETS[name]


def _traced(function: Callable[..., Any], *specs: Any, free: bool = False) -> bytes:
    """TFLite bytes of a TF function traced at batch 1, or with a free batch."""
    if free:
        return free_batch(function, *specs)
    signature = [tf.TensorSpec((1, *shape), dtype) for shape, dtype in map(shape_dtype, specs)]
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(function).get_concrete_function(*signature)]).convert())


#: opcode, a file with it, what the error names.
UNSUPPORTED: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "transpose_batch": ("TRANSPOSE", lambda: _traced(lambda x: tf.transpose(x, [1, 0, 2, 3]), SHAPE, free=True),
                        "batch axis"),
    "squeeze_batch": ("SQUEEZE", Built("SQUEEZE", [(7, 1, 5)], [((7, 5), "float32")]), "squeezes the batch"),
    "expand_dims_0": ("EXPAND_DIMS", lambda: _traced(lambda x: tf.expand_dims(x, 0), SHAPE, free=True),
                      "before the batch"),
    "tile_batch": ("TILE", lambda: _traced(lambda x: tf.tile(x, [2, 1, 1, 1]), SHAPE), "tiles the batch"),
    "tile_by_batch": ("TILE", lambda: _traced(lambda x: tf.tile(x, tf.stack([1, tf.shape(x)[0], 1, 1])), SHAPE,
                                              free=True), "depends on the batch"),
    "strided_slice_batch": ("STRIDED_SLICE", lambda: _traced(lambda x: x[1:, 2:], SHAPE, free=True),
                            "slices the batch"),
    "strided_slice_batch_end": ("STRIDED_SLICE", lambda: _traced(lambda x: x[:-1, 2:], SHAPE, free=True),
                                "slices the batch"),
    "strided_slice_new_axis_first": ("STRIDED_SLICE", Built("STRIDED_SLICE", [SHAPE, i32(0), i32(0), i32(1)],
                                                            [((1, 1, *SHAPE), "float32")],
                                                            ("StridedSliceOptions", {"newAxisMask": 1})),
                                     "axis before it"),
    "strided_slice_shrink_backward": ("STRIDED_SLICE", Built(  # TFLite writes nothing for such an axis
        "STRIDED_SLICE", [SHAPE, i32(0, 2), i32(0, 0), i32(1, -1)], [((1, 9, 5), "float32")],
        ("StridedSliceOptions", {"beginMask": 1, "endMask": 1, "shrinkAxisMask": 2})), "shrunk axis"),
    "slice_batch": ("SLICE", lambda: _traced(lambda x: tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), SHAPE, free=True),
                    "slices the batch"),
    "split_batch": ("SPLIT", Built("SPLIT", [i32(0), SHAPE], [((1, *SHAPE), "float32")],
                                   ("SplitOptions", {"numSplits": 1})), "batch axis"),
    "unpack_batch": ("UNPACK", Built("UNPACK", [SHAPE], [(SHAPE, "float32")], ("UnpackOptions", {"num": 1, "axis": 0})),
                     "batch axis"),
    "concatenation_batch": ("CONCATENATION", lambda: _traced(lambda x, y: tf.concat([x, y], 0), SHAPE, SHAPE),
                            "batch axis"),
    "pad_batch": ("PAD", lambda: _traced(lambda x: tf.pad(x, [[1, 0], [0, 0], [0, 0], [0, 0]]), SHAPE),
                  "pads the batch"),
    "mirror_pad_too_far": ("MIRROR_PAD", Built("MIRROR_PAD", [SHAPE, i32([0, 0], [7, 0], [0, 0], [0, 0])],
                                               [((1, 14, 9, 5), "float32")], ("MirrorPadOptions", {"mode": 0})),
                           "exceed"),
    "broadcast_to_batch": ("BROADCAST_TO", lambda: _traced(lambda x: tf.broadcast_to(x, [3, *SHAPE]), SHAPE),
                           "broadcasts the batch"),
    "reverse_batch": ("REVERSE_V2", lambda: _traced(lambda x: tf.reverse(x, [0]), SHAPE), "batch axis"),
    "reverse_sequence_over_batch": ("REVERSE_SEQUENCE", lambda: _traced(
        lambda x: tf.reverse_sequence(x, [1] * 7, seq_axis=0, batch_axis=1), SHAPE), "seq_dim 0"),
    "update_constant": ("DYNAMIC_UPDATE_SLICE", lambda: _traced(
        lambda x: xla.dynamic_update_slice(x, tf.ones([1, 2, 3, 5]), [0, 1, 0, 0]), SHAPE), "is a constant"),
    "fill_batch_inside": ("FILL", lambda: _traced(lambda x: tf.fill(tf.stack([4, tf.shape(x)[0]]), 1.0), SHAPE,
                                                  free=True), "only the first"),
    "range_not_the_batch": ("RANGE", lambda: _traced(lambda x: tf.range(tf.shape(x)[0], 10), SHAPE, free=True),
                            "length that is the batch"),
    "matrix_diag_of_the_batch": ("MATRIX_DIAG", lambda: _traced(tf.linalg.diag, ()), "spreads the batch"),
    "matrix_set_diag_batch": ("MATRIX_SET_DIAG", lambda: _traced(lambda x: tf.linalg.set_diag(x, x[:, 0]), (7,)),
                              "non-batch axes"),
    "broadcast_args_of_tensors": ("BROADCAST_ARGS", Built("BROADCAST_ARGS", [((4,), "int32"), ((4,), "int32")],
                                                          [((4,), "int32")], batch=False), "does not fold"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_forms_raise(name: str) -> None:
    opcode, make, message = UNSUPPORTED[name]
    data = make()
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"op \d+ \({opcode}\).*{message}"):
        t2k.convert(data)


def _fold_case(opcode: str, slots: list[Any], outputs: list[tuple[tuple[int, ...], str]],
               options: tuple[str, dict[str, Any]] | None = None, version: int = 1) -> tuple[str, list[Any], Built]:
    return opcode, slots, Built(opcode, slots, outputs, options, batch=False, version=version)


def _ss(begin: list[int], end: list[int], strides: list[int], out: tuple[int, ...], **masks: Any) -> Any:
    return _fold_case("STRIDED_SLICE", [((4, 6, 7), "int32"), i32(*begin), i32(*end), i32(*strides)],
                      [(out, "int32")], ("StridedSliceOptions", masks))


#: id -> (opcode, slots: full-shape graph inputs or constants, file): each fold against the interpreter.
FOLDS = {
    "strided_slice_shrink": _ss([1, 0], [2, 0], [1, 1], (6, 7), shrinkAxisMask=1, endMask=2),
    "strided_slice_reverse": _ss([-1, 5, 0], [0, 0, 7], [-2, -3, 3], (2, 2, 3), endMask=1, beginMask=0),
    "strided_slice_ellipsis_new": _ss([0, 0, 3], [0, 0, 9], [1, 1, 2], (4, 6, 1, 2), ellipsisMask=1, newAxisMask=2),
    "strided_slice_offset": _ss([1, -5, 0], [2, 3, 7], [1, 2, 1], (2, 2, 7), offset=True),
    "slice": _fold_case("SLICE", [((4, 6, 7), "int32"), i32(1, 0, 2), i32(-1, 3, 4)], [((3, 3, 4), "int32")]),
    "tile": _fold_case("TILE", [((2, 3), "int32"), i32(3, 2)], [((6, 6), "int32")]),
    "transpose": _fold_case("TRANSPOSE", [((2, 3, 4), "int32"), i32(-1, 0, 1)], [((4, 2, 3), "int32")]),
    "squeeze_all": _fold_case("SQUEEZE", [((1, 3, 1), "int32")], [((3,), "int32")], ("SqueezeOptions", {})),
    "expand_dims": _fold_case("EXPAND_DIMS", [((2, 3), "int32"), i32(-2)], [((2, 1, 3), "int32")]),
    "unpack": _fold_case("UNPACK", [((4,), "int32")], [((), "int32")] * 4, ("UnpackOptions", {"num": 4, "axis": 0})),
    "concatenation": _fold_case("CONCATENATION", [((1,), "int32"), ((3,), "int32")], [((4,), "int32")],
                                ("ConcatenationOptions", {"axis": 0})),
    "broadcast_to": _fold_case("BROADCAST_TO", [((3, 1), "int32"), i32(2, 3, 4)], [((2, 3, 4), "int32")], version=2),
    "broadcast_args": _fold_case("BROADCAST_ARGS", [((3,), "int32"), ((2,), "int32")], [((3,), "int32")]),
    "fill": _fold_case("FILL", [((2,), "int32"), ((), "float32")], [((2, 3), "float32")]),
    "range_int": _fold_case("RANGE", [((), "int32"), ((), "int32"), ((), "int32")], [((3,), "int32")]),
    "range_float": _fold_case("RANGE", [((), "float32"), ((), "float32"), ((), "float32")], [((7,), "float32")]),
    "zeros_like": _fold_case("ZEROS_LIKE", [((2, 3), "int32")], [((2, 3), "int32")]),
}
#: Graph-input values of the fold cases that need particular ones (shapes, ranges).
FEEDS = {"broadcast_args": [i32(4, 1, 1), i32(3, 1)], "fill": [i32(2, 3), np.float32(0.7)],
         "range_int": [np.int32(7), np.int32(-2), np.int32(-3)],
         "range_float": [np.float32(0.1), np.float32(2.0), np.float32(0.3)]}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_is_the_interpreter(name: str) -> None:
    opcode, slots, make = FOLDS[name]
    tfl = t2k.read(make())
    rng = np.random.default_rng(0)
    feed = FEEDS.get(name) or [rng.integers(-50, 50, shape_dtype(s)[0]).astype(np.int32) for s in slots
                               if not isinstance(s, np.ndarray)]
    want = run(make_interpreter(tfl, kernels="builtin"), [np.asarray(f) for f in feed])[0]
    it = iter(feed)
    values = [s if isinstance(s, np.ndarray) else np.asarray(next(it)) for s in slots]
    got = registry.get(opcode).fold(tfl.operators[0], values)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.asarray(g).shape == w.shape
        np.testing.assert_array_equal(np.asarray(g).astype(w.dtype), w)


def test_fold_rejects_what_the_kernel_rejects() -> None:
    op = Operator(0, "STRIDED_SLICE", 1, (), (), {"shrink_axis_mask": 1})
    fold = registry.get("STRIDED_SLICE").fold
    with pytest.raises(t2k.UnsupportedOpError, match="out of range"):
        fold(op, [i32(4, 5), i32(2), i32(3), i32(1)])
    with pytest.raises(t2k.UnsupportedOpError, match="for rank 1"):
        registry.get("TILE").fold(Operator(0, "TILE", 1, (), ()), [i32(1, 2), i32(2, 2, 2)])
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(BROADCAST_TO\) does not fold"):  # numpy's error, ours
        registry.get("BROADCAST_TO").fold(Operator(0, "BROADCAST_TO", 1, (), ()), [i32(1, 2), i32(3)])
    with pytest.raises(t2k.UnsupportedOpError, match="not shape arithmetic"):
        registry.get("FILL").fold(Operator(0, "FILL", 1, (), ()), [i32(1000, 1000), np.float32(1)])
    with pytest.raises(t2k.UnsupportedOpError, match="invalid"):
        registry.get("RANGE").fold(Operator(0, "RANGE", 1, (), ()), [i32(0), i32(5), i32(-1)])


#: Shape arithmetic that folds through these modules' folds, at a free batch.
CHAINS: dict[str, Case] = {
    "slice_concat_reshape": ("CONCATENATION", ONE, lambda x: tf.reshape(x, tf.concat([tf.shape(x)[:1], [-1]], 0)),
                             lambda x: x.reshape(len(x), -1)),
    "unpack_pack_reshape": ("UNPACK", ONE, lambda x: tf.reshape(x, tf.stack([tf.unstack(tf.shape(x))[0], 63, 5])),
                            lambda x: x.reshape(len(x), 63, 5)),
    "squeeze_of_shape": ("STRIDED_SLICE", ONE, lambda x: tf.reshape(x, [tf.shape(x)[0], tf.shape(x)[1] * 9, 5]),
                         lambda x: x.reshape(len(x), 63, 5)),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_shape_arithmetic_folds(name: str, tmp_path: Any) -> None:
    case = CHAINS[name]
    model = check_case(case, free_batch(case[2], *case[1]), tmp_path)
    assert {type(layer).__name__ for layer in model.layers} <= {"InputLayer", "Reshape"}


def test_layer_configs_round_trip_and_check_arguments() -> None:
    made = [layers.Pad([(1, 2)], "symmetric"), layers.Pad([(0, 1)], constant_value=2), layers.SpaceToDepth(3),
            layers.StridedSlice([1, 0], [None, 2], [2, 1], shrink_axes=[1], new_axes=[0]), layers.Split(2, [1, 3]),
            layers.Unstack(1, 4), layers.Tile([1, 2]), layers.BroadcastTo([3], {"value": [1.5], "dtype": "float32"}),
            layers.Fill(True, "bool", shape=[2]), layers.Range(2, -1, "int64"), layers.SliceUpdate([0, 3]),
            layers.MatrixDiag(), layers.MatrixSetDiag(), layers.ReverseSequence(2, 1, lengths=[1, 2])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    bad = [lambda: layers.Pad([(1, 2)], "wrap"), lambda: layers.Pad([(-1, 0)]), lambda: layers.Split(0, [1]),
           lambda: layers.StridedSlice([0], [1], [0]), lambda: layers.StridedSlice([None], [1], [1], shrink_axes=[0]),
           lambda: layers.Tile([-1]), lambda: layers.SliceUpdate([-1]), lambda: layers.SpaceToDepth(0),
           lambda: layers.ReverseSequence(1, 1), lambda: layers.ReverseSequence(1, 2)]
    for make in bad:
        with pytest.raises(InvalidArgumentError):
            make()


JAX_CHILD = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import tflite2keras as t2k
cases = np.load(sys.argv[1], allow_pickle=True)["cases"].tolist()
for name, data, feed, want in cases:
    model = t2k.convert(bytes(data))
    got = model(feed if len(feed) > 1 else feed[0])
    got = [np.asarray(g) for g in keras.tree.flatten(got)]
    ok = len(got) == len(want) and all(g.dtype == w.dtype and g.shape == w.shape and np.allclose(g, w, atol=1e-5)
                                       for g, w in zip(got, want))
    print("RESULT " + json.dumps({"name": name, "ok": bool(ok)}), flush=True)
    assert "tensorflow" not in sys.modules
"""


def test_layers_run_under_jax(function_to_tflite: Any, tmp_path: Any) -> None:
    """One case per layer class converted and run under KERAS_BACKEND=jax, against the interpreter."""
    import os

    from oneop import inputs

    cases = []
    for name in sorted(RELOAD):
        data = _data(name, function_to_tflite)
        feed = inputs(CASES[name][1], 1, 0)
        cases.append((name, np.frombuffer(data, np.uint8), feed, run(make_interpreter(t2k.read(data)), feed)[0]))
    path = tmp_path / "cases.npz"
    np.savez(path, cases=np.array(cases, dtype=object))
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", JAX_CHILD, str(path)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and len(results) == len(cases), done.stderr[-3000:]
    failed = [line for line in results if '"ok": false' in line]
    assert not failed, failed


# -- Dense on a rank-3 tensor that is not a graph input ------------------------------------


def _dense_after(kind: str) -> Any:
    """A Keras model whose Dense reads a rank-3 tensor computed by another layer."""
    import keras

    keras.utils.set_random_seed(4)
    if kind == "conv1d":
        inputs = keras.Input((9, 5))
        x = keras.layers.Conv1D(6, 3)(inputs)
    elif kind == "reshape":
        inputs = keras.Input((35,))
        x = keras.layers.Reshape((7, 5))(inputs)
    else:  # dense, int8
        inputs = keras.Input((7, 5))
        x = keras.layers.Dense(6, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


@pytest.mark.parametrize("kind", ["dense", "conv1d", "reshape", "int8"])
def test_dense_on_a_computed_rank_3_tensor(kind: str, to_tflite: Any) -> None:
    """The converter folds the leading axes into the batch (RESHAPE to [-1, C]) and, where the next
    Dense reads the flat tensor directly, never reshapes back before it: the RESHAPE that restores
    the batch reshapes over all axes."""
    data = to_tflite(_dense_after(kind), "int8" if kind == "int8" else None)
    model = t2k.convert(data)
    for batch in (1, 16):
        report = t2k.verify(model, data, samples=2, batch=batch)
        assert report.ok, str(report)
