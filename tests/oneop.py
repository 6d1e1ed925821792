"""The one-op test runner shared by the op families' tests, ``tests/ops/test_*.py``.

Each such module has ``CASES: dict[id, Case]``, a case being (opcode under test, input specs,
TF function, numpy reference or None). An input spec is a shape (batch excluded, float32) or
``(shape, dtype)``. ``test_registry`` collects the opcodes of every module's CASES, so a
registered op without a case fails there.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

import tflite2keras as t2k
from tflite2keras.verification.reference import make_interpreter, run

Spec = Any  # tuple[int, ...] | tuple[tuple[int, ...], str]
Case = tuple[str, tuple[Spec, ...], Callable[..., Any], Callable[..., Any] | None]
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
    reload it in safe mode when ``reload_layer`` (a layer class the model must contain) is given.
    Returns the model."""
    import keras

    opcode, specs, _, np_fn = case
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
    if reload_layer is not None:
        assert reload_layer in {type(layer).__name__ for layer in model.layers}
        feed = inputs(specs, 3, 5)
        model.save(tmp_path / "m.keras")
        reloaded = t2k.load(tmp_path / "m.keras")
        for a, b in zip(keras.tree.flatten(model(feed if len(feed) > 1 else feed[0])),
                        keras.tree.flatten(reloaded(feed if len(feed) > 1 else feed[0]))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return model


def opcodes_tested() -> dict[str, str]:
    """opcode -> the ``tests/ops/test_*.py`` module whose CASES test it."""
    out: dict[str, str] = {}
    for path in sorted((Path(__file__).parent / "ops").glob("test_*.py")):
        module = importlib.import_module(path.stem)
        for case in getattr(module, "CASES", {}).values():
            out.setdefault(case[0], path.name)
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
