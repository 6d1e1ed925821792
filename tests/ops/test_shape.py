"""ops/shape.py (SLICE, STRIDED_SLICE, CONCATENATION): one-op models against the interpreter and numpy.

Most files come from TF functions, traced at batch 1 or (``FREE``) with a free batch, where TFLite
writes shape arithmetic (SHAPE -> ... -> FILL). Forms the TF converter never writes (STRIDED_SLICE
with ellipsis / new-axis masks or ``offset``, SQUEEZE) are built with the schema's object API
(:func:`one_op`) and still compared with the interpreter.

This module also holds the machinery that the tables of test_rearrange.py, test_fill.py and
test_split.py run through (:func:`one_op`, :class:`Built`, :func:`check_table_case`,
:func:`check_unsupported`, :func:`check_fold` ...) and the one test that runs a case per layer
class of those four families under JAX (:func:`test_layers_run_under_jax`).
"""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from oneop import (
    MODEL_SHAPE,
    Case,
    SchemaFile,
    check_case,
    inputs,
    model_case,
    shape_dtype,
    tflite_of,
)

import tflite2keras as t2k
from tflite2keras import layers
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.ops import registry
from tflite2keras.tflite.model import Operator
from tflite2keras.verification.reference import make_interpreter, run

SHAPE = (7, 9, 5)  # odd extents, all different
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)
INT = ((SHAPE, "int32"),)


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


#: id -> (opcode under test, input shapes, TF function or Built file, numpy reference), or a Keras-model case
#: (model_case).
CASES: dict[str, Case] = {
    "slice": ("SLICE", ONE, lambda x: tf.slice(x, [0, 1, 2, 0], [-1, 3, 4, -1]), lambda x: x[:, 1:4, 2:6]),
    "slice_batch_1": ("SLICE", ONE, lambda x: tf.slice(x, [0, 2, 0, 1], [1, 4, -1, 3]), lambda x: x[:, 2:6, :, 1:4]),
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
FREE = {"slice", "strided_slice_index"}
#: Files whose constants say batch 1 (a size, a target shape, seq_lengths): their interpreter runs at batch 1 only.
BATCH_1 = {"slice_batch_1", "strided_slice_offset", "strided_slice_offset_backward"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"strided_slice_ellipsis_new_axis": "StridedSlice"}
#: The Keras layers (besides the inputs) that some cases convert to: standard layers where they are exact.
TARGETS = {"slice": {"StridedSlice"}}
MY_MODULES = ("shape",)


def free_batch(function: Callable[..., Any], *specs: Any) -> bytes:
    """TFLite bytes of a TF function traced with a free batch."""
    signature = [tf.TensorSpec((None, *shape), dtype) for shape, dtype in map(shape_dtype, specs)]
    concrete = tf.function(function).get_concrete_function(*signature)
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def case_data(table: ModuleType, name: str, function_to_tflite: Any) -> bytes:
    """The file of ``table.CASES[name]``: its Built file, traced with a free batch (``table.FREE``) or at batch 1."""
    specs, source = table.CASES[name][1], table.CASES[name][2]
    if isinstance(source, Built):
        return source()
    return free_batch(source, *specs) if name in table.FREE else tflite_of(table.CASES[name], function_to_tflite)


def check_family_has_cases(table: ModuleType) -> None:
    """Every op whose converter lives in ``table.MY_MODULES`` has a case in ``table.CASES``, and no other op."""
    mine = {code for code, spec in registry.specs().items()
            if spec.converter is not None and spec.converter.__module__.rsplit(".", 1)[-1] in table.MY_MODULES}
    assert mine == {case[0] for case in table.CASES.values()}, mine ^ {case[0] for case in table.CASES.values()}


def check_table_case(table: ModuleType, name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    """``table.CASES[name]`` against the interpreter (at batch 1 only for ``table.BATCH_1``), reloaded with
    ``table.RELOAD``, its layers ``table.TARGETS``."""
    batches = (1,) if name in table.BATCH_1 else (1, 3)
    model = check_case(table.CASES[name], case_data(table, name, function_to_tflite), tmp_path,
                       table.RELOAD.get(name), batches)
    if name in table.TARGETS:
        assert {type(layer).__name__ for layer in model.layers} - {"InputLayer"} == table.TARGETS[name]


def test_every_op_of_the_module_has_a_case() -> None:
    check_family_has_cases(sys.modules[__name__])


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


#: id -> a slice of x (batch axis whole); negative strides with masked begin/end among them.
SLICES: dict[str, Callable[[Any], Any]] = {
    "reverse": lambda x: x[:, ::-1],
    "reverse_by_two": lambda x: x[:, ::-2, 1::3],
    "begin_set_end_masked": lambda x: x[:, 5::-2],
    "begin_masked_end_set": lambda x: x[:, :1:-1],
    "reverse_all": lambda x: x[:, ::-1, ::-1, ::-1],
    "mixed": lambda x: x[:, -2:0:-3, ::2, 4:0:-1],
    "negative_begin": lambda x: x[:, -1::-3, :-2:-1],
    "forward": lambda x: x[:, 1:6:2, 2:, :4],
    # shrink_axis_mask: an integer index drops its axis
    "shrink_one": lambda x: x[:, 2],
    "shrink_last_index": lambda x: x[:, :, -1],
    "shrink_with_slices": lambda x: x[:, 1:4, 3, ::2],
    "shrink_two": lambda x: x[:, -1, :, 0],
}


@pytest.mark.parametrize("name", sorted(SLICES))
def test_strided_slice_matches_interpreter(name: str, function_to_tflite: Any) -> None:
    data = function_to_tflite(SLICES[name], SHAPE)
    tfl = t2k.read(data)
    assert "STRIDED_SLICE" in {op.opcode for op in tfl.operators}
    model = t2k.convert(data)
    x = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(1, *SHAPE)
    expected = SLICES[name](x)
    assert tuple(model.outputs[0].shape[1:]) == expected.shape[1:] == tfl.tensor(tfl.outputs[0]).shape[1:]
    np.testing.assert_array_equal(np.asarray(model(x)), expected)
    assert t2k.verify(model, data, samples=2, per_layer=True).ok
    batch = np.concatenate([x, -x, x * 2])  # the batch axis stays free
    np.testing.assert_array_equal(np.asarray(model(batch)), SLICES[name](batch))


def test_strided_slice_layer_reloads_with_masked_begin(tmp_path: Any) -> None:
    from tflite2keras.layers import StridedSlice

    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, StridedSlice([None, 1], [None, None], [-1, 2])(inputs))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).normal(size=(2, *SHAPE)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), x[:, ::-1, 1::2])


