"""ops/index.py and ops/scatter.py: gathers, lookups, ONE_HOT, BUCKETIZE, SCATTER_ND and segment reductions
against the interpreter and numpy; and one case per layer class of this module and of test_reduce under JAX."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from oneop import Case, check_case, inputs

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run

SHAPE = (7, 9, 5)  # odd extents, all different
ONE = (SHAPE,)
I32 = "int32"
TABLE = np.linspace(-3, 3, 4 * 5, dtype=np.float32).reshape(4, 5)  # looked up by indices 0..3
TABLE3 = np.linspace(-1, 2, 4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)
TABLE443 = np.linspace(-2, 1, 4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
INT_TABLE = np.arange(4 * 3, dtype=np.int32).reshape(4, 3) * 7 - 20
BOUNDS = [-0.5, 0.0, 0.25, 0.7]
PER_SAMPLE = np.array([[[0, 2], [0, 4], [0, 2]]], np.int32)  # three updates of one sample, two into row 2
PER_SAMPLE3 = np.array([[[0, 1, 2], [0, 3, 0]]], np.int32)


def _one_hot(i: np.ndarray, depth: int, on: Any, off: Any, axis: int) -> np.ndarray:
    hot = np.moveaxis(i[..., None] == np.arange(depth), -1, axis)
    return np.where(hot, on, off)


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
    "gather_batch_dims": ("GATHER", (SHAPE, ((4,), I32)), lambda x, i: tf.gather(x, i, axis=2, batch_dims=1),
                          lambda x, i: np.stack([np.take(a, b, axis=1) for a, b in zip(x, i)])),
    "gather_batch_dims_2": ("GATHER", (SHAPE, ((7, 3), I32)), lambda x, i: tf.gather(x, i, axis=3, batch_dims=2),
                            lambda x, i: np.take_along_axis(x, i[:, :, None, :].repeat(9, 2), 3)),
    "gather_table_float": ("GATHER", (((6, 2), I32),), lambda i: tf.gather(TABLE, i), lambda i: TABLE[i]),
    "gather_table_rank3": ("GATHER", (((5,), I32),), lambda i: tf.gather(TABLE3, i), lambda i: TABLE3[i]),
    "gather_table_int": ("GATHER", (((5,), I32),), lambda i: tf.gather(INT_TABLE, i), lambda i: INT_TABLE[i]),
    "embedding_lookup": ("EMBEDDING_LOOKUP", (((), I32),), lambda i: tf.gather(TABLE, i), lambda i: TABLE[i]),
    "embedding_lookup_rank3": ("EMBEDDING_LOOKUP", (((), I32),), lambda i: tf.gather(TABLE3, i), lambda i: TABLE3[i]),
    "gather_nd": ("GATHER_ND", (((7, 1), I32),), lambda i: tf.gather_nd(TABLE, i), lambda i: TABLE[i[..., 0]]),
    "gather_nd_full": ("GATHER_ND", (((3, 6, 2), I32),), lambda i: tf.gather_nd(TABLE, i),
                       lambda i: TABLE[i[..., 0], i[..., 1]]),
    "gather_nd_rank3": ("GATHER_ND", (((6, 2), I32),), lambda i: tf.gather_nd(TABLE443, i),
                        lambda i: TABLE443[i[..., 0], i[..., 1]]),
    "one_hot_axis1": ("ONE_HOT", (((7,), I32),), lambda i: tf.one_hot(i, 5, 2.0, -1.0, axis=1),
                      lambda i: _one_hot(i, 5, 2.0, -1.0, 1).astype(np.float32)),
    "one_hot_last_int": ("ONE_HOT", (((7, 3), I32),), lambda i: tf.one_hot(i, 3, 7, -2, dtype=tf.int32),
                         lambda i: _one_hot(i, 3, 7, -2, -1).astype(np.int32)),  # index 3 is out of range: all off
    "bucketize": ("BUCKETIZE", ONE, lambda x: tf.raw_ops.Bucketize(input=x, boundaries=BOUNDS),
                  lambda x: np.digitize(x, BOUNDS).astype(np.int32)),
    "bucketize_int": ("BUCKETIZE", (((7, 9), I32),),
                      lambda i: tf.raw_ops.Bucketize(input=i, boundaries=[0.5, 2.0, 2.5]),
                      lambda i: np.digitize(i, [0.5, 2.0, 2.5]).astype(np.int32)),
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
RELOAD = {"gather_batch_dims_2": "BatchGather", "gather_table_int": "Gather", "gather_table_float": "Gather",
          "embedding_lookup": "Embedding", "gather_nd_rank3": "GatherND", "one_hot_axis1": "OneHot",
          "bucketize": "Bucketize", "scatter_nd": "ScatterND", "scatter_nd_per_sample": "ScatterND",
          "unsorted_segment_max": "UnsortedSegment"}
#: The GATHER each of these cases traces is written as EMBEDDING_LOOKUP (TF lowers embedding_lookup to GATHER).
AS_EMBEDDING_LOOKUP = {"embedding_lookup", "embedding_lookup_rank3"}


def as_embedding_lookup(data: bytes) -> bytes:
    """The one-op file's GATHER(table, ids) rewritten as EMBEDDING_LOOKUP(ids, table)."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    (op,) = model.subgraphs[0].operators
    code = model.operatorCodes[op.opcodeIndex]
    assert code.builtinCode == schema.BuiltinOperator.GATHER
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.EMBEDDING_LOOKUP
    op.inputs = [op.inputs[1], op.inputs[0]]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.NONE, None
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _data(name: str, function_to_tflite: Any) -> bytes:
    case = CASES[name]
    data = function_to_tflite(case[2], *case[1])
    return as_embedding_lookup(data) if name in AS_EMBEDDING_LOOKUP else data


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    batches = (1,) if name in BATCH_1 else (1, 3)
    check_case(CASES[name], _data(name, function_to_tflite), tmp_path, RELOAD.get(name), batches)


