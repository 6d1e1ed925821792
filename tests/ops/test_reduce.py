"""ops/reduce.py: reductions, arg-reductions, CUMSUM, TOPK_V2 and PACK against the interpreter and numpy, and the
folds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import flatbuffers
import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from oneop import Case, check_case, inputs, model_case, tflite_of

import tflite2keras as t2k
from tflite2keras.ops import reduce as reduce_ops
from tflite2keras.ops import registry
from tflite2keras.verification.reference import make_interpreter, run

SHAPE = (7, 9, 5)  # odd extents, all different
ONE = (SHAPE,)
I32 = "int32"


def _halves(x: Any) -> Any:  # few distinct values, so that ties show
    return np.floor(x * 2) if isinstance(x, np.ndarray) else tf.floor(x * 2)


def _ints(x: Any) -> Any:  # integers in [-4, 3], negative ones too
    return (x * 4).astype(np.int32) if isinstance(x, np.ndarray) else tf.cast(x * 4, tf.int32)


def _cumsum(x: np.ndarray, axis: int, exclusive: bool = False, reverse: bool = False) -> np.ndarray:
    y = np.flip(x, axis) if reverse else x
    out = np.cumsum(y, axis) - (y if exclusive else 0)
    return np.flip(out, axis) if reverse else out


def _top_k(x: np.ndarray, k: int) -> list[np.ndarray]:
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return [np.take_along_axis(x, order, -1), order.astype(np.int32)]


#: id -> (opcode under test, input shapes, TF function, numpy reference), or a Keras-model case (model_case).
CASES: dict[str, Case] = {
    "mean_global_average_pooling_layer": model_case("MEAN", lambda: keras.layers.GlobalAveragePooling2D()),
    "mean_spatial": ("MEAN", ONE, lambda x: tf.reduce_mean(x, [1, 2]), lambda x: x.mean((1, 2))),
    "mean_spatial_keep": ("MEAN", ONE, lambda x: tf.reduce_mean(x, [1, 2], keepdims=True),
                          lambda x: x.mean((1, 2), keepdims=True)),
    "mean_steps": ("MEAN", ((9, 5),), lambda x: tf.reduce_mean(x, 1), lambda x: x.mean(1)),
    "mean_last_keep": ("MEAN", ONE, lambda x: tf.reduce_mean(x, -1, keepdims=True),
                       lambda x: x.mean(-1, keepdims=True)),
    "mean_last": ("MEAN", ((9, 5),), lambda x: tf.reduce_mean(x, -1), lambda x: x.mean(-1)),
    "mean_1_3": ("MEAN", ONE, lambda x: tf.reduce_mean(x, [1, 3]), lambda x: x.mean((1, 3))),
    "mean_int": ("MEAN", ONE, lambda x: tf.reduce_mean(_ints(x), -1),
                 lambda x: np.trunc(_ints(x).sum(-1) / 5).astype(np.int32)),
    "reduce_any": ("REDUCE_ANY", ONE, lambda x: tf.reduce_any(x > 0.8, [2]), lambda x: (x > 0.8).any(2)),
    "reduce_all_keep": ("REDUCE_ALL", ONE, lambda x: tf.reduce_all(x > -0.9, [1, 3], keepdims=True),
                        lambda x: (x > -0.9).all((1, 3), keepdims=True)),
    "arg_max": ("ARG_MAX", ONE, lambda x: tf.argmax(_halves(x), 2, output_type=tf.int32),
                lambda x: _halves(x).argmax(2).astype(np.int32)),
    "arg_min_int64": ("ARG_MIN", ONE, lambda x: tf.argmin(_halves(x), -1, output_type=tf.int64),
                      lambda x: _halves(x).argmin(-1)),
    "arg_max_int": ("ARG_MAX", (((7, 9), I32),), lambda i: tf.argmax(i, 1, output_type=tf.int32),
                    lambda i: i.argmax(1).astype(np.int32)),
    "cumsum": ("CUMSUM", ONE, lambda x: tf.math.cumsum(x, 2), lambda x: _cumsum(x, 2)),
    "cumsum_exclusive": ("CUMSUM", ONE, lambda x: tf.math.cumsum(x, 1, exclusive=True),
                         lambda x: _cumsum(x, 1, exclusive=True)),
    "cumsum_reverse": ("CUMSUM", ONE, lambda x: tf.math.cumsum(x, -1, reverse=True),
                       lambda x: _cumsum(x, 3, reverse=True)),
    "cumsum_exclusive_reverse": ("CUMSUM", ONE, lambda x: tf.math.cumsum(x, 3, exclusive=True, reverse=True),
                                 lambda x: _cumsum(x, 3, exclusive=True, reverse=True)),
    "topk": ("TOPK_V2", ONE, lambda x: tf.math.top_k(x, 3), lambda x: _top_k(x, 3)),
    "topk_ties": ("TOPK_V2", ((9, 11),), lambda x: tf.math.top_k(_halves(x), 6), lambda x: _top_k(_halves(x), 6)),
    "reduce_max_keep": ("REDUCE_MAX", ONE, lambda x: tf.reduce_max(x, [1, 3], keepdims=True),
                        lambda x: x.max((1, 3), keepdims=True)),
    "reduce_max_spatial": ("REDUCE_MAX", ONE, lambda x: tf.reduce_max(x, [1, 2]), lambda x: x.max((1, 2))),
    "reduce_min": ("REDUCE_MIN", ONE, lambda x: tf.reduce_min(x, -1), lambda x: x.min(-1)),
    "sum": ("SUM", ONE, lambda x: tf.reduce_sum(x, 2), lambda x: x.sum(2)),
    "sum_keep_all": ("SUM", ONE, lambda x: tf.reduce_sum(x, [1, 2, 3], keepdims=True),
                     lambda x: x.sum((1, 2, 3), keepdims=True)),
    "reduce_prod": ("REDUCE_PROD", ONE, lambda x: tf.reduce_prod(x + 1, 2), lambda x: (x + 1).prod(2)),
    "pack": ("PACK", (SHAPE, SHAPE), lambda x, y: tf.stack([x, y], axis=2), lambda x, y: np.stack([x, y], 2)),
    "pack_last": ("PACK", (SHAPE,) * 3, lambda x, y, z: tf.stack([x, y, z], axis=-1),
                  lambda x, y, z: np.stack([x, y, z], -1)),
    "pack_axis1": ("PACK", (SHAPE, SHAPE), lambda x, y: tf.stack([x, y], axis=1), lambda x, y: np.stack([x, y], 1)),
}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"mean_last_keep": "Reduce", "mean_spatial": "GlobalAveragePooling2D", "mean_steps": "GlobalAveragePooling1D",
          "reduce_any": "Reduce", "arg_min_int64": "ArgReduce", "cumsum_exclusive_reverse": "CumSum", "topk": "TopK",
          "sum_keep_all": "Reduce", "reduce_max_spatial": "GlobalMaxPooling2D", "pack_last": "Pack"}


def test_every_op_of_the_module_has_a_case() -> None:
    assert {*reduce_ops.REDUCE_OPS, "PACK"} <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    check_case(case, tflite_of(case, function_to_tflite), tmp_path, RELOAD.get(name))


@pytest.mark.parametrize("opcode, specs, function", [
    ("MEAN", ONE, lambda x: tf.reduce_mean(x, [0, 1])),
    ("REDUCE_ANY", ONE, lambda x: tf.reduce_any(x > 0, 0)),
    ("ARG_MAX", ONE, lambda x: tf.argmax(x, 0)),
    ("TOPK_V2", ((),), lambda x: tf.math.top_k(x, 1)),
    ("REDUCE_MAX", ONE, lambda x: tf.reduce_max(x, [0, 2])),
    ("SUM", ONE, lambda x: tf.reduce_sum(x)),
    ("PACK", ONE, lambda x: tf.stack([x, x * 2], axis=0)),
])
def test_batch_axis_is_unsupported(opcode: str, specs: Any, function: Any, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, *specs)
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\({opcode}\).*batch axis"):
        t2k.convert(data)


#: Rows where the first extreme is a signed zero, or ties with one; the interpreter returns the first index.
SIGNED_ZEROS = np.array([[-0.0, -1, -1, 0.0, -1], [0.0, -0.0, -1, -1, -2], [1, -0.0, 0.0, 2, 2],
                         [-1, 0.0, -0.0, 0.0, -1], [3, -0.0, 1, 0.0, 3]], np.float32)


@pytest.mark.parametrize("fn", ["argmax", "argmin"])
def test_arg_reduce_signed_zeros_give_the_first_index(fn: str, function_to_tflite: Any) -> None:
    """TFLite finds -0.0 and +0.0 equal and returns the first; tf.argmax ranks +0.0 above -0.0."""
    function = getattr(tf.math, fn)
    data = function_to_tflite(lambda x: function(x, axis=1, output_type=tf.int32), (5,))
    interpreter = make_interpreter(t2k.read(data))
    model = t2k.convert(data)
    want = [int(run(interpreter, [row[None]])[0][0][0]) for row in SIGNED_ZEROS]
    got = [int(np.asarray(model(row[None]))[0]) for row in SIGNED_ZEROS]
    assert got == want
    if fn == "argmax":
        assert want[0] == 0 and want[3] == 1
    # the same layer under JAX (jit-compiled, where XLA may rewrite x + 0.0 and argmax differs again)
    import json
    import os
    import subprocess
    import sys

    code = (f"import json, jax, numpy as np\nfrom tflite2keras.layers import ArgReduce\n"
            f"x = np.array({SIGNED_ZEROS.tolist()!r}, 'float32')\n"
            f"print(json.dumps(np.asarray(jax.jit(ArgReduce({fn!r}, axis=1))(x)).tolist()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, KERAS_BACKEND="jax"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == want


def with_constant(data: bytes, slot: int, value: np.ndarray) -> bytes:
    """The one-op file with the constant of its op's input ``slot`` replaced by ``value``."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.operators[0].inputs[slot]]
    model.buffers[tensor.buffer].data = np.ascontiguousarray(value).view(np.uint8).ravel()
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_cumsum_over_the_batch_axis_raises(function_to_tflite: Any) -> None:
    """TF drops a CUMSUM over a batch of 1, so the file's axis is rewritten to 0."""
    data = with_constant(function_to_tflite(lambda x: tf.math.cumsum(x, 1), SHAPE), 1, np.array(0, np.int32))
    tfl = t2k.read(data)
    assert tfl.operators[0].opcode == "CUMSUM" and tfl.constant(tfl.operators[0].inputs[1]).tolist() == 0
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(CUMSUM\) with axis 0 works on the batch axis"):
        t2k.convert(data)


