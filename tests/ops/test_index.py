"""ops/index.py: GATHER, GATHER_ND, EMBEDDING_LOOKUP, ONE_HOT and BUCKETIZE against the interpreter and numpy;
and one case per layer class of this module, of test_scatter and of test_reduce under JAX."""

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
from oneop import Case, check_case

import tflite2keras as t2k

SHAPE = (7, 9, 5)  # odd extents, all different
ONE = (SHAPE,)
I32 = "int32"
TABLE = np.linspace(-3, 3, 4 * 5, dtype=np.float32).reshape(4, 5)  # looked up by indices 0..3
TABLE3 = np.linspace(-1, 2, 4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)
TABLE443 = np.linspace(-2, 1, 4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
INT_TABLE = np.arange(4 * 3, dtype=np.int32).reshape(4, 3) * 7 - 20
GATHER_TABLE = np.linspace(-3, 3, 4 * 3, dtype=np.float32).reshape(4, 3)  # looked up by indices 0..3
BOUNDS = [-0.5, 0.0, 0.25, 0.7]


def _one_hot(i: np.ndarray, depth: int, on: Any, off: Any, axis: int) -> np.ndarray:
    hot = np.moveaxis(i[..., None] == np.arange(depth), -1, axis)
    return np.where(hot, on, off)


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
    "gather": ("GATHER", ONE, lambda x: tf.gather(x, [4, 0, 2, 2], axis=3), lambda x: x[..., [4, 0, 2, 2]]),
    "gather_2d_indices": ("GATHER", ONE, lambda x: tf.gather(x, [[8, 0], [1, 2], [3, 3]], axis=-2),
                          lambda x: np.take(x, [[8, 0], [1, 2], [3, 3]], axis=2)),
    "gather_axis1": ("GATHER", ONE, lambda x: tf.gather(x, [6, 1], axis=1), lambda x: x[:, [6, 1]]),
    "gather_table": ("GATHER", ONE, lambda x: tf.gather(GATHER_TABLE, tf.cast((x + 1) * 2, tf.int32)),
                     lambda x: GATHER_TABLE[((x + 1) * 2).astype(np.int32)]),
}
#: Cases whose TFLite op cannot run at another batch (none here; test_scatter.py has some).
BATCH_1: set[str] = set()
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"gather_batch_dims_2": "BatchGather", "gather_table_int": "Gather", "gather_table_float": "Gather",
          "embedding_lookup": "Embedding", "gather_nd_rank3": "GatherND", "one_hot_axis1": "OneHot",
          "bucketize": "Bucketize", "gather_table": "Gather"}
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
    ("GATHER", ONE, lambda x: tf.gather(x, [0, 0], axis=0), "batch axis"),
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
            layers.GatherND((4, 5)), layers.OneHot(4, 1, 0, axis=1, value_dtype="int32"), layers.Bucketize([0.5, 1])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    for bad in (lambda: layers.Bucketize([1.0, 0.0]), lambda: layers.Gather([1], axis=1, table_shape=(2,)),
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
    """One case per layer class of this module, of test_scatter and of test_reduce (and :data:`JAX_TOO`), converted
    and run under KERAS_BACKEND=jax in a child process."""
    import test_reduce
    import test_scatter

    cases = {}
    for module, data_of in ((test_reduce, None), (test_scatter, None), (sys.modules[__name__], _data)):
        for name, case in module.CASES.items():
            if name not in module.RELOAD and name not in JAX_TOO:
                continue
            data = data_of(name, function_to_tflite) if data_of else function_to_tflite(case[2], *case[1])
            (tmp_path / f"{name}.tflite").write_bytes(data)
            cases[name] = {"path": str(tmp_path / f"{name}.tflite"), "specs": case[1],
                           "batches": [1] if name in getattr(module, "BATCH_1", ()) else [1, 3]}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=os.pathsep.join(
        [str(Path(t2k.__file__).resolve().parents[1]), str(Path(__file__).parents[1])]))
    done = subprocess.run([sys.executable, "-c", JAX_CHILD, str(tmp_path / "cases.json")], capture_output=True,
                          text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    failed = json.loads(done.stdout.rsplit("FAILED ", 1)[1])
    assert [f for f in failed if not (f[0] in INT64 and f[2] == "int32 for int64")] == []
