"""Every op with an ``OpSpec.fold`` folds when its input is batch-dependent shape arithmetic.

Each case is a TF function of one float32 input of a free batch, converted by TF's converter
(or, for ops that converter rewrites away, a file built op by op), in which the op under test
reads a value that follows the batch (``tf.shape(x)`` and what is computed from it) and feeds a
RESHAPE target. The converted model must match the interpreter at batch 1 and 3, and
:func:`test_every_fold_has_a_case` fails for a fold without a case. The folds added for issue 20
are also compared with the interpreter on random values, one op at a time. (test_reduce.py holds
PACK's cases, a PACK of tensors and a constant among them.)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.ops import fold as shapes
from tflite2keras.ops import registry

#: The shape (batch excluded) of every case's input: 24 elements a row.
ROW = (6, 4)
#: Batch sizes each converted model is verified at against the (resized) interpreter.
VERIFY_BATCHES = (1, 3)
I32, F32 = tf.int32, tf.float32


def _b(x: Any) -> Any:
    return tf.shape(x)[0]


def _rows(rows: Callable[[Any], Any], width: int = 24) -> Callable[[Any], Any]:
    """``x`` reshaped to ``[rows(x), width]`` (``rows`` computed from the batch), times 2."""
    return lambda x: tf.reshape(x, tf.stack([rows(x), width])) * 2.0


def _target(target: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``x`` reshaped to the target vector ``target(x)``, times 2."""
    return lambda x: tf.reshape(x, target(x)) * 2.0


