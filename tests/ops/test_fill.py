"""ops/fill.py: PAD, PADV2, MIRROR_PAD, FILL, RANGE, ZEROS_LIKE and BROADCAST_ARGS: one-op models against
the interpreter and numpy, and their folds.

The cases run through test_shape.py's machinery (:func:`test_shape.check_table_case`: ``FREE`` cases are
traced with a free batch, ``Built`` ones written with the schema's object API); test_shape.py's
``test_layers_run_under_jax`` runs this module's ``RELOAD`` cases under JAX.
"""

from __future__ import annotations

import sys
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, model_case
from test_shape import (
    INT,
    ONE,
    SHAPE,
    Built,
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

PADS = [[0, 0], [1, 2], [0, 1], [2, 0]]

#: id -> (opcode under test, input shapes, TF function or Built file, numpy reference), or a oneop.Case.
CASES: dict[str, Case] = {
    "pad_zero_padding_layer": model_case("PAD", lambda: keras.layers.ZeroPadding2D(((1, 2), (3, 0)))),
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
    "zeros_like": ("ZEROS_LIKE", ONE, lambda x: tf.raw_ops.ZerosLike(x=x), np.zeros_like),
    "zeros_like_int": ("ZEROS_LIKE", INT, lambda x: tf.raw_ops.ZerosLike(x=x), np.zeros_like),
    "fill": ("FILL", ONE, lambda x: tf.fill(tf.shape(x), 2.5), lambda x: np.full_like(x, 2.5)),
    "fill_int_rows": ("FILL", ONE, lambda x: tf.fill(tf.stack([tf.shape(x)[0], 4]), 3),
                      lambda x: np.full((len(x), 4), 3, np.int32)),
    "range_batch": ("RANGE", ONE, lambda x: tf.range(tf.shape(x)[0]), lambda x: np.arange(len(x), dtype=np.int32)),
}
#: Traced with a free batch (TFLite writes SHAPE arithmetic, EXPAND_DIMS, FILL ...).
FREE = {"broadcast_args", "fill", "fill_int_rows", "range_batch"}
#: Files whose constants say batch 1: their interpreter runs at batch 1 only.
BATCH_1: set[str] = set()
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"pad_rank2": "Pad", "mirror_pad_reflect": "Pad", "pad_1d": "ZeroPadding1D", "pad_3d": "ZeroPadding3D",
          "zeros_like": "Fill", "fill": "Fill", "range_batch": "Range"}
#: The Keras layers (besides the inputs) that some cases convert to: standard layers where they are exact.
TARGETS = {"pad_spatial": {"ZeroPadding2D"}, "pad_channels": {"ChannelPadding"},
           "pad_all": {"ZeroPadding2D", "ChannelPadding"}, "pad_1d": {"ZeroPadding1D", "ChannelPadding"},
           "pad_3d": {"ZeroPadding3D"}, "pad_int": {"Pad"}, "padv2": {"Pad"}, "fill": {"Fill"},
           "broadcast_args": {"BroadcastTo"}, "range_batch": {"Range"}}
MY_MODULES = ("fill",)


def test_every_op_of_the_module_has_a_case() -> None:
    check_family_has_cases(sys.modules[__name__])


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


#: opcode, a file with it, what the error names.
UNSUPPORTED: dict[str, tuple[str, Any, str]] = {
    "pad_batch": ("PAD", lambda: traced(lambda x: tf.pad(x, [[1, 0], [0, 0], [0, 0], [0, 0]]), SHAPE),
                  "pads the batch"),
    "mirror_pad_too_far": ("MIRROR_PAD", Built("MIRROR_PAD", [SHAPE, i32([0, 0], [7, 0], [0, 0], [0, 0])],
                                               [((1, 14, 9, 5), "float32")], ("MirrorPadOptions", {"mode": 0})),
                           "exceed"),
    "fill_batch_inside": ("FILL", lambda: traced(lambda x: tf.fill(tf.stack([4, tf.shape(x)[0]]), 1.0), SHAPE,
                                                 free=True), "only the first"),
    "range_not_the_batch": ("RANGE", lambda: traced(lambda x: tf.range(tf.shape(x)[0], 10), SHAPE, free=True),
                            "length that is the batch"),
    "broadcast_args_of_tensors": ("BROADCAST_ARGS", Built("BROADCAST_ARGS", [((4,), "int32"), ((4,), "int32")],
                                                          [((4,), "int32")], batch=False), "does not fold"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_forms_raise(name: str) -> None:
    check_unsupported(UNSUPPORTED[name])


#: id -> (opcode, slots: full-shape graph inputs or constants, file): each fold against the interpreter.
FOLDS = {
    "broadcast_args": fold_case("BROADCAST_ARGS", [((3,), "int32"), ((2,), "int32")], [((3,), "int32")]),
    "fill": fold_case("FILL", [((2,), "int32"), ((), "float32")], [((2, 3), "float32")]),
    "range_int": fold_case("RANGE", [((), "int32"), ((), "int32"), ((), "int32")], [((3,), "int32")]),
    "range_float": fold_case("RANGE", [((), "float32"), ((), "float32"), ((), "float32")], [((7,), "float32")]),
    "zeros_like": fold_case("ZEROS_LIKE", [((2, 3), "int32")], [((2, 3), "int32")]),
}
#: Graph-input values of the fold cases that need particular ones (shapes, ranges).
FEEDS = {"broadcast_args": [i32(4, 1, 1), i32(3, 1)], "fill": [i32(2, 3), np.float32(0.7)],
         "range_int": [np.int32(7), np.int32(-2), np.int32(-3)],
         "range_float": [np.float32(0.1), np.float32(2.0), np.float32(0.3)]}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_is_the_interpreter(name: str) -> None:
    check_fold(FOLDS[name], FEEDS.get(name))


def test_fold_rejects_what_the_kernel_rejects() -> None:
    with pytest.raises(t2k.UnsupportedOpError, match="not shape arithmetic"):
        registry.get("FILL").fold(Operator(0, "FILL", 1, (), ()), [i32(1000, 1000), np.float32(1)])
    with pytest.raises(t2k.UnsupportedOpError, match="invalid"):
        registry.get("RANGE").fold(Operator(0, "RANGE", 1, (), ()), [i32(0), i32(5), i32(-1)])


def test_layer_configs_round_trip_and_check_arguments() -> None:
    made = [layers.Pad([(1, 2)], "symmetric"), layers.Pad([(0, 1)], constant_value=2),
            layers.Fill(True, "bool", shape=[2]), layers.Range(2, -1, "int64")]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    bad = [lambda: layers.Pad([(1, 2)], "wrap"), lambda: layers.Pad([(-1, 0)])]
    for make in bad:
        with pytest.raises(InvalidArgumentError):
            make()
