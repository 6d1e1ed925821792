"""ops/rearrange.py: TRANSPOSE, SQUEEZE, EXPAND_DIMS, SPACE_TO_DEPTH, DEPTH_TO_SPACE, TILE, BROADCAST_TO,
REVERSE_V2, REVERSE_SEQUENCE, MATRIX_DIAG and MATRIX_SET_DIAG: one-op models against the interpreter and numpy.

The cases run through test_shape.py's machinery (:func:`test_shape.check_table_case`: ``FREE`` cases are
traced with a free batch, ``Built`` ones written with the schema's object API); test_shape.py's
``test_layers_run_under_jax`` runs this module's ``RELOAD`` cases under JAX.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case
from test_shape import (
    INT,
    ONE,
    SHAPE,
    Built,
    built,
    check_family_has_cases,
    check_fold,
    check_table_case,
    check_unsupported,
    fold_case,
    i32,
    traced,
)

import tflite2keras as t2k
from tflite2keras import layers
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.ops import registry
from tflite2keras.tflite.model import Operator


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


#: id -> (opcode under test, input shapes, TF function or Built file, numpy reference), or a oneop.Case.
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
    "depth_to_space_per_layer": Case("DEPTH_TO_SPACE", ((5, 7, 12),), lambda x: tf.nn.depth_to_space(x, 2),
                                     per_layer=True),
    "tile": ("TILE", ONE, lambda x: tf.tile(x, [1, 2, 1, 3]), lambda x: np.tile(x, (1, 2, 1, 3))),
    "broadcast_to": ("BROADCAST_TO", ONE, lambda x: tf.broadcast_to(x[:, :1], [1, 7, 9, 5]),
                     lambda x: np.broadcast_to(x[:, :1], (len(x), *SHAPE))),
    "broadcast_to_free": ("BROADCAST_TO", ONE, lambda x: tf.broadcast_to(x[:, :, :1], tf.shape(x)),
                          lambda x: np.broadcast_to(x[:, :, :1], x.shape)),
    "broadcast_to_constant": ("BROADCAST_TO", ONE, tf.ones_like, np.ones_like),  # TFLite has no ONES_LIKE
    "broadcast_to_constant_int": ("BROADCAST_TO", INT, tf.ones_like, np.ones_like),
    "reverse": ("REVERSE_V2", ONE, lambda x: tf.reverse(x, [2, 3]), lambda x: x[:, :, ::-1, ::-1]),  # contiguous
    "reverse_negative_axis": ("REVERSE_V2", INT, lambda x: tf.reverse(x, [-2]), lambda x: x[:, :, ::-1]),
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
}
#: Traced with a free batch (TFLite writes SHAPE arithmetic, EXPAND_DIMS, FILL ...).
FREE = {"expand_dims", "expand_dims_last", "broadcast_to_free", "broadcast_to_constant", "broadcast_to_constant_int"}
#: Files whose constants say batch 1 (a size, a target shape, seq_lengths): their interpreter runs at batch 1 only.
BATCH_1 = {"broadcast_to", "reverse_sequence_batch_1"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"transpose": "Permute", "squeeze": "Reshape", "space_to_depth": "SpaceToDepth", "tile": "Tile",
          "broadcast_to_free": "BroadcastTo", "broadcast_to_constant": "BroadcastTo",
          "reverse_sequence_rows": "ReverseSequence", "reverse_sequence_tensor": "ReverseSequence",
          "matrix_diag": "MatrixDiag", "matrix_set_diag": "MatrixSetDiag"}
#: The Keras layers (besides the inputs) that some cases convert to: standard layers where they are exact.
TARGETS = {"transpose": {"Permute"}, "squeeze": {"Reshape"}, "expand_dims": {"Reshape"}, "reverse": {"StridedSlice"},
           "broadcast_to_constant": {"BroadcastTo"}}
MY_MODULES = ("rearrange",)


def test_every_op_of_the_module_has_a_case() -> None:
    check_family_has_cases(sys.modules[__name__])


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


#: opcode, a file with it, what the error names.
UNSUPPORTED: dict[str, tuple[str, Any, str]] = {
    "expand_dims_0": ("EXPAND_DIMS", lambda: traced(lambda x: tf.expand_dims(x, 0), SHAPE, free=True),
                      "before the batch"),
    "tile_batch": ("TILE", lambda: traced(lambda x: tf.tile(x, [2, 1, 1, 1]), SHAPE), "tiles the batch"),
    "tile_by_batch": ("TILE", lambda: traced(lambda x: tf.tile(x, tf.stack([1, tf.shape(x)[0], 1, 1])), SHAPE,
                                             free=True), "depends on the batch"),
    "broadcast_to_batch": ("BROADCAST_TO", lambda: traced(lambda x: tf.broadcast_to(x, [3, *SHAPE]), SHAPE),
                           "broadcasts the batch"),
    "reverse_batch": ("REVERSE_V2", lambda: traced(lambda x: tf.reverse(x, [0]), SHAPE), "batch axis"),
    "reverse_sequence_over_batch": ("REVERSE_SEQUENCE", lambda: traced(
        lambda x: tf.reverse_sequence(x, [1] * 7, seq_axis=0, batch_axis=1), SHAPE), "seq_dim 0"),
    "matrix_diag_of_the_batch": ("MATRIX_DIAG", lambda: traced(tf.linalg.diag, ()), "spreads the batch"),
    "matrix_set_diag_batch": ("MATRIX_SET_DIAG", lambda: traced(lambda x: tf.linalg.set_diag(x, x[:, 0]), (7,)),
                              "non-batch axes"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_forms_raise(name: str) -> None:
    check_unsupported(UNSUPPORTED[name])


#: Forms that move or squeeze axis 0: converted with fixed shapes (tests/conversion/test_fixed.py).
FIXED: dict[str, tuple[str, Any, str]] = {
    "transpose_batch": ("TRANSPOSE", lambda: traced(lambda x: tf.transpose(x, [1, 0, 2, 3]), SHAPE, free=True),
                        "moves the batch axis"),
    "squeeze_batch": ("SQUEEZE", Built("SQUEEZE", [(7, 1, 5)], [((7, 5), "float32")]), "squeezes the batch"),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_batch_forms_convert_with_fixed_shapes(name: str) -> None:
    opcode, make, reason = FIXED[name]
    data = make()
    with pytest.warns(UserWarning, match=rf"fixed shapes.*op \d+ \({opcode}\).*{reason}"):
        model = t2k.convert(data)
    assert reason in model.fixed_shape and None not in model.inputs[0].shape
    assert t2k.verify(model, data).ok


#: id -> (opcode, slots: full-shape graph inputs or constants, file): each fold against the interpreter.
FOLDS = {
    "tile": fold_case("TILE", [((2, 3), "int32"), i32(3, 2)], [((6, 6), "int32")]),
    "transpose": fold_case("TRANSPOSE", [((2, 3, 4), "int32"), i32(-1, 0, 1)], [((4, 2, 3), "int32")]),
    "squeeze_all": fold_case("SQUEEZE", [((1, 3, 1), "int32")], [((3,), "int32")], ("SqueezeOptions", {})),
    "expand_dims": fold_case("EXPAND_DIMS", [((2, 3), "int32"), i32(-2)], [((2, 1, 3), "int32")]),
    "broadcast_to": fold_case("BROADCAST_TO", [((3, 1), "int32"), i32(2, 3, 4)], [((2, 3, 4), "int32")], version=2),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_is_the_interpreter(name: str) -> None:
    check_fold(FOLDS[name], None)


def test_fold_rejects_what_the_kernel_rejects() -> None:
    with pytest.raises(t2k.UnsupportedOpError, match="for rank 1"):
        registry.get("TILE").fold(Operator(0, "TILE", 1, (), ()), [i32(1, 2), i32(2, 2, 2)])
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(BROADCAST_TO\) does not fold"):  # numpy's error, ours
        registry.get("BROADCAST_TO").fold(Operator(0, "BROADCAST_TO", 1, (), ()), [i32(1, 2), i32(3)])


def test_layer_configs_round_trip_and_check_arguments() -> None:
    made = [layers.SpaceToDepth(3), layers.Tile([1, 2]), layers.BroadcastTo([3], {"value": [1.5], "dtype": "float32"}),
            layers.MatrixDiag(), layers.MatrixSetDiag(), layers.ReverseSequence(2, 1, lengths=[1, 2])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    bad = [lambda: layers.Tile([-1]), lambda: layers.SpaceToDepth(0), lambda: layers.ReverseSequence(1, 1),
           lambda: layers.ReverseSequence(1, 2)]
    for make in bad:
        with pytest.raises(InvalidArgumentError):
            make()