def _where(cond: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Rows ``b`` picked by a condition that differs between batch 2 and 3 (else ``min(b, 2)``, also b)."""
    return _rows(lambda x: tf.where(cond(_b(x)), _b(x), tf.minimum(_b(x), 2)))


#: id -> (opcode under test, TF function of x of shape (batch, *ROW)).
FOLDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "shape": ("SHAPE", _target(lambda x: tf.concat([tf.shape(x)[:1], [24]], 0))),
    "strided_slice": ("STRIDED_SLICE", _rows(_b)),
    "pack_with_a_constant": ("PACK", _rows(_b)),
    "concatenation": ("CONCATENATION", _target(lambda x: tf.concat([tf.shape(x)[:1], [24]], 0))),
    "gather": ("GATHER", _target(lambda x: tf.concat([tf.gather(tf.shape(x), [0]), [24]], 0))),
    "gather_nd": ("GATHER_ND", _target(lambda x: tf.concat([tf.gather_nd(tf.shape(x), [[0]]), [24]], 0))),
    "slice": ("SLICE", _target(lambda x: tf.concat([tf.slice(tf.shape(x), [0], [1]), [24]], 0))),
    "split": ("SPLIT", _target(lambda x: tf.concat([tf.split(tf.shape(x), 3)[0], [24]], 0))),
    "split_v": ("SPLIT_V", _target(lambda x: (lambda p: tf.concat([p[0], [tf.reduce_prod(p[1])]], 0))(
        tf.split(tf.shape(x), [1, 2])))),
    "unpack": ("UNPACK", _target(lambda x: (lambda u: tf.stack([u[0], u[1] * u[2]]))(tf.unstack(tf.shape(x))))),
    "reshape_to_a_scalar": ("RESHAPE", _rows(lambda x: tf.reshape(tf.shape(x)[:1], []))),
    "transpose": ("TRANSPOSE", _target(lambda x: tf.transpose(tf.reshape(tf.tile(tf.shape(x), [2]), [2, 3]))[:, 0])),
    "tile": ("TILE", _rows(lambda x: tf.reduce_min(tf.tile(tf.shape(x)[:1], [2])))),
    "broadcast_to": ("BROADCAST_TO", _rows(lambda x: tf.reduce_min(tf.broadcast_to(_b(x), [2])))),
    "broadcast_args": ("BROADCAST_ARGS", _target(lambda x: tf.broadcast_dynamic_shape(tf.shape(x), [1, 6, 4]))),
    "fill": ("FILL", _target(lambda x: tf.concat([tf.fill([1], _b(x) * 6), [4]], 0))),
    "range": ("RANGE", _target(lambda x: tf.concat([tf.reshape(tf.range(_b(x), _b(x) + 1), [1]), [24]], 0))),
    "cast": ("CAST", _rows(lambda x: tf.cast(tf.cast(_b(x), F32) * 2.0, I32), 12)),
    "add": ("ADD", _rows(lambda x: _b(x) + _b(x), 12)),
    "sub": ("SUB", _rows(lambda x: _b(x) * 3 - _b(x), 12)),
    "mul": ("MUL", _rows(lambda x: _b(x) * 6, 4)),
    "div": ("DIV", _rows(lambda x: tf.cast(tf.cast(_b(x) * _b(x) * 12, F32) / tf.cast(_b(x) * 2, F32), I32), 4)),
    "floor_div": ("FLOOR_DIV", _rows(lambda x: (_b(x) * 12) // 2, 4)),
    "floor_mod": ("FLOOR_MOD", _rows(lambda x: (_b(x) * 7) % (_b(x) * 6))),
    "maximum": ("MAXIMUM", _rows(lambda x: tf.maximum(_b(x), 1))),
    "minimum": ("MINIMUM", _rows(lambda x: tf.minimum(_b(x), 1000))),
    "reduce_prod": ("REDUCE_PROD", _rows(lambda x: tf.reduce_prod(tf.shape(x)) // 4, 4)),
    "sum": ("SUM", _rows(lambda x: tf.reduce_sum(tf.shape(x)) - 10)),
    "mean": ("MEAN", _rows(lambda x: tf.reduce_mean(tf.stack([_b(x), _b(x)])))),
    "reduce_max": ("REDUCE_MAX", _rows(lambda x: tf.reduce_max(tf.stack([_b(x), 1])))),
    "reduce_min": ("REDUCE_MIN", _rows(lambda x: tf.reduce_min(tf.stack([_b(x), 1000])))),
    "reduce_any": ("REDUCE_ANY", _where(lambda b: tf.reduce_any(tf.stack([b > 2, b < 0])))),
    "reduce_all": ("REDUCE_ALL", _where(lambda b: tf.reduce_all(tf.stack([b > 2, b < 1000])))),
    "arg_max": ("ARG_MAX", _rows(lambda x: tf.gather(tf.shape(x), tf.cast(tf.argmax(tf.stack([0, _b(x)])), I32) - 1))),
    "arg_min": ("ARG_MIN", _rows(lambda x: tf.gather(tf.shape(x), tf.cast(tf.argmin(tf.stack([_b(x), 0])), I32) - 1))),
    "floor": ("FLOOR", _rows(lambda x: tf.cast(tf.floor(tf.cast(_b(x) * 6, F32) + 0.5), I32), 4)),
    "ceil": ("CEIL", _rows(lambda x: tf.cast(tf.math.ceil(tf.cast(_b(x) * 6, F32) - 0.5), I32), 4)),
    "round": ("ROUND", _rows(lambda x: tf.cast(tf.round(tf.cast(_b(x) * 6, F32) + 0.25), I32), 4)),
    "neg": ("NEG", _rows(lambda x: -tf.reduce_max(tf.stack([-_b(x), -1000])))),
    "abs": ("ABS", _rows(lambda x: tf.abs(1 - _b(x) * 2) + 1, 12)),
    "sign": ("SIGN", _rows(lambda x: _b(x) * tf.sign(_b(x)))),
    "less": ("LESS", _rows(lambda x: tf.where(_b(x) < 3, tf.minimum(_b(x), 2), _b(x)))),
    "less_equal": ("LESS_EQUAL", _rows(lambda x: tf.where(_b(x) <= 2, tf.minimum(_b(x), 2), _b(x)))),
    "greater": ("GREATER", _where(lambda b: b > 2)),
    "greater_equal": ("GREATER_EQUAL", _where(lambda b: b >= 3)),
    "equal": ("EQUAL", _rows(lambda x: tf.where(tf.equal(_b(x), 2), 2, _b(x)))),
    "not_equal": ("NOT_EQUAL", _where(lambda b: tf.not_equal(b, 2))),
    "logical_and": ("LOGICAL_AND", _where(lambda b: tf.logical_and(b > 2, b < 1000))),
    "logical_or": ("LOGICAL_OR", _where(lambda b: tf.logical_or(b > 2, b < 0))),
    "select": ("SELECT", _where(lambda b: b > 2)),
    "select_v2": ("SELECT_V2", _rows(lambda x: tf.reduce_min(
        tf.where(_b(x) > 2, tf.stack([_b(x), _b(x)]), tf.minimum(_b(x), 2))))),
}


Step = tuple[str, list[Any], tuple[str, tuple[int, ...], str], Any]
_SHAPE: Step = ("SHAPE", ["x"], ("s", (3,), "int32"), ("ShapeOptions", {"outType": 2}))
_RESHAPE: Step = ("RESHAPE", ["x", "t"], ("y", (1, *ROW), "float32"), None)
_INT = np.int32
#: id -> (opcode under test, the steps of a file built op by op: ops TF's converter rewrites away).
#: A step is (opcode, inputs: tensor names or constant arrays, (output name, shape, dtype),
#: (options table, fields) or None); ``x`` is the input (free batch), ``y`` the output.
BUILT: dict[str, tuple[str, list[Step]]] = {
    "squeeze": ("SQUEEZE", [_SHAPE, ("RESHAPE", ["s", np.array([3, 1], _INT)], ("s2", (3, 1), "int32"), None),
                            ("SQUEEZE", ["s2"], ("t", (3,), "int32"), ("SqueezeOptions", {"squeezeDims": [1]})),
                            _RESHAPE]),
    "zeros_like": ("ZEROS_LIKE", [_SHAPE, ("ZEROS_LIKE", ["s"], ("z", (3,), "int32"), None),
                                  ("ADD", ["z", "s"], ("t", (3,), "int32"), None), _RESHAPE]),
    "reshape_to_an_empty_constant": ("RESHAPE", [  # the target [] of a scalar: a constant of shape [0]
        _SHAPE, ("SLICE", ["s", np.array([0], _INT), np.array([1], _INT)], ("s0", (1,), "int32"), None),
        ("RESHAPE", ["s0", np.zeros(0, _INT)], ("b", (), "int32"), None),
        ("PACK", ["b", np.array(24, _INT)], ("t", (2,), "int32"), ("PackOptions", {"valuesCount": 2})),
        ("RESHAPE", ["x", "t"], ("y", (1, 24), "float32"), None)]),
    "expand_dims": ("EXPAND_DIMS", [  # TF's converter writes a RESHAPE for a constant axis
        _SHAPE, ("STRIDED_SLICE", ["s", np.array([0], _INT), np.array([1], _INT), np.array([1], _INT)],
                 ("b", (), "int32"), ("StridedSliceOptions", {"shrinkAxisMask": 1})),
        ("EXPAND_DIMS", ["b", np.array(0, _INT)], ("e", (1,), "int32"), None),
        ("CONCATENATION", ["e", np.array([24], _INT)], ("t", (2,), "int32"), ("ConcatenationOptions", {"axis": 0})),
        ("RESHAPE", ["x", "t"], ("y", (1, 24), "float32"), None)]),
    "logical_not": ("LOGICAL_NOT", [  # TF's converter turns not(b <= 2) into b > 2
        _SHAPE, ("STRIDED_SLICE", ["s", np.array([0], _INT), np.array([1], _INT), np.array([1], _INT)],
                 ("b", (), "int32"), ("StridedSliceOptions", {"shrinkAxisMask": 1})),
        ("LESS_EQUAL", ["b", np.array(2, _INT)], ("c", (), "bool"), None),
        ("LOGICAL_NOT", ["c"], ("n", (), "bool"), None),
        ("MINIMUM", ["b", np.array(2, _INT)], ("m", (), "int32"), None),
        ("SELECT_V2", ["n", "b", "m"], ("r", (), "int32"), None),
        ("PACK", ["r", np.array(24, _INT)], ("t", (2,), "int32"), ("PackOptions", {"valuesCount": 2})),
        ("RESHAPE", ["x", "t"], ("y", (1, 24), "float32"), None)]),
}


def _built(steps: list[Step]) -> bytes:
    """A TFLite file of ``steps`` (see :data:`BUILT`), written with the schema's object API."""
    from oneop import SchemaFile

    built = SchemaFile()
    schema, graph = built.schema, built.graph
    names = {"x": built.tensor("x", (1, *ROW))}
    graph.tensors[0].shapeSignature = [-1, *ROW]
    graph.inputs.append(names["x"])
    codes: list[str] = []
    for opcode, inputs, (name, shape, dtype), options in steps:
        slots = [names[i] if isinstance(i, str) else built.tensor(f"c{len(graph.tensors)}", i.shape, i, str(i.dtype))
                 for i in inputs]
        names[name] = built.tensor(name, shape, None, dtype)
        if name == "y":
            graph.tensors[names[name]].shapeSignature = [-1, *shape[1:]]
        codes += [opcode] if opcode not in codes else []
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes.index(opcode), slots, [names[name]]
        if options is not None:
            table = getattr(schema, f"{options[0]}T")()
            for key, value in options[1].items():
                setattr(table, key, value)
            op.builtinOptionsType, op.builtinOptions = getattr(schema.BuiltinOptions, options[0]), table
        graph.operators = [*(graph.operators or []), op]
    built.model.operatorCodes = []
    for opcode in codes:
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(schema.BuiltinOperator, opcode)
        code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
        built.model.operatorCodes.append(code)
    graph.outputs = [names["y"]]
    return built.bytes()


def _free_batch(function: Callable[[Any], Any]) -> bytes:
    concrete = tf.function(function).get_concrete_function(tf.TensorSpec((None, *ROW), tf.float32))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def _reads_the_batch(tfl: Any, folded: dict[int, shapes.Folded], opcode: str) -> bool:
    """True when an op ``opcode`` of the file folded and reads a value that follows the batch
    (SHAPE: the free-batch tensor itself)."""
    for op in tfl.operators:
        if op.opcode != opcode or not all(t in folded for t in op.outputs):
            continue
        if opcode == "SHAPE" or any(t in folded and not shapes.is_fixed(folded[t]) for t in op.inputs):
            return True
    return False


@pytest.mark.parametrize("name", sorted({*FOLDS, *BUILT}))
def test_fold_of_batch_dependent_shape_arithmetic(name: str) -> None:
    opcode, data = (FOLDS[name][0], _free_batch(FOLDS[name][1])) if name in FOLDS else \
        (BUILT[name][0], _built(BUILT[name][1]))
    tfl = t2k.read(data)
    assert _reads_the_batch(tfl, shapes.fold(tfl), opcode), [op.opcode for op in tfl.operators]
    model = t2k.convert(data)
    for batch in VERIFY_BATCHES:
        report = t2k.verify(model, data, samples=1, batch=batch)
        assert report.ok, str(report)
    sample = np.random.default_rng(0).uniform(-1, 1, (3, *ROW)).astype(np.float32)
    scale = 2 if name in FOLDS else 1  # TF cases double x; built files only reshape it
    np.testing.assert_array_equal(np.asarray(model(sample)).reshape(-1), sample.reshape(-1) * scale)


def test_every_fold_has_a_case() -> None:
    """A registered op with a fold and no case above fails here (as test_registry does for converters)."""
    folds = {opcode for opcode, spec in registry.specs().items() if spec.fold is not None}
    missing = sorted(folds - {opcode for opcode, _ in [*FOLDS.values(), *BUILT.values()]})
    assert not missing, f"ops with a fold but no batch-dependent shape-arithmetic case in test_fold_ops.py: {missing}"


def _parity_cases() -> dict[str, tuple[str, list[Any], list[tuple[tuple[int, ...], str]], Any]]:
    """id -> (opcode, slots: input specs or constants, outputs, options) of one-op files whose fold
    is compared with the interpreter on random values."""
    i32 = lambda *v: np.array(v, np.int32)  # noqa: E731
    ints, floats, bools = ((4, 6), "int32"), ((4, 6), "float32"), ((4, 6), "bool")
    cases: dict[str, Any] = {
        "split": ("SPLIT", [i32(1), ints], [((4, 2), "int32")] * 3, ("SplitOptions", {"numSplits": 3})),
        "split_v": ("SPLIT_V", [ints, i32(1, -1, 2), i32(-1)], [((4, 1), "int32"), ((4, 3), "int32"),
                                                                ((4, 2), "int32")], ("SplitVOptions", {"numSplits": 3})),
        "gather_nd": ("GATHER_ND", [((4, 5, 3), "int32"), i32([0, 1], [3, 4], [2, 0])], [((3, 3), "int32")], None),
        "select": ("SELECT", [((4,), "bool"), ints, ints], [((4, 6), "int32")], None),
        "select_v2": ("SELECT_V2", [((4, 1), "bool"), ints, ((6,), "int32")], [((4, 6), "int32")], None),
    }
    for opcode in ("FLOOR", "CEIL", "ROUND", "NEG", "ABS", "SIGN"):
        cases[opcode.lower()] = (opcode, [floats], [floats], None)
    for opcode in ("NEG", "ABS", "SIGN"):
        cases[f"{opcode.lower()}_int"] = (opcode, [ints], [ints], None)
    cases["logical_not"] = ("LOGICAL_NOT", [bools], [bools], None)
    for opcode in ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"):
        cases[opcode.lower()] = (opcode, [ints, ((6,), "int32")], [bools], None)
    for opcode in ("LOGICAL_AND", "LOGICAL_OR"):
        cases[opcode.lower()] = (opcode, [bools, bools], [bools], None)
    return cases


PARITY = _parity_cases()


@pytest.mark.parametrize("name", sorted(PARITY))
def test_new_fold_is_the_interpreter(name: str) -> None:
    from test_shape import one_op

    from tflite2keras.verification.reference import make_interpreter, run

    opcode, slots, outputs, options = PARITY[name]
    tfl = t2k.read(one_op(opcode, slots, outputs, options, batch=False))
    rng = np.random.default_rng(0)
    feed = []
    for slot in slots:
        if isinstance(slot, np.ndarray):
            continue
        shape, dtype = slot
        feed.append(rng.uniform(size=shape) > 0.5 if dtype == "bool" else
                    rng.integers(-3, 4, shape).astype(np.int32) if dtype == "int32" else
                    (rng.integers(-8, 9, shape) / 4).astype(np.float32))  # quarters: halves for ROUND
    want = run(make_interpreter(tfl, kernels="builtin"), feed)[0]
    values, it = [], iter(feed)
    for slot in slots:
        values.append(slot if isinstance(slot, np.ndarray) else next(it))
    got = registry.get(opcode).fold(tfl.operators[0], values)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.asarray(g).shape == w.shape and np.asarray(g).dtype == w.dtype, (np.asarray(g).dtype, w.dtype)
        np.testing.assert_array_equal(np.asarray(g), w)
