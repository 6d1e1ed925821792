"""Shape arithmetic folded at convert time, with the batch kept free.

With a free batch axis, TFLite's converter writes ``Flatten``/``Reshape``/``Dense`` as
arithmetic on the runtime shape: ``SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE`` or
``SHAPE -> GATHER -> REDUCE_PROD -> CONCATENATION -> RESHAPE``. :func:`fold` evaluates such
chains in numpy, through each op's :attr:`OpSpec.fold <tflite2keras.ops.registry.OpSpec.fold>`, once
for each batch size of :data:`BATCHES`. An element equal at both is fixed; one that differs
depends on the batch. ``convert`` then builds nothing for the folded ops, and RESHAPE turns a
batch-dependent target into a free batch axis (:mod:`tflite2keras.ops.reshape`).

Also folded: ops on integer or boolean constants only (index arithmetic), so converters see
their results as constants. A fold returns one value per output (SPLIT, SPLIT_V, UNPACK: each
output tensor gets its own), and an empty constant (shape ``[0]``, no bytes in its buffer) is a
constant (:func:`constant_value`).

Shapes are read from the model given: ``convert`` gives the file with the shapes the interpreter
computes (:func:`tflite2keras.conversion.prepared.prepared_view`), so a stale or placeholder stored
shape (a ``-1`` for a fixed extent) neither blocks a fold nor folds to a wrong value.

Example:
    >>> import numpy as np
    >>> from tflite2keras.ops import fold as shapes
    >>> shapes.batch_axes((np.array([2, 1280]), np.array([3, 1280])))
    [0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import Tflite2KerasError
from ..tflite.model import Operator, TFLiteModel
from .memo import per_model
from .registry import find, generation

#: The batch sizes shape arithmetic is evaluated at; a value equal at both is batch-independent.
BATCHES = (2, 3)
#: Constants-only ops fold when their outputs are at most this many integer or boolean elements.
MAX_CONSTANT_ELEMENTS = 1 << 16
Folded = tuple[np.ndarray, np.ndarray]


def fold(tfl: TFLiteModel, fixed: bool = False) -> dict[int, Folded]:
    """tensor index -> its value at each batch of :data:`BATCHES`, for every folded tensor (worked
    out once per file and registry state). With ``fixed`` shapes (axis 0 is data, not a free
    batch), shapes are read as the file's own: every folded value is the same twice."""
    return dict(per_model(tfl, "fold_fixed" if fixed else "fold", generation(), lambda: _fold(tfl, fixed)))


def _fold(tfl: TFLiteModel, fixed: bool = False) -> dict[int, Folded]:
    values: dict[int, Folded] = {}
    outputs = set(tfl.outputs)
    for op in tfl.operators:
        spec = find(op.opcode)
        if spec is None or spec.fold is None or any(t in outputs for t in op.outputs):
            continue
        feeds = _feeds(tfl, op, values, spec.reads_shape, fixed)
        if feeds is None:
            continue
        (first, second), derived = feeds
        if not derived and not all(_small_index(tfl, t) for t in op.outputs):
            continue
        try:
            results = [spec.fold(op, first), spec.fold(op, second)]
        except (Tflite2KerasError, ValueError, IndexError, TypeError):
            continue  # not foldable here (e.g. an option the fold does not handle): the converter decides
        for index, a, b in zip(op.outputs, *results):
            dtype = tfl.tensor(index).dtype.lower()
            a, b = np.asarray(a).astype(dtype), np.asarray(b).astype(dtype)
            if a.shape == b.shape:  # a value whose own shape follows the batch is data, not a shape
                values[index] = (a, b)
    return values


def is_fixed(value: Folded | None) -> bool:
    """True when a folded value is the same at every batch."""
    return value is not None and value[0].shape == value[1].shape and np.array_equal(value[0], value[1])


def batch_axes(value: Folded) -> list[int]:
    """The flat positions of a folded vector whose element depends on the batch."""
    a, b = (np.asarray(v).reshape(-1) for v in value)
    return [int(i) for i in np.flatnonzero(a != b)]


def is_batch(value: Folded, position: int) -> bool:
    """True when element ``position`` of a folded vector is the batch size itself."""
    a, b = (np.asarray(v).reshape(-1) for v in value)
    return (int(a[position]), int(b[position])) == BATCHES


def _feeds(tfl: TFLiteModel, op: Operator, values: dict[int, Folded],
           reads_shape: bool, fixed: bool = False) -> tuple[tuple[list[Any], list[Any]], bool] | None:
    """The op's inputs at each batch, and whether any comes from shape arithmetic; None when an
    input is neither folded nor constant (nor, for a shape reader, a tensor of known shape)."""
    first: list[Any] = []
    second: list[Any] = []
    derived = False
    for index in op.inputs:
        if index < 0:
            pair: tuple[Any, Any] = (None, None)
        elif index in values:
            pair, derived = values[index], True
        elif (value := constant_value(tfl, index)) is not None:
            pair = (value, value)
        elif reads_shape and (placeholders := _placeholders(tfl, index, fixed)) is not None:
            pair, derived = placeholders, True
        else:
            return None
        first.append(pair[0])
        second.append(pair[1])
    return (first, second), derived


def constant_value(tfl: TFLiteModel, index: int) -> np.ndarray | None:
    """A constant tensor's value in its shape, or None for a computed tensor. An empty tensor
    (an extent of 0, e.g. the RESHAPE target ``[]`` of a scalar) that no op produces and that is
    not a model input is a constant too: its buffer holds no bytes because it has none.

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> model = read(tiny.tflite())
        >>> constant_value(model, model.operators[0].inputs[2]).shape
        (4,)
    """
    tensor = tfl.tensor(index)
    if tfl.is_constant(index):
        return np.asarray(tfl.constant(index)).reshape(tensor.shape)
    if (0 in tuple(tensor.shape) and -1 not in tuple(tensor.shape_signature or ()) and tfl.producer(index) is None
            and index not in tfl.inputs and not tensor.is_variable and tensor.dtype != "STRING"):
        return np.zeros(tensor.shape, tensor.dtype.lower())
    return None


def _placeholders(tfl: TFLiteModel, index: int, fixed: bool = False) -> Folded | None:
    """Zero-strided arrays with the tensor's shape at each batch (no memory): for ops that read only
    their input's shape. None when a non-batch extent is dynamic or the batch is fixed above 1.
    With ``fixed`` shapes, the tensor's own shape twice (axis 0 as the interpreter computes it)."""
    tensor = tfl.tensor(index)
    signature = tuple(tensor.shape_signature or tensor.shape)
    if fixed and tensor.shape and not any(d < 0 for d in signature[1:]):
        own = np.broadcast_to(np.zeros((), tensor.dtype.lower() if tensor.dtype != "STRING" else object),
                              tuple(tensor.shape))
        return own, own
    if not signature or any(d < 0 for d in signature[1:]) or signature[0] > 1:
        return None
    zero = np.zeros((), tensor.dtype.lower() if tensor.dtype != "STRING" else object)
    a, b = (np.broadcast_to(zero, (batch, *signature[1:])) for batch in BATCHES)
    return a, b


def _small_index(tfl: TFLiteModel, index: int) -> bool:
    tensor = tfl.tensor(index)
    size = int(np.prod(tensor.shape)) if len(tensor.shape) else 1
    return not tensor.dtype.startswith(("FLOAT", "COMPLEX")) and size <= MAX_CONSTANT_ELEMENTS
