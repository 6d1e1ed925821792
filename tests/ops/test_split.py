"""ops/split.py: SPLIT, SPLIT_V, UNPACK and DYNAMIC_UPDATE_SLICE: one-op models against the interpreter and
numpy, and the UNPACK fold.

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
from tensorflow.compiler.tf2xla.python import xla
from test_shape import (
    INT,
    ONE,
    SHAPE,
    Built,
    check_chain,
    check_family_has_cases,
    check_fold,
    check_table_case,
    check_unsupported,
    fold_case,
    i32,
    traced,
)

from tflite2keras import layers
from tflite2keras.errors import InvalidArgumentError


def _update(x: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    out = np.array(x)
    out[:, at[0]:at[0] + 2, at[1]:at[1] + 3] = x[:, :2, :3] * 2
    return out


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "unpack": ("UNPACK", ONE, lambda x: tf.unstack(x, axis=2), lambda x: [x[:, :, i] for i in range(9)]),
    "unpack_last_int": ("UNPACK", INT, lambda x: tf.unstack(x, axis=-1), lambda x: [x[..., i] for i in range(5)]),
    "split": ("SPLIT", ((9, 7, 5),), lambda x: tf.split(x, 3, axis=1), lambda x: np.split(x, 3, axis=1)),
    "split_v": ("SPLIT_V", ONE, lambda x: tf.split(x, [2, 4, 3], axis=2), lambda x: np.split(x, [2, 6], axis=2)),
    "split_v_inferred": ("SPLIT_V", ONE, lambda x: tf.split(x, [2, -1], axis=-1), lambda x: np.split(x, [2], -1)),
    "dynamic_update_slice": ("DYNAMIC_UPDATE_SLICE", ONE,
                             lambda x: xla.dynamic_update_slice(x, x[:, :2, :3] * 2, [0, 1, 2, 0]),
                             lambda x: _update(x, (1, 2))),
    "dynamic_update_slice_clamped": ("DYNAMIC_UPDATE_SLICE", ONE,
                                     lambda x: xla.dynamic_update_slice(x, x[:, :2, :3] * 2, [0, 6, 8, 0]),
                                     lambda x: _update(x, (5, 6))),
}
#: Traced with a free batch (none here).
FREE: set[str] = set()
#: Files whose constants say batch 1: their interpreter runs at batch 1 only (none here).
BATCH_1: set[str] = set()
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"unpack": "Unstack", "split_v": "Split", "dynamic_update_slice": "SliceUpdate"}
#: The Keras layers (besides the inputs) that some cases convert to.
TARGETS = {"split": {"Split"}}
MY_MODULES = ("split",)


def test_every_op_of_the_module_has_a_case() -> None:
    check_family_has_cases(sys.modules[__name__])


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


#: opcode, a file with it, what the error names.
UNSUPPORTED: dict[str, tuple[str, Any, str]] = {
    "split_batch": ("SPLIT", Built("SPLIT", [i32(0), SHAPE], [((1, *SHAPE), "float32")],
                                   ("SplitOptions", {"numSplits": 1})), "batch axis"),
    "unpack_batch": ("UNPACK", Built("UNPACK", [SHAPE], [(SHAPE, "float32")], ("UnpackOptions", {"num": 1, "axis": 0})),
                     "batch axis"),
    "update_constant": ("DYNAMIC_UPDATE_SLICE", lambda: traced(
        lambda x: xla.dynamic_update_slice(x, tf.ones([1, 2, 3, 5]), [0, 1, 0, 0]), SHAPE), "is a constant"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_forms_raise(name: str) -> None:
    check_unsupported(UNSUPPORTED[name])


#: id -> (opcode, slots: full-shape graph inputs or constants, file): each fold against the interpreter.
FOLDS = {
    "unpack": fold_case("UNPACK", [((4,), "int32")], [((), "int32")] * 4, ("UnpackOptions", {"num": 4, "axis": 0})),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_is_the_interpreter(name: str) -> None:
    check_fold(FOLDS[name], None)


#: Shape arithmetic that folds through UNPACK's fold, at a free batch.
CHAINS: dict[str, Case] = {
    "unpack_pack_reshape": ("UNPACK", ONE, lambda x: tf.reshape(x, tf.stack([tf.unstack(tf.shape(x))[0], 63, 5])),
                            lambda x: x.reshape(len(x), 63, 5)),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_shape_arithmetic_folds(name: str, tmp_path: Any) -> None:
    check_chain(CHAINS[name], tmp_path)


def test_layer_configs_round_trip_and_check_arguments() -> None:
    made = [layers.Split(2, [1, 3]), layers.Unstack(1, 4), layers.SliceUpdate([0, 3])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    bad = [lambda: layers.Split(0, [1]), lambda: layers.SliceUpdate([-1])]
    for make in bad:
        with pytest.raises(InvalidArgumentError):
            make()
