"""The one-op test runner shared by the op families' tests, ``tests/ops/test_*.py``.

Each such module has ``CASES: dict[id, Case]``: a family's one table of one-op cases, each run
through :func:`check_case` by that module's ``test_op_matches_interpreter``. An input spec is a
shape (batch excluded, float32) or ``(shape, dtype)``. ``test_registry`` collects the opcodes of
every module's CASES (:func:`opcodes_tested`), so a registered op without a case fails there.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run

Spec = Any  # tuple[int, ...] | tuple[tuple[int, ...], str]


class Case(NamedTuple):
    """A one-op case (a plain 4-tuple ``(opcode, specs, function, reference)`` is one too).

    Attributes:
        opcode: the op under test; the file must contain it.
        specs: the input specs (batch excluded).
        function: the TF function traced into the file (or what the family's test makes the file
            from), None when ``model`` builds it.
        reference: a numpy function of the inputs giving the expected outputs, or None.
        model: builds a Keras model whose inputs are ``specs``; the file is that model, built under
            ``keras.utils.set_random_seed(1)`` and traced as a TF function (see :func:`tflite_of`).
        per_layer: also ``t2k.verify(model, data, samples=2, per_layer=True)`` must pass and the
            model must reload in safe mode (the checks of the former registry-wide one-op test).
    """

    opcode: str
    specs: tuple[Spec, ...]
    function: Callable[..., Any] | None
    reference: Callable[..., Any] | None = None
    model: Callable[[], Any] | None = None
    per_layer: bool = False


#: The input of the Keras-model cases (:func:`model_case`): all extents different.
MODEL_SHAPE = (11, 13, 6)


def model_case(opcode: str, layer: Callable[[], Any], *shapes: tuple[int, ...], conv_first: bool = False) -> Case:
    """A case whose file is a Keras model: ``layer()`` on one ``keras.Input`` per shape (a list of
    them when several, named ``first`` and ``second``), after a ``Conv2D(5, 3, name="pre")`` with
    ``conv_first``; checked with ``per_layer``. ``shapes`` defaults to :data:`MODEL_SHAPE`.

    Example: ``model_case("ADD", lambda: keras.layers.Add(), MODEL_SHAPE, MODEL_SHAPE)``.
    """
    shapes = shapes or (MODEL_SHAPE,)

    def build() -> Any:
        import keras

        names = ["first", "second"] if len(shapes) == 2 else [None] * len(shapes)
        xs = [keras.Input(shape, name=name) for shape, name in zip(shapes, names)]
        inputs = xs[0] if len(xs) == 1 else xs
        x = keras.layers.Conv2D(5, 3, name="pre")(inputs) if conv_first else inputs
        return keras.Model(inputs, layer()(x))

    return Case(opcode, tuple(shapes), None, None, build, True)


def tflite_of(case: Case, function_to_tflite: Callable[..., bytes]) -> bytes:
    """The case's file: its Keras model (built under seed 1) or its TF function, traced at batch 1
    by the ``function_to_tflite`` fixture."""
    build = case[4] if len(case) > 4 else None
    if build is None:
        return function_to_tflite(case[2], *case[1])
    import keras

    keras.utils.set_random_seed(1)
    source = build()
    shapes = [tuple(x.shape[1:]) for x in source.inputs]
    assert shapes == [shape_dtype(spec)[0] for spec in case[1]], (shapes, case[1])
    return function_to_tflite(lambda *xs: source(list(xs) if len(xs) > 1 else xs[0]), *case[1])


def model_cases() -> dict[str, Case]:
    """``module::id`` -> every case of the families' CASES that a Keras model builds."""
    return {f"{module}::{name}": case for module, table in _tables().items()
            for name, case in table.items() if len(case) > 4 and case[4] is not None}


#: Batch sizes every converted one-op model is compared with the interpreter at (resized).
BATCHES = (1, 3)


def shape_dtype(spec: Spec) -> tuple[tuple[int, ...], str]:
    """``(shape, dtype)`` of an input spec."""
    if len(spec) == 2 and isinstance(spec[1], str):
        return tuple(spec[0]), spec[1]
    return tuple(spec), "float32"


