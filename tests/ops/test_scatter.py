"""ops/scatter.py: SCATTER_ND and the UNSORTED_SEGMENT_* reductions against the interpreter and numpy.

(test_index.py's ``test_layers_run_under_jax`` runs this module's ``RELOAD`` cases, and those of its
``JAX_TOO``, under JAX.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, inputs

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run

I32 = "int32"
PER_SAMPLE = np.array([[[0, 2], [0, 4], [0, 2]]], np.int32)  # three updates of one sample, two into row 2
PER_SAMPLE3 = np.array([[[0, 1, 2], [0, 3, 0]]], np.int32)


def _segment(fn: str, data: np.ndarray, ids: np.ndarray, count: int) -> np.ndarray:
    rest = data.shape[ids.ndim:]
    rows, flat = data.reshape(-1, *rest), ids.reshape(-1)
    limits = np.finfo(data.dtype) if data.dtype.kind == "f" else np.iinfo(data.dtype)
    empty = {"sum": 0, "prod": 1, "max": limits.min, "min": limits.max}[fn]
    out = np.full((count, *rest), empty, data.dtype)
    for row, s in zip(rows, flat):
        out[s] = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}[fn](out[s], row)
    return out


def _scatter_per_sample(indices: np.ndarray, shape: list[int]) -> Any:
    def ref(u: np.ndarray) -> np.ndarray:
        out = np.zeros((len(u), *shape[1:]), u.dtype)
        depth = indices.shape[-1]
        for b in range(len(u)):
            for tup, row in zip(indices[0].reshape(-1, depth), u[b].reshape(-1, *shape[depth:])):
                out[(b, *tup[1:])] += row
        return out
    return ref


def _scatter(i: np.ndarray, u: np.ndarray, shape: list[int]) -> np.ndarray:
    out = np.zeros(shape, u.dtype)
    depth = i.shape[-1]
    for tup, row in zip(i.reshape(-1, depth), u.reshape(-1, *shape[depth:])):
        out[tuple(tup)] += row
    return out


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "scatter_nd": ("SCATTER_ND", (((3, 1), I32), (3, 5)), lambda i, u: tf.scatter_nd(i, u, [6, 5]),
                   lambda i, u: _scatter(i, u, [6, 5])),
    "scatter_nd_2d": ("SCATTER_ND", (((4, 2), I32), (4, 3)), lambda i, u: tf.scatter_nd(i, u, [5, 4, 3]),
                      lambda i, u: _scatter(i, u, [5, 4, 3])),
    "scatter_nd_per_sample": ("SCATTER_ND", ((3, 5),), lambda u: tf.scatter_nd(PER_SAMPLE, u, [1, 6, 5]),
                              _scatter_per_sample(PER_SAMPLE, [1, 6, 5])),
    "scatter_nd_per_sample_3": ("SCATTER_ND", ((2, 3),), lambda u: tf.scatter_nd(PER_SAMPLE3, u, [1, 4, 5, 3]),
                                _scatter_per_sample(PER_SAMPLE3, [1, 4, 5, 3])),
    "unsorted_segment_sum": ("UNSORTED_SEGMENT_SUM", ((7, 3), ((7,), I32)),
                             lambda x, i: tf.math.unsorted_segment_sum(x, i, 5), lambda x, i: _segment("sum", x, i, 5)),
    "unsorted_segment_max": ("UNSORTED_SEGMENT_MAX", ((7, 3), ((7,), I32)),
                             lambda x, i: tf.math.unsorted_segment_max(x, i, 5), lambda x, i: _segment("max", x, i, 5)),
    "unsorted_segment_min": ("UNSORTED_SEGMENT_MIN", ((3,), ((), I32)),
                             lambda x, i: tf.math.unsorted_segment_min(x, i, 6), lambda x, i: _segment("min", x, i, 6)),
    "unsorted_segment_prod": ("UNSORTED_SEGMENT_PROD", ((7, 3), ((7,), I32)),
                              lambda x, i: tf.math.unsorted_segment_prod(x + 1, i, 4),
                              lambda x, i: _segment("prod", x + 1, i, 4)),
    "unsorted_segment_max_int": ("UNSORTED_SEGMENT_MAX", (((7,), I32), ((7,), I32)),
                                 lambda x, i: tf.math.unsorted_segment_max(x, i, 5),
                                 lambda x, i: _segment("max", x, i, 5)),
}
#: Cases whose TFLite op cannot run at another batch (a constant fixes the batch at 1): per sample in Keras.
BATCH_1 = {"scatter_nd_per_sample", "scatter_nd_per_sample_3"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"scatter_nd": "ScatterND", "scatter_nd_per_sample": "ScatterND", "unsorted_segment_max": "UnsortedSegment"}


def _data(name: str, function_to_tflite: Any) -> bytes:
    case = CASES[name]
    return function_to_tflite(case[2], *case[1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    batches = (1,) if name in BATCH_1 else (1, 3)
    check_case(CASES[name], _data(name, function_to_tflite), tmp_path, RELOAD.get(name), batches)


def test_batch_1_cases_cannot_run_at_another_batch_in_tflite(function_to_tflite: Any) -> None:
    """The per-sample SCATTER_ND: TFLite cannot resize it, so a scatter per sample is the batch's only reading."""
    data = _data("scatter_nd_per_sample", function_to_tflite)
    with pytest.raises((t2k.errors.VerificationError, RuntimeError)):
        run(make_interpreter(t2k.read(data), batch=3), inputs(CASES["scatter_nd_per_sample"][1], 3, 0))


@pytest.mark.parametrize("opcode, specs, function, match", [
    ("SCATTER_ND", ((5,),), lambda u: tf.scatter_nd([[1]], u, [2, 5]), "batch axis"),
    ("UNSORTED_SEGMENT_SUM", ((5,),), lambda x: tf.math.unsorted_segment_sum(x, [0], 3), "batch axis"),
    ("SEGMENT_SUM", ((5,),), lambda x: tf.math.segment_sum(x, [0]), "no converter"),
])
def test_unsupported_forms_raise(opcode: str, specs: Any, function: Any, match: str, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, *specs)
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\({opcode}\)[^\n]*{match}"):
        t2k.convert(data)


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.ScatterND([4, 3], indices=[[1], [2]]), layers.ScatterND([4, 3]), layers.UnsortedSegment("prod", 3)]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    for bad in (lambda: layers.UnsortedSegment("mean", 2), lambda: layers.ScatterND([3], indices=[[3]])):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            bad()