#: id -> (opcode, input specs, TF function): integer shape arithmetic, folded in numpy and run by the interpreter.
FOLDS: dict[str, tuple[str, tuple[Any, ...], Any]] = {
    "gather": ("GATHER", (((4,), I32), ((3,), I32)), lambda p, i: tf.gather(p[0], i[0])),
    "gather_batch_dims": ("GATHER", (((3, 4), I32), ((2,), I32)), lambda p, i: tf.gather(p, i, axis=2, batch_dims=1)),
    "pack": ("PACK", (((3,), I32), ((3,), I32)), lambda a, b: tf.stack([a, b], axis=-1)),
    "prod": ("REDUCE_PROD", (((3, 4), I32),), lambda x: tf.reduce_prod(x - 1, [1])),
    "sum": ("SUM", (((3, 4), I32),), lambda x: tf.reduce_sum(x, [1, 2], keepdims=True)),
    "max": ("REDUCE_MAX", (((3, 4), I32),), lambda x: tf.reduce_max(x, -1)),
    "min": ("REDUCE_MIN", (((3, 4), I32),), lambda x: tf.reduce_min(x, [0, 2])),
    "mean": ("MEAN", (((3, 4), I32),), lambda x: tf.reduce_mean(x * 3 - 5, -1)),
    "mean_float": ("MEAN", ((3, 4),), lambda x: tf.reduce_mean(x, [1])),
    "arg_max": ("ARG_MAX", (((3, 4), I32),), lambda x: tf.argmax(x, 2, output_type=tf.int32)),
    "arg_min": ("ARG_MIN", (((3, 4), I32),), lambda x: tf.argmin(x, 1)),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_matches_interpreter(name: str, function_to_tflite: Any) -> None:
    """Against TFLite's own kernels (XNNPACK's float MEAN multiplies by the reciprocal instead)."""
    opcode, specs, function = FOLDS[name]
    tfl = t2k.read(function_to_tflite(function, *specs))
    (op,) = [op for op in tfl.operators if op.opcode == opcode]
    interpreter = make_interpreter(tfl, kernels="builtin", preserve=True)
    _, seen = run(interpreter, inputs(specs, 1, 3), tensors=[*op.inputs, *op.outputs])
    got = registry.get(opcode).fold(op, [tfl.constant(t) if tfl.is_constant(t) else seen[t] for t in op.inputs])
    want = [seen[t] for t in op.outputs]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_array_equal(g, w)


def test_folds_keep_integer_semantics() -> None:
    def fold(opcode: str, values: list[Any], **options: Any) -> np.ndarray:
        op = SimpleNamespace(index=0, opcode=opcode, options=options)
        return registry.get(opcode).fold(op, [np.asarray(v) for v in values])[0]

    shape = np.array([2, 7, 9, 5], np.int32)
    assert fold("REDUCE_PROD", [shape[1:], [0]]).tolist() == 315
    assert fold("GATHER", [shape, [3, 1]], axis=0).tolist() == [5, 7]
    assert fold("PACK", [np.int32(2), np.int32(-1)], axis=0).tolist() == [2, -1]
    assert fold("MEAN", [np.array([-7, 2], np.int32), [0]]).tolist() == -2  # truncated toward zero
    assert fold("SUM", [np.array([2 ** 31 - 1, 1], np.int32), [0]]).tolist() == -2 ** 31  # wraps as int32
    assert fold("ARG_MIN", [np.array([3, 1, 1], np.int32), [0]], output_type="INT32").tolist() == 1
    assert fold("REDUCE_MAX", [np.zeros((0, 2), np.int32), [0]]).tolist() == [-2 ** 31] * 2  # TFLite's start
    with pytest.raises(t2k.errors.InvalidModelError, match="GATHER"):
        fold("GATHER", [shape, [4]], axis=0)
    with pytest.raises(t2k.errors.InvalidModelError, match="SUM"):
        fold("SUM", [shape, [1]])


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.Reduce("any", [1, 2]), layers.Reduce("mean", [3], True), layers.ArgReduce("argmin", 2, "int64"),
            layers.CumSum(1, True, True), layers.TopK(3), layers.Reduce("prod", [2], True), layers.Pack(1)]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    for bad in (lambda: layers.Reduce("median", [1]), lambda: layers.ArgReduce("argmax", 0),
                lambda: layers.ArgReduce("argmax", 1, "float32"), lambda: layers.CumSum(0), lambda: layers.TopK(-1)):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            bad()


