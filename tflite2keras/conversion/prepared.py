"""The shapes the interpreter computes: a file's stored shapes may be stale, its kernels' are not.

Some converters write stale or placeholder shapes: an RFFT2D output stored with the FFT length as
its last extent where the kernel produces ``fft_length / 2 + 1``, indices stored ``(1, N)`` that
are ``(M, N)`` at run time, a ``-1`` for an extent that is fixed, a shape ``()`` for a tensor of
unknown rank. The interpreter recomputes every shape in its kernels' Prepare (and, for a tensor
whose shape a kernel sets while it runs, in Eval) and never reads them.

:func:`prepared_view` asks the interpreter (``ai_edge_litert``, built-in kernels without
delegates, so that every node is prepared by its own kernel) for each tensor's shape after
``allocate_tensors`` and one invoke on zeros, at the file's input shapes and, for a file whose
inputs leave the batch free, again with every input's first axis resized to :data:`SECOND_BATCH`,
which tells the axes that follow the batch.
It returns the model with those shapes in place of the stored ones (constants keep theirs: the
interpreter reads them from the file), and the tensors whose stored shapes differed. Where the
interpreter cannot allocate the file (a custom op it lacks, ...) the stored shapes stand.

Example:
    >>> import json
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.writer.flatjson import from_json, to_json
    >>> document = json.loads(to_json(tiny.tflite()))
    >>> document["subgraphs"][0]["tensors"][6]["shape"] = [1, 8, 8, 4]   # the pooled tensor is (1, 4, 4, 4)
    >>> model = read(from_json(json.dumps(document)))
    >>> view, stale = prepared_view(model)
    >>> model.tensor(6).shape, view.tensor(6).shape, [(s.index, s.wrong) for s in stale]
    ((1, 8, 8, 4), (1, 4, 4, 4), [(6, True)])
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from typing import Any, NamedTuple

import numpy as np

from ..tflite.model import Tensor, TFLiteModel

#: The batch the interpreter is resized to, besides the file's own, to tell the batch-following axes.
SECOND_BATCH = 3
#: How many differing tensors a warning names.
NAMED = 5
Shape = tuple[int, ...]


class Stale(NamedTuple):
    """A tensor whose stored shape (or signature) differs from the interpreter's.

    ``wrong`` when the stored shape claims what the computed one denies: another rank, or another
    extent where the signature does not leave it free. Not wrong, only refined: a signature's -1
    over an extent that is in fact fixed (TF's converter itself writes ``[1, 1]`` with signature
    ``[-1, -1]`` after every RESHAPE whose target is shape arithmetic, as in a Dense on a sequence:
    unknown when it converted, not false), or a batch of 1 that follows the batch.
    """

    index: int
    name: str
    stored: Shape
    stored_signature: Shape
    prepared: Shape
    prepared_signature: Shape
    wrong: bool


#: Each model's view, kept while the model lives (the parsed file does not change).
_VIEWS: weakref.WeakKeyDictionary[TFLiteModel, tuple[TFLiteModel | None, list[Stale]]]
_VIEWS = weakref.WeakKeyDictionary()


def prepared_view(tfl: TFLiteModel, *, isolated: bool = False) -> tuple[TFLiteModel, list[Stale]]:
    """``tfl`` with the interpreter's prepared shapes, and the tensors whose stored shapes were stale.

    The view is ``tfl`` itself when nothing differs or the interpreter cannot run the file; worked
    out once per model.

    Args:
        tfl: the parsed file.
        isolated: run the interpreter in a child process, so that a file on which its kernels crash
            (they abort the process on some files the converter refuses) only fails to give shapes.
            ``convert`` asks this way, and only when the stored shapes do not convert; ``verify``,
            which runs the interpreter on the file anyway, asks in its own process.

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> model = read(tiny.tflite())
        >>> prepared_view(model)[0] is model
        True
    """
    if tfl not in _VIEWS:
        view, stale = _view(tfl, isolated)
        _VIEWS[tfl] = (None if view is tfl else view, stale)  # (the model itself would never be collected)
    view, stale = _VIEWS[tfl]
    return view or tfl, stale


def describe(stale: list[Stale], source: str = "") -> str:
    """One sentence naming the first :data:`NAMED` stale tensors with both shapes (and signatures
    where they differ from the shapes)."""
    named = "; ".join(f"tensor {s.index} {s.name!r} stored {_shape(s.stored, s.stored_signature)}, computed "
                      f"{_shape(s.prepared, s.prepared_signature)}" for s in stale[:NAMED])
    more = f" and {len(stale) - NAMED} more" if len(stale) > NAMED else ""
    tensors = f"{len(stale)} tensors" if len(stale) > 1 else "1 tensor"
    return (f"{source}: stored shapes differ from the ones the TFLite interpreter computes, for {tensors}: "
            f"{named}{more}. The interpreter never reads them; the conversion follows the computed ones")


def _shape(shape: Shape, signature: Shape) -> str:
    return f"{list(shape)}" + (f" (signature {list(signature)})" if signature not in ((), shape) else "")


def _view(tfl: TFLiteModel, isolated: bool) -> tuple[TFLiteModel, list[Stale]]:
    shapes = _isolated_shapes if isolated else interpreter_shapes
    first = shapes(tfl, None)
    if first is None:
        return tfl, []
    inputs = [tfl.tensor(t) for t in tfl.inputs]
    free = any(d < 0 for t in inputs for d in tuple(t.shape_signature)[1:])  # a dynamic extent besides the batch
    second = shapes(tfl, SECOND_BATCH) if _asks_second(tfl, first) else None
    tensors = list(tfl.tensors)
    stale = []
    for tensor in tfl.tensors:
        if tensor.index not in first or tensor.index in tfl.inputs or tfl.is_constant(tensor.index):
            continue
        allocated, shape = first[tensor.index]
        other = second.get(tensor.index) if second is not None else None
        signature = _signature(tensor, shape, other[1] if other else None, free)
        static = allocated == shape and (other is None or other[0] == other[1])
        stored_signature = tuple(tensor.shape_signature)
        wrong_free = static and other is not None and not free and len(stored_signature) == len(signature) and any(
            s < 0 <= p for s, p in zip(stored_signature, signature))
        if tuple(tensor.shape) == shape and not wrong_free and len(stored_signature or shape) == len(shape):
            continue
        tensors[tensor.index] = dataclasses.replace(tensor, shape=shape, shape_signature=signature)
        wrong = _contradicts(tuple(tensor.shape), stored_signature, shape)
        stale.append(Stale(tensor.index, tensor.name, tuple(tensor.shape), stored_signature, shape, signature, wrong))
    if not stale:
        return tfl, []
    view = copy.copy(tfl)  # the same bytes, operators and decoded constants; the tensors' shapes replaced
    view.tensors = tensors
    return view, stale


def _asks_second(tfl: TFLiteModel, first: dict[int, tuple[Shape, Shape]]) -> bool:
    """Whether to run the interpreter at :data:`SECOND_BATCH` too: only for a file whose inputs leave
    the batch free (the interpreter aborts the process on some files resized against their
    signature), and only when a stored shape differs or a signature has -1 beyond the batch."""
    if not tfl.inputs or not all(tuple(tfl.tensor(t).shape_signature)[:1] == (-1,) for t in tfl.inputs):
        return False
    return any(tuple(t.shape) != first[t.index][1] or any(d < 0 for d in tuple(t.shape_signature)[1:])
               for t in tfl.tensors if t.index in first and t.index not in tfl.inputs)


def _contradicts(stored: Shape, stored_signature: Shape, shape: Shape) -> bool:
    """True when the stored shape has another rank, or another extent where its signature is fixed."""
    if len(stored) != len(shape) or len(stored_signature or stored) != len(shape) or any(d < 0 for d in stored):
        return True
    return any(s != d and (not stored_signature or stored_signature[k] >= 0)
               for k, (s, d) in enumerate(zip(stored, shape)))


def _signature(tensor: Tensor, shape: Shape, other: Shape | None, free: bool) -> Shape:
    """-1 at the axes that follow the batch (where the two runs differ), and where the stored
    signature has -1 while an input leaves an extent besides the batch free; else the extent."""
    stored = tuple(tensor.shape_signature)
    keep = len(stored) == len(shape)
    if other is None or len(other) != len(shape):  # one run: only a stored free batch stays free
        return tuple(-1 if keep and stored[k] < 0 and (k == 0 or free) else d for k, d in enumerate(shape))
    return tuple(-1 if a != b or (free and keep and stored[k] < 0) else a
                 for k, (a, b) in enumerate(zip(shape, other)))


def interpreter_shapes(tfl: TFLiteModel, batch: int | None) -> dict[int, tuple[Shape, Shape]] | None:
    """tensor index -> its shape after ``allocate_tensors`` and after one invoke on zeros, with every
    input's first axis resized to ``batch`` (None: the file's input shapes); None when the
    interpreter is not installed or cannot allocate or run the file there."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    try:
        interpreter = Interpreter(model_content=tfl.data,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        details = interpreter.get_input_details()
        if batch is not None:
            if any(len(d["shape"]) == 0 for d in details):
                return None
            if all(int(d["shape"][0]) == batch for d in details):
                batch = batch - 1
            for detail in details:
                interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]], strict=False)
        interpreter.allocate_tensors()
        allocated = _shapes(interpreter, tfl)
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], _zeros(detail))
        interpreter.invoke()
        computed = _shapes(interpreter, tfl)
    except (RuntimeError, ValueError, TypeError):
        return None
    if allocated is None or computed is None:
        return None
    return {i: (allocated[i], computed[i]) for i in computed if i in allocated}