def test_batch_1_cases_cannot_run_at_another_batch_in_tflite(function_to_tflite: Any) -> None:
    """The per-sample SCATTER_ND: TFLite cannot resize it, so a scatter per sample is the batch's only reading."""
    data = _data("scatter_nd_per_sample", function_to_tflite)
    with pytest.raises((t2k.errors.VerificationError, RuntimeError)):
        run(make_interpreter(t2k.read(data), batch=3), inputs(CASES["scatter_nd_per_sample"][1], 3, 0))


def test_float_tables_are_trainable_and_integer_tables_fixed(function_to_tflite: Any) -> None:
    for name, trainable in (("gather_table_float", 1), ("gather_nd_rank3", 1), ("embedding_lookup", 1),
                            ("gather_table_int", 0)):
        model = t2k.convert(_data(name, function_to_tflite))
        assert len(model.trainable_weights) == trainable and len(model.weights) == 1, name
        assert model.weights[0].name == "embeddings"


@pytest.mark.parametrize("opcode, specs, function, match", [
    ("GATHER", (SHAPE, ((9,), I32)), lambda x, i: tf.gather(x, i, axis=2), "constant indices or a constant table"),
    ("GATHER", ONE, lambda x: tf.gather(x, [[1, 2]], axis=2, batch_dims=1), "batch_dims 1"),
    ("GATHER", (((3,), I32),), lambda i: tf.gather(TABLE, i, axis=1), "axis 1"),
    ("GATHER_ND", ONE, lambda x: tf.gather_nd(x, [[0, 1]]), "batch axis"),
    ("ONE_HOT", (((7,), I32),), lambda i: tf.one_hot(i, 5, axis=0), "batch axis"),
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

    made = [layers.Gather(table_shape=(4, 3), table_dtype="int32"), layers.Gather([[1, 0]], 2),
            layers.BatchGather(3, 2),
            layers.GatherND((4, 5)), layers.OneHot(4, 1, 0, axis=1, value_dtype="int32"), layers.Bucketize([0.5, 1]),
            layers.ScatterND([4, 3], indices=[[1], [2]]), layers.ScatterND([4, 3]), layers.UnsortedSegment("prod", 3)]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    for bad in (lambda: layers.Bucketize([1.0, 0.0]), lambda: layers.UnsortedSegment("mean", 2),
                lambda: layers.ScatterND([3], indices=[[3]]), lambda: layers.Gather([1], axis=1, table_shape=(2,)),
                lambda: layers.Gather(table_shape=(2,), table_dtype="bool"), lambda: layers.BatchGather(1, 2),
                lambda: layers.OneHot(3, axis=0)):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            bad()


JAX_CHILD = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run
from oneop import inputs

failed = []
for name, case in json.load(open(sys.argv[1])).items():
    data, specs = open(case["path"], "rb").read(), [tuple(s) for s in case["specs"]]
    tfl, model = t2k.read(data), t2k.convert(data)
    for batch in case["batches"]:
        feed = inputs(specs, batch, batch)
        got = [np.asarray(g) for g in keras.tree.flatten(model(feed if len(feed) > 1 else feed[0]))]
        for g, w in zip(got, run(make_interpreter(tfl, batch=batch), feed)[0]):
            bound = 1e-4 + 1e-5 * float(np.max(np.abs(w), initial=0))
            if g.shape != w.shape or float(np.max(np.abs(g.astype("float64") - w), initial=0)) > bound:
                failed.append([name, batch, "values"])
            elif g.dtype != w.dtype:
                failed.append([name, batch, f"{g.dtype} for {w.dtype}"])
print("FAILED " + json.dumps(failed))
"""
#: Cases with int64 outputs: JAX without x64 computes int64 as int32, so only their values are compared there.
INT64 = {"arg_min_int64"}


#: Besides one case per layer class (the RELOAD cases), these run under JAX too.
JAX_TOO = {"mean_int", "arg_max_int", "topk_ties", "gather_batch_dims", "scatter_nd_per_sample_3",
           "unsorted_segment_prod", "unsorted_segment_min"}


def test_layers_run_under_jax(function_to_tflite: Any, tmp_path: Path) -> None:
    """One case per layer class of this module and of test_reduce (and :data:`JAX_TOO`), converted and run
    under KERAS_BACKEND=jax in a child process."""
    import test_reduce

    cases = {}
    for module, data_of in ((test_reduce, None), (sys.modules[__name__], _data)):
        for name, case in module.CASES.items():
            if name not in module.RELOAD and name not in JAX_TOO:
                continue
            data = data_of(name, function_to_tflite) if data_of else function_to_tflite(case[2], *case[1])
            (tmp_path / f"{name}.tflite").write_bytes(data)
            cases[name] = {"path": str(tmp_path / f"{name}.tflite"), "specs": case[1],
                           "batches": [1] if name in BATCH_1 else [1, 3]}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=os.pathsep.join(
        [str(Path(t2k.__file__).resolve().parents[1]), str(Path(__file__).parents[1])]))
    done = subprocess.run([sys.executable, "-c", JAX_CHILD, str(tmp_path / "cases.json")], capture_output=True,
                          text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    failed = json.loads(done.stdout.rsplit("FAILED ", 1)[1])
    assert [f for f in failed if not (f[0] in INT64 and f[2] == "int32 for int64")] == []