# -- PACK of tensors and a constant ----------------------------------------------------------

#: The input shape (batch excluded) of the PACK-with-a-constant tests.
ROW = (6, 4)


def test_pack_of_tensors_and_a_uniform_constant(function_to_tflite: Any) -> None:
    """``stack([x, y, ones])`` in a batch-1 file: the constant becomes a Fill of the batch."""
    data = function_to_tflite(lambda x: tf.stack([x[:, :, 0], x[:, :, 1], tf.ones_like(x[:, :, 0])], axis=2), ROW)
    tfl = t2k.read(data)
    pack = next(op for op in tfl.operators if op.opcode == "PACK")
    assert any(tfl.is_constant(t) for t in pack.inputs)
    model = t2k.convert(data)
    assert t2k.verify(model, data, samples=2).ok
    sample = np.random.default_rng(0).uniform(-1, 1, (3, *ROW)).astype(np.float32)
    want = np.stack([sample[:, :, 0], sample[:, :, 1], np.ones_like(sample[:, :, 0])], axis=2)
    np.testing.assert_array_equal(np.asarray(model(sample)), want)


def test_pack_with_a_constant_of_several_values_raises(function_to_tflite: Any) -> None:
    ramp = np.arange(6, dtype=np.float32).reshape(1, 6)
    data = function_to_tflite(lambda x: tf.stack([x[:, :, 0], tf.constant(ramp)], axis=2), ROW)
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(PACK\) constant input 1 .*expected one value"):
        t2k.convert(data)