#: The child process of :func:`_isolated_shapes`: the file's path and batch in, the shapes out as JSON.
_CHILD = """
import json, sys
from tflite2keras import read
from tflite2keras.conversion.prepared import interpreter_shapes
batch = None if sys.argv[2] == "none" else int(sys.argv[2])
shapes = interpreter_shapes(read(sys.argv[1]), batch)
print(json.dumps(None if shapes is None else {str(k): [list(a), list(b)] for k, (a, b) in shapes.items()}))
"""


def _isolated_shapes(tfl: TFLiteModel, batch: int | None) -> dict[int, tuple[Shape, Shape]] | None:
    """:func:`interpreter_shapes` in a child process; None when it fails or crashes there."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        with open(path, "wb") as handle:
            handle.write(tfl.data)
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, path, "none" if batch is None else str(batch)],
                                  capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        except (OSError, subprocess.SubprocessError):
            return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return None if found is None else {int(k): (tuple(a), tuple(b)) for k, (a, b) in found.items()}


def _shapes(interpreter: Any, tfl: TFLiteModel) -> dict[int, Shape] | None:
    """Each of the file's tensors' current shape (the interpreter's own scratch tensors left out);
    None when the interpreter's subgraph 0 is not ``tfl``'s (a model parsed from another subgraph)."""
    details = [d for d in interpreter.get_tensor_details() if int(d["index"]) < len(tfl.tensors)]
    if any(d["name"] != tfl.tensors[int(d["index"])].name for d in details):
        return None
    return {int(d["index"]): tuple(int(x) for x in d["shape"]) for d in details}


def _zeros(detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    return np.zeros(tuple(detail["shape"]), object if dtype.kind in "OSU" else dtype)