def inputs(specs: tuple[Spec, ...], batch: int, seed: int) -> list[np.ndarray]:
    """Seeded inputs: floats in [-1, 1), integers in [0, 4), booleans."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        shape, dtype = shape_dtype(spec)
        if dtype == "bool":
            out.append(rng.uniform(size=(batch, *shape)) > 0.5)
        elif np.dtype(dtype).kind in "iu":
            out.append(rng.integers(0, 4, (batch, *shape)).astype(dtype))
        else:
            out.append(rng.uniform(-1, 1, (batch, *shape)).astype(dtype))
    return out


def check_case(case: Case, data: bytes, tmp_path: Path, reload_layer: str | None = None,
               interpreter_batches: tuple[int, ...] = BATCHES) -> Any:
    """Convert ``data`` and compare it with the interpreter (resized to every batch of
    ``interpreter_batches``) and, at every batch of :data:`BATCHES`, with the numpy reference;
    with the case's ``per_layer``, verify it per layer (``t2k.verify(samples=2, per_layer=True)``);
    reload it in safe mode when ``reload_layer`` (a layer class the model must contain) is given or
    with ``per_layer``. Returns the model."""
    import keras

    opcode, specs, np_fn = case[0], case[1], case[3]
    per_layer = len(case) > 5 and case[5]
    tfl = t2k.read(data)
    assert opcode in {op.opcode for op in tfl.operators}, [op.opcode for op in tfl.operators]
    model = t2k.convert(data)
    for batch in BATCHES:
        feed = inputs(specs, batch, batch)
        got = model(feed if len(feed) > 1 else feed[0])
        got = [np.asarray(g) for g in keras.tree.flatten(got)]
        want = run(make_interpreter(tfl, batch=batch), feed)[0] if batch in interpreter_batches else []
        assert not want or len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
            if w.dtype.kind in "biu":
                np.testing.assert_array_equal(g, w)
            else:
                bound = 1e-4 + 1e-5 * float(np.max(np.abs(w), initial=0))
                assert float(np.max(np.abs(g - w), initial=0)) <= bound, (batch, np.max(np.abs(g - w)))
        if np_fn is not None:
            ref = np_fn(*feed)
            for g, r in zip(got, ref if isinstance(ref, (list, tuple)) else [ref]):
                np.testing.assert_allclose(g, np.asarray(r), rtol=1e-5, atol=1e-5)
    if per_layer:
        report = t2k.verify(model, data, samples=2, per_layer=True)
        assert report.ok, str(report)
    if reload_layer is not None or per_layer:
        assert reload_layer is None or reload_layer in {type(layer).__name__ for layer in model.layers}
        feed = inputs(specs, 3, 5)
        model.save(tmp_path / "m.keras")
        reloaded = t2k.load(tmp_path / "m.keras")
        for a, b in zip(keras.tree.flatten(model(feed if len(feed) > 1 else feed[0])),
                        keras.tree.flatten(reloaded(feed if len(feed) > 1 else feed[0]))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return model


def _tables() -> dict[str, dict[str, Case]]:
    """``tests/ops/test_*.py`` file name -> its CASES (modules without one are left out)."""
    out: dict[str, dict[str, Case]] = {}
    for path in sorted((Path(__file__).parent / "ops").glob("test_*.py")):
        table = getattr(importlib.import_module(path.stem), "CASES", None)
        if table is None:
            continue
        if not isinstance(table, dict) or not all(isinstance(c, tuple) and len(c) >= 4 for c in table.values()):
            raise TypeError(f"{path.name}: CASES must be a dict of id -> Case (opcode, specs, function, "
                            f"reference, ...); received {type(table).__name__}")
        out[path.name] = table
    return out


def opcodes_tested() -> dict[str, str]:
    """opcode -> the ``tests/ops/test_*.py`` module whose CASES test it (the first, by file name)."""
    out: dict[str, str] = {}
    for module, table in _tables().items():
        for case in table.values():
            out.setdefault(case[0], module)
    return out


class SchemaFile:
    """A TFLite file written with the schema's object API a tensor at a time, for ops (or options)
    that ``tf.lite.TFLiteConverter`` does not emit: ``tensor()`` adds tensors, the caller adds
    operator codes and operators to :attr:`model` and :attr:`graph`, and ``bytes()`` packs it."""

    def __init__(self) -> None:
        from ai_edge_litert import schema_py_generated as schema

        self.schema = schema
        self.model, self.graph = schema.ModelT(), schema.SubGraphT()
        self.model.version, self.model.buffers = 3, [schema.BufferT()]
        self.graph.tensors, self.graph.inputs = [], []

    def tensor(self, name: str, shape: Any, data: np.ndarray | None = None, dtype: str = "float32",
               variable: bool = False) -> int:
        """Add a tensor (a constant when ``data`` is given, stored little-endian) and return its index."""
        t = self.schema.TensorT()
        t.name, t.shape, t.buffer, t.isVariable = name, list(shape), 0, variable
        t.type = getattr(self.schema.TensorType, np.dtype(dtype).name.upper())
        if data is not None:
            self.model.buffers.append(self.schema.BufferT())
            self.model.buffers[-1].data = np.ascontiguousarray(data, np.dtype(dtype).newbyteorder("<")).view(np.uint8).ravel()
            t.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def bytes(self) -> bytes:
        """The packed file (with ``graph`` as its only subgraph)."""
        from tflite2keras.tflite.schema import pack as finish

        self.model.subgraphs = [self.graph]
        return finish(self.model)