def traced(function: Callable[..., Any], *specs: Any, free: bool = False) -> bytes:
    """TFLite bytes of a TF function traced at batch 1, or with a free batch."""
    if free:
        return free_batch(function, *specs)
    signature = [tf.TensorSpec((1, *shape), dtype) for shape, dtype in map(shape_dtype, specs)]
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(function).get_concrete_function(*signature)]).convert())


def check_unsupported(entry: tuple[str, Callable[[], bytes], str]) -> None:
    """An UNSUPPORTED entry (opcode, a file with it, what the error names): its file does not convert."""
    opcode, make, message = entry
    data = make()
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"op \d+ \({opcode}\).*{message}"):
        t2k.convert(data)


#: opcode, a file with it, what the error names.
UNSUPPORTED: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "strided_slice_batch": ("STRIDED_SLICE", lambda: traced(lambda x: x[1:, 2:], SHAPE, free=True),
                            "slices the batch"),
    "strided_slice_batch_end": ("STRIDED_SLICE", lambda: traced(lambda x: x[:-1, 2:], SHAPE, free=True),
                                "slices the batch"),
    "strided_slice_new_axis_first": ("STRIDED_SLICE", Built("STRIDED_SLICE", [SHAPE, i32(0), i32(0), i32(1)],
                                                            [((1, 1, *SHAPE), "float32")],
                                                            ("StridedSliceOptions", {"newAxisMask": 1})),
                                     "axis before it"),
    "strided_slice_shrink_backward": ("STRIDED_SLICE", Built(  # TFLite writes nothing for such an axis
        "STRIDED_SLICE", [SHAPE, i32(0, 2), i32(0, 0), i32(1, -1)], [((1, 9, 5), "float32")],
        ("StridedSliceOptions", {"beginMask": 1, "endMask": 1, "shrinkAxisMask": 2})), "shrunk axis"),
    "slice_batch": ("SLICE", lambda: traced(lambda x: tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), SHAPE, free=True),
                    "slices the batch"),
    "concatenation_batch": ("CONCATENATION", lambda: traced(lambda x, y: tf.concat([x, y], 0), SHAPE, SHAPE),
                            "batch axis"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_forms_raise(name: str) -> None:
    check_unsupported(UNSUPPORTED[name])


def fold_case(opcode: str, slots: list[Any], outputs: list[tuple[tuple[int, ...], str]],
              options: tuple[str, dict[str, Any]] | None = None, version: int = 1) -> tuple[str, list[Any], Built]:
    return opcode, slots, Built(opcode, slots, outputs, options, batch=False, version=version)


def _ss(begin: list[int], end: list[int], strides: list[int], out: tuple[int, ...], **masks: Any) -> Any:
    return fold_case("STRIDED_SLICE", [((4, 6, 7), "int32"), i32(*begin), i32(*end), i32(*strides)],
                     [(out, "int32")], ("StridedSliceOptions", masks))


def check_fold(entry: tuple[str, list[Any], Built], feed: list[Any] | None) -> None:
    """A FOLDS entry (opcode, slots: full-shape graph inputs or constants, file): the op's fold of the graph
    inputs ``feed`` (seeded integers when None) is what the interpreter computes."""
    opcode, slots, make = entry
    tfl = t2k.read(make())
    rng = np.random.default_rng(0)
    feed = feed or [rng.integers(-50, 50, shape_dtype(s)[0]).astype(np.int32) for s in slots
                    if not isinstance(s, np.ndarray)]
    want = run(make_interpreter(tfl, kernels="builtin"), [np.asarray(f) for f in feed])[0]
    it = iter(feed)
    values = [s if isinstance(s, np.ndarray) else np.asarray(next(it)) for s in slots]
    got = registry.get(opcode).fold(tfl.operators[0], values)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.asarray(g).shape == w.shape
        np.testing.assert_array_equal(np.asarray(g).astype(w.dtype), w)


#: id -> (opcode, slots: full-shape graph inputs or constants, file): each fold against the interpreter.
FOLDS = {
    "strided_slice_shrink": _ss([1, 0], [2, 0], [1, 1], (6, 7), shrinkAxisMask=1, endMask=2),
    "strided_slice_reverse": _ss([-1, 5, 0], [0, 0, 7], [-2, -3, 3], (2, 2, 3), endMask=1, beginMask=0),
    "strided_slice_ellipsis_new": _ss([0, 0, 3], [0, 0, 9], [1, 1, 2], (4, 6, 1, 2), ellipsisMask=1, newAxisMask=2),
    "strided_slice_offset": _ss([1, -5, 0], [2, 3, 7], [1, 2, 1], (2, 2, 7), offset=True),
    "slice": fold_case("SLICE", [((4, 6, 7), "int32"), i32(1, 0, 2), i32(-1, 3, 4)], [((3, 3, 4), "int32")]),
    "concatenation": fold_case("CONCATENATION", [((1,), "int32"), ((3,), "int32")], [((4,), "int32")],
                               ("ConcatenationOptions", {"axis": 0})),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_fold_is_the_interpreter(name: str) -> None:
    check_fold(FOLDS[name], None)


def test_fold_rejects_what_the_kernel_rejects() -> None:
    op = Operator(0, "STRIDED_SLICE", 1, (), (), {"shrink_axis_mask": 1})
    fold = registry.get("STRIDED_SLICE").fold
    with pytest.raises(t2k.UnsupportedOpError, match="out of range"):
        fold(op, [i32(4, 5), i32(2), i32(3), i32(1)])


#: Shape arithmetic that folds through these modules' folds, at a free batch.
CHAINS: dict[str, Case] = {
    "slice_concat_reshape": ("CONCATENATION", ONE, lambda x: tf.reshape(x, tf.concat([tf.shape(x)[:1], [-1]], 0)),
                             lambda x: x.reshape(len(x), -1)),
    "squeeze_of_shape": ("STRIDED_SLICE", ONE, lambda x: tf.reshape(x, [tf.shape(x)[0], tf.shape(x)[1] * 9, 5]),
                         lambda x: x.reshape(len(x), 63, 5)),
}


def check_chain(case: Case, tmp_path: Any) -> None:
    """A CHAINS case: its shape arithmetic at a free batch folds away (a Reshape at most is left)."""
    model = check_case(case, free_batch(case[2], *case[1]), tmp_path)
    assert {type(layer).__name__ for layer in model.layers} <= {"InputLayer", "Reshape"}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_shape_arithmetic_folds(name: str, tmp_path: Any) -> None:
    check_chain(CHAINS[name], tmp_path)


def test_layer_configs_round_trip_and_check_arguments() -> None:
    made = [layers.StridedSlice([1, 0], [None, 2], [2, 1], shrink_axes=[1], new_axes=[0])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    bad = [lambda: layers.StridedSlice([0], [1], [0]), lambda: layers.StridedSlice([None], [1], [1], shrink_axes=[0])]
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
    """One case per layer class of ops/shape.py, rearrange.py, fill.py and split.py (each module's RELOAD:
    this one, test_rearrange, test_fill, test_split) converted and run under KERAS_BACKEND=jax, against the
    interpreter."""
    import os

    import test_fill
    import test_rearrange
    import test_split

    cases = []
    for table in (sys.modules[__name__], test_rearrange, test_fill, test_split):
        for name in sorted(table.RELOAD):
            data = case_data(table, name, function_to_tflite)
            feed = inputs(table.CASES[name][1], 1, 0)
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
