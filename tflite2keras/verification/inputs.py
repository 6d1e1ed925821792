"""The range each input of a TFLite file is drawn from, for :func:`tflite2keras.verify`.

- A float input: ``[-1, 1)``.
- An input that feeds the indices of a GATHER, GATHER_ND, EMBEDDING_LOOKUP or ONE_HOT (directly,
  or through ops that keep its values, as CAST, RESHAPE or a SELECT's branches): ``[0, rows)``,
  ``rows`` the table's extent along the gathered axis, or ONE_HOT's depth (the smallest, if it
  feeds several), so every index is valid (an index out of ONE_HOT's range gives a row of zeros,
  a reference that proves little).
- Any other integer input: its dtype's whole range (a bool input: ``{0, 1}``).
- ``ranges`` overrides both, per input: a ``(lo, hi)`` pair drawn from ``[lo, hi)``, given as a
  dict by input name or position, as a list with one pair (or None) per input, or as one pair
  for every input.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.verification.inputs import resolve
    >>> tfl = read(tiny.tflite())
    >>> resolve(tfl), resolve(tfl, {0: (0, 255)})
    ([(-1.0, 1.0)], [(0.0, 255.0)])
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, Union

import numpy as np

from ..errors import InvalidArgumentError
from ..tflite.model import NUMPY_DTYPES, Operator, TFLiteModel
from ..tflite.names import input_name, sanitize

#: A user's ranges: one pair for every input, one per input (or None), or a dict by name or position.
Ranges = Union[Sequence[Any], Mapping[Union[str, int], Sequence[float]], None]
#: Ops whose output holds only values of their input's data slots (slots; None is every slot).
_KEEPS_VALUES: dict[str, tuple[int, ...] | None] = {
    "CAST": (0,), "RESHAPE": (0,), "SQUEEZE": (0,), "EXPAND_DIMS": (0,), "TRANSPOSE": (0,), "SLICE": (0,),
    "STRIDED_SLICE": (0,), "TILE": (0,), "BROADCAST_TO": (0,), "REVERSE_V2": (0,), "SPLIT_V": (0,),
    "SPLIT": (1,), "UNPACK": (0,), "CONCATENATION": None, "PACK": None, "GATHER": (0,),
    "SELECT": (1, 2), "SELECT_V2": (1, 2),  # (as Keras's Embedding wraps a negative index: x < 0 ? x + rows : x)
}
#: Ops that index a table with one of their inputs: opcode -> (indices slot, table slot).
_INDEXES = {"GATHER": (1, 0), "GATHER_ND": (1, 0), "EMBEDDING_LOOKUP": (0, 1), "ONE_HOT": (0, 1)}


def index_rows(tfl: TFLiteModel, index: int) -> int | None:
    """How many rows the tables indexed by tensor ``index`` (through value-keeping ops) have: the
    smallest, or None when it indexes none (or a table of unknown extent)."""
    rows: list[int] = []
    seen, frontier = {index}, [index]
    while frontier:
        tensor = frontier.pop()
        for op in tfl.consumers(tensor):
            slots = [s for s, t in enumerate(op.inputs) if t == tensor]
            if op.opcode in _INDEXES and _INDEXES[op.opcode][0] in slots:
                rows.append(_rows(tfl, op))
            keeps = _KEEPS_VALUES.get(op.opcode, ())
            if keeps is None or any(s in keeps for s in slots):
                for out in op.outputs:
                    if out >= 0 and out not in seen:
                        seen.add(out)
                        frontier.append(out)
    known = [r for r in rows if r > 0]
    return min(known) if known and len(known) == len(rows) else None


def _rows(tfl: TFLiteModel, op: Operator) -> int:
    """The extent of the table ``op`` indexes along the indexed axis (-1 if unknown)."""
    indices, table = _INDEXES[op.opcode]
    if op.opcode == "ONE_HOT":  # the depth, a constant scalar
        depth = op.inputs[table]
        return int(tfl.constant(depth).reshape(-1)[0]) if tfl.is_constant(depth) else -1
    shape = tuple(tfl.tensor(op.inputs[table]).shape_signature or tfl.tensor(op.inputs[table]).shape)
    if op.opcode == "GATHER":
        axis = int(op.options.get("axis", 0))
        axis += len(shape) if axis < 0 else 0
        return shape[axis] if 0 <= axis < len(shape) else -1
    if op.opcode == "GATHER_ND":
        depth = tfl.tensor(op.inputs[indices]).shape[-1] if tfl.tensor(op.inputs[indices]).shape else 1
        extents = shape[:max(depth, 1)]
        return -1 if not extents or min(extents) < 0 else min(extents)
    return shape[0] if shape else -1


def default_range(tfl: TFLiteModel, index: int) -> tuple[float, float]:
    """The range graph input ``index`` is drawn from when the caller gives none (module docstring)."""
    tensor = tfl.tensor(index)
    rows = index_rows(tfl, index)
    if rows is not None:
        return 0.0, float(rows)
    if tensor.dtype == "BOOL":
        return 0.0, 2.0
    dtype = NUMPY_DTYPES.get(tensor.dtype)
    if dtype is not None and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max) + 1.0
    return -1.0, 1.0


def resolve(tfl: TFLiteModel, ranges: Ranges = None) -> list[tuple[float, float]]:
    """The ``[lo, hi)`` of every graph input, in file order: the caller's, else the default.

    Raises:
        InvalidArgumentError: ``ranges`` names an input the file does not have, has another
            number of entries than the file has inputs, or holds a pair that is not ``lo < hi``
            (or, for an integer input, holds no integer or leaves its dtype's range).
    """
    pairs = given(tfl, ranges)
    return [pairs.get(j) or default_range(tfl, index) for j, index in enumerate(tfl.inputs)]


def given(tfl: TFLiteModel, ranges: Ranges) -> dict[int, tuple[float, float]]:
    """The caller's checked ``[lo, hi)`` by input position (only the inputs it gives a range).

    Raises:
        InvalidArgumentError: as for :func:`resolve`.
    """
    return {j: _check(tfl, j, tfl.inputs[j], pair) for j, pair in _given(tfl, ranges).items()}


def _given(tfl: TFLiteModel, ranges: Ranges) -> dict[int, Any]:
    count = len(tfl.inputs)
    if ranges is None:
        return {}
    if isinstance(ranges, Mapping):
        names: dict[Any, int] = {}
        for j, index in enumerate(tfl.inputs):
            name = tfl.tensor(index).name
            for key in (j, name, input_name(name), sanitize(input_name(name))):
                names.setdefault(key, j)
        unknown = [k for k in ranges if k not in names]
        if unknown:
            raise InvalidArgumentError(
                f"verify: input_ranges names {unknown}, but the inputs of {tfl.source} are "
                f"{[input_name(tfl.tensor(t).name) for t in tfl.inputs]} (positions 0..{count - 1})")
        return {names[k]: v for k, v in ranges.items()}
    items = list(ranges)
    if len(items) == 2 and all(isinstance(v, (int, float, np.number)) for v in items):
        return {j: items for j in range(count)}  # one pair for every input
    if len(items) != count:
        raise InvalidArgumentError(f"verify: input_ranges has {len(items)} entries, but {tfl.source} has {count} "
                                   "input(s). Pass one (lo, hi) pair (or None) per input, or a dict by name")
    return {j: v for j, v in enumerate(items) if v is not None}


def _check(tfl: TFLiteModel, j: int, index: int, pair: Any) -> tuple[float, float]:
    tensor = tfl.tensor(index)
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"verify: input_ranges for input {j} {tensor.name!r}: expected a (lo, hi) "
                                   f"pair of numbers, received {pair!r}") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidArgumentError(f"verify: input_ranges for input {j} {tensor.name!r}: expected finite lo < hi, "
                                   f"received ({lo}, {hi})")
    dtype = NUMPY_DTYPES.get(tensor.dtype)
    if dtype is not None and dtype.kind in "iub" and not _quantized(tensor):
        full = default_range_of(dtype)
        if math.ceil(lo) >= math.ceil(hi) or lo < full[0] or hi > full[1]:
            raise InvalidArgumentError(
                f"verify: input_ranges for {tensor.dtype} input {j} {tensor.name!r}: expected integers within "
                f"[{full[0]:.0f}, {full[1]:.0f}), received [{lo}, {hi})")
    return lo, hi


def default_range_of(dtype: np.dtype) -> tuple[float, float]:
    """The ``[lo, hi)`` of an integer (or bool) numpy dtype."""
    if dtype.kind == "b":
        return 0.0, 2.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max) + 1.0


def _quantized(tensor: Any) -> bool:
    return tensor.quantization is not None and np.asarray(tensor.quantization.scales).size > 0


def draw(rng: np.random.Generator, tfl: TFLiteModel, index: int, shape: tuple[int, ...],
         lo_hi: tuple[float, float]) -> np.ndarray:
    """One array for graph input ``index`` drawn from ``[lo, hi)``: integers for an integer
    input, else float32."""
    tensor = tfl.tensor(index)
    lo, hi = lo_hi
    dtype = NUMPY_DTYPES.get(tensor.dtype)
    if dtype is None or dtype.kind == "f":
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    if dtype.kind == "b":
        return rng.integers(max(0, math.ceil(lo)), min(2, math.ceil(hi)), size=shape).astype(bool)
    low, high = int(math.ceil(lo)), int(math.ceil(hi)) - 1  # the integers of [lo, hi), drawn with the endpoint
    return rng.integers(low, high, size=shape, dtype=np.int64 if dtype.kind == "i" else np.uint64,
                        endpoint=True).astype(dtype)


def sample_shape(tensor: Any, batch: int | None) -> tuple[int, ...]:
    """The shape an input is fed at: ``batch`` then the non-batch extents (a dynamic one as 1), or
    with ``batch`` None (a model with fixed shapes, whose axis 0 is data) the file's own shape."""
    if batch is None:
        return tuple(int(d) for d in tensor.shape)
    return (batch, *(d if d > 0 else 1 for d in (tensor.shape_signature or tensor.shape)[1:]))


def draw_all(tfl: TFLiteModel, samples: int, seed: int = 0, batch: int | None = 1,
             ranges: Ranges = None) -> list[list[np.ndarray]]:
    """Seeded samples, one list of arrays per sample, each input drawn from its range (:func:`resolve`),
    at ``batch`` (None: the file's own input shapes, see :func:`sample_shape`)."""
    bounds = resolve(tfl, ranges)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        sample = []
        for index, lo_hi in zip(tfl.inputs, bounds):
            sample.append(draw(rng, tfl, index, sample_shape(tfl.tensor(index), batch), lo_hi))
        out.append(sample)
    return out


def user_samples(tfl: TFLiteModel, inputs: Any, batch: int | None = 1) -> list[list[np.ndarray]]:
    """The caller's samples, each a list of arrays in file input order, checked against the
    interpreter's input shapes at ``batch`` (None: the file's own shapes). A float (or quantized) input is taken as float32, any
    other in its own dtype.

    ``inputs`` is a list of samples, each an array (single-input models) or a list of arrays; a
    bare array is one sample of a single-input model.

    Raises:
        InvalidArgumentError: a bare array for a model of several inputs, a sample with another
            number of arrays, or an array of another shape; the message names the sample, the
            input and both shapes.
    """
    if inputs is None:
        return []
    if isinstance(inputs, np.ndarray) or hasattr(inputs, "__array__") and not isinstance(inputs, (list, tuple)):
        if len(tfl.inputs) != 1:
            raise InvalidArgumentError(
                f"verify: inputs is a single array of shape {np.shape(inputs)}, but {tfl.source} has "
                f"{len(tfl.inputs)} inputs. Pass a list of samples, each a list of one array per input")
        inputs = [inputs]
    out = []
    for i, sample in enumerate(inputs):
        arrays = list(sample) if isinstance(sample, (list, tuple)) else [sample]
        if len(arrays) != len(tfl.inputs):
            raise InvalidArgumentError(f"verify: inputs[{i}] has {len(arrays)} arrays, but {tfl.source} has "
                                       f"{len(tfl.inputs)} input(s). Pass one array per model input")
        converted = []
        for j, (array, index) in enumerate(zip(arrays, tfl.inputs)):
            tensor = tfl.tensor(index)
            dtype = NUMPY_DTYPES.get(tensor.dtype)
            keep = dtype is not None and dtype.kind in "iub" and not _quantized(tensor)
            try:
                array = np.asarray(array, dtype if keep else np.float32)
            except (TypeError, ValueError) as err:
                raise InvalidArgumentError(f"verify: inputs[{i}] for model input {j} {tensor.name!r}: expected an "
                                           f"array of numbers, received {type(array).__name__}: {err}") from err
            expected = tuple(tensor.shape) if batch is None else (batch, *tensor.shape[1:])
            if array.shape != expected:
                raise InvalidArgumentError(
                    f"verify: inputs[{i}] for model input {j} {tensor.name!r}: expected shape "
                    f"{expected} ({'the file' + chr(39) + 's own' if batch is None else f'batch {batch}'}), "
                    f"received {array.shape}")
            converted.append(array)
        out.append(converted)
    return out


def check_counts(samples: Any, batch: Any, inputs: Any) -> None:
    """``samples`` and ``batch`` must be integers in range, and leave something to compare."""
    for name, value, least in (("samples", samples, 0), ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InvalidArgumentError(f"verify: {name} must be an integer of at least {least}, received {value!r}")
    if samples == 0 and (inputs is None or (isinstance(inputs, (list, tuple)) and not inputs)):
        raise InvalidArgumentError("verify: samples=0 and no inputs leave nothing to compare; draw samples "
                                   "(samples >= 1) or pass inputs=[...]")
