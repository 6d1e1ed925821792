"""CONCATENATION, STRIDED_SLICE and SLICE; the helpers the other shape and layout op modules share.

The batch axis (0) stays free: it may only be kept whole. A slice keeps it whole when it runs
over the whole axis at any batch (masked, ``0:INT32_MAX``, or to the folded batch itself), or
over the whole axis of a file whose batch is fixed (``0:1`` in a batch-1 file). The other
families: :mod:`~tflite2keras.ops.split` (SPLIT, SPLIT_V, UNPACK, DYNAMIC_UPDATE_SLICE),
:mod:`~tflite2keras.ops.rearrange` (TRANSPOSE, SQUEEZE, TILE, ...), :mod:`~tflite2keras.ops.fill`
(PAD, FILL, RANGE, ...).
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import Tflite2KerasError, UnsupportedOpError
from ..tflite.model import Operator
from . import prepare
from .contract import ConvertContext
from .fold import BATCHES, constant_value, is_fixed
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

Known = tuple[np.ndarray, np.ndarray]
INT32_MAX = 2**31 - 1


def known(ctx: ConvertContext, op: Operator, slot: int) -> Known | None:
    """Input ``slot``'s value at each folding batch (shape arithmetic), or a constant's value twice;
    None for a tensor computed from the model's inputs (or an absent input)."""
    if not op.has_input(slot):
        return None
    folded = ctx.folded_value(op, slot)
    if folded is not None:
        return folded
    if ctx.tfl.is_constant(op.inputs[slot]):
        value = np.asarray(ctx.constant(op, slot)).reshape(ctx.tfl.tensor(op.inputs[slot]).shape)
        return value, value
    empty = constant_value(ctx.tfl, op.inputs[slot])  # an empty constant has no bytes to read
    return None if empty is None else (empty, empty)


def fixed(ctx: ConvertContext, op: Operator, slot: int, what: str) -> np.ndarray:
    """The batch-independent value of input ``slot``.

    Raises:
        UnsupportedOpError: the input is a tensor, or shape arithmetic that depends on the batch.
    """
    value = known(ctx, op, slot)
    if value is None:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) {what} (input {slot}) is not a constant")
    if not is_fixed(value):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) {what} {value[0].tolist()} at batch {BATCHES[0]} "
                                 f"({value[1].tolist()} at batch {BATCHES[1]}) depends on the batch")
    return value[0]


def non_batch_axis(op: Operator, axis: Any, rank: int, what: str = "axis") -> int:
    """``axis`` in ``[0, rank)``; raises for the batch axis or one out of range."""
    a = int(np.asarray(axis).reshape(-1)[0])
    if not -rank <= a < rank:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) {what} {a} is out of range for rank {rank}")
    if a % rank == 0:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with {what} {a} works on the batch axis")
    return a % rank


def static_batch(ctx: ConvertContext, index: int) -> int | None:
    """The fixed batch extent of tensor ``index`` in the file, or None when its signature leaves it free."""
    tensor = ctx.tfl.tensor(index)
    signature = tuple(tensor.shape_signature or tensor.shape)
    return int(tensor.shape[0]) if signature and signature[0] > 0 else None


def is_the_batch(value: Known, position: int, batch: int | None) -> bool:
    """True when element ``position`` of a shape-like vector is the batch: the batch itself when
    folded, or the file's fixed batch extent ``batch``."""
    a, b = (int(np.asarray(v).reshape(-1)[position]) for v in value)
    return (a, b) == BATCHES or (a == b and batch is not None and a == batch)


def batch_source(ctx: ConvertContext, op: Operator, slot: int) -> Any:
    """A Keras tensor with the batch that input ``slot`` (folded shape arithmetic) follows: the
    nearest converted tensor upstream, in practice the input of the SHAPE op it came from."""
    seen: set[int] = set()
    todo = [op.inputs[slot]]
    while todo:
        index = todo.pop()
        if index in ctx.tensors:
            return ctx.tensors[index]
        if index < 0 or index in seen:
            continue
        seen.add(index)
        producer = ctx.tfl.producer(index)
        if producer is not None:
            todo.extend(producer.inputs)
    raise UnsupportedOpError(f"op {op.index} ({op.opcode}) input {slot} follows the batch, but comes from no "
                             "converted tensor")


def folding(fn: Callable[[Any, list[Any]], list[Any]]) -> Callable[[Any, list[Any]], list[Any]]:
    """Wrap an ``OpSpec.fold``: numpy's errors on inputs TFLite would reject become UnsupportedOpError."""
    @wraps(fn)
    def fold(op: Operator, values: list[Any]) -> list[Any]:
        try:
            return fn(op, values)
        except Tflite2KerasError:
            raise
        except (ValueError, IndexError, TypeError) as err:
            raise UnsupportedOpError(f"op {op.index} ({op.opcode}) does not fold: {err}") from None
    return fold


def convert_concatenation(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    axis = int(op.options.get("axis", 0))
    non_batch_axis(op, axis, len(ctx.tfl.tensor(op.outputs[0]).shape))
    name = ctx.name(op)
    tensors = [ctx.input(op, i) for i in range(len(op.inputs))]
    layer = keras.layers.Concatenate(axis=axis, name=name) if len(tensors) > 1 else keras.layers.Identity(name=name)
    out = layer(tensors if len(tensors) > 1 else tensors[0])
    return [ctx.activate(out, op, name)]


@folding
def fold_concatenation(op: Operator, values: list[Any]) -> list[Any]:
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise UnsupportedOpError(f"op {op.index} (CONCATENATION) with a fused activation does not fold")
    arrays = [np.asarray(v) for v in values]
    return [np.concatenate(arrays, axis=int(op.options.get("axis", 0)) % max(arrays[0].ndim, 1))]


def strided_axes(op: Operator, count: int, rank: int) -> list[tuple[int | None, int | None]]:
    """The axes of a STRIDED_SLICE with its ellipsis and new axes expanded, as TFLite's kernel does:
    (input axis or None for a new axis, index into begin/end/strides or None for a whole axis)."""
    o = op.options
    ellipsis, new_axis = int(o.get("ellipsis_mask", 0)), int(o.get("new_axis_mask", 0))
    if bin(ellipsis).count("1") > 1:
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) with ellipsis_mask {ellipsis}: more than one")
    added = sum(1 for i in range(count) if not ellipsis >> i & 1 and new_axis >> i & 1)
    dims = rank + added
    covered, new, start, expanded, i = set(), set(), dims, 0, 0
    while i < dims:
        if ellipsis >> i & 1:
            start, stop = i, max(i + 1, min(i + 1 + added + rank - count, dims))
            expanded = stop - start - 1
            covered.update(range(start, stop))
            i = stop
            continue
        if new_axis >> (i - expanded) & 1:
            new.add(i)
        i += 1
    axes: list[tuple[int | None, int | None]] = []
    source = 0
    for i in range(dims):
        if i in new and i not in covered:
            axes.append((None, None))
            continue
        spec = None if i in covered or i >= count + expanded else i - (expanded if i > start else 0)
        axes.append((source, spec))
        source += 1
    if source != rank:
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) masks {dict(o)} do not cover rank {rank}")
    return axes


def _bits(op: Operator, spec: int) -> tuple[bool, bool, bool]:
    o = op.options
    return tuple(bool(int(o.get(m, 0)) >> spec & 1) for m in ("begin_mask", "end_mask", "shrink_axis_mask"))


def _start(b: int, s: int, masked: bool, size: int) -> int:
    """TFLite's first index on an axis of known ``size``."""
    if masked:
        return 0 if s > 0 else size - 1
    b = b + size if b < 0 else b
    return min(max(b, 0), size) if s > 0 else min(max(b, -1), size - 1)


def strided_item(op: Operator, triple: tuple[int, int, int], spec: int, size: int | None) -> int | slice:
    """The numpy index (an int for a shrunk axis, else a slice) that does what TFLite's kernel does on
    one axis: Python's slice semantics are TFLite's, but ``offset`` ends and shrinks need the size."""
    b, e, s = triple
    begin_masked, end_masked, shrink = _bits(op, spec)
    if s == 0 or (shrink and s < 0):  # TFLite's kernel writes nothing for a shrunk axis with a negative stride
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has stride {s}{' on a shrunk axis' if s else ''}")
    if size is None:
        if op.options.get("offset"):
            raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with offset on an axis of dynamic size")
        if shrink:
            return 0 if begin_masked else b
        return slice(None if begin_masked else b, None if end_masked else e, s)
    start = _start(b, s, begin_masked, size)
    if shrink:
        if not 0 <= start < size:
            raise UnsupportedOpError(f"op {op.index} ({op.opcode}) index {b} is out of range for size {size}")
        return start
    end = e + start if op.options.get("offset") else e
    end = end + size if end < 0 else end
    end = min(max(end, 0), size) if s > 0 else min(max(end, -1), size - 1)
    if end_masked:
        end = size if s > 0 else -1
    if start < 0:
        return slice(0, 0, 1)  # a backward slice that starts before the first element is empty
    return slice(start, None if end < 0 else end, s)


def _keeps_batch(ctx: ConvertContext, op: Operator, axis: tuple[int | None, int | None], triples: list[tuple[int, int, int]],
                 end: Known) -> bool:
    """True when the first axis of a STRIDED_SLICE is the input's batch axis, kept whole at every batch."""
    source, spec = axis
    if source != 0 or spec is None:
        return source == 0
    b, e, s = triples[spec]
    begin_masked, end_masked, shrink = _bits(op, spec)
    batch = static_batch(ctx, op.inputs[0])
    follows = int(end[0].reshape(-1)[spec]) != int(end[1].reshape(-1)[spec])
    to_the_end = (end_masked or e >= INT32_MAX or (follows and is_the_batch(end, spec, None))
                  or (not follows and batch is not None and e >= batch))
    return not shrink and s == 1 and (begin_masked or b == 0) and to_the_end


def convert_strided_slice(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import StridedSlice

    x = ctx.input(op, 0)
    begin, strides = fixed(ctx, op, 1, "begin").reshape(-1), fixed(ctx, op, 3, "strides").reshape(-1)
    end = known(ctx, op, 2)
    if end is None or len(end[0].reshape(-1)) != len(begin) or len(strides) != len(begin):
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) needs constant begin, end and strides of one length")
    axes = strided_axes(op, len(begin), len(x.shape))
    triples = [(int(b), int(e), int(s)) for b, e, s in zip(begin, end[0].reshape(-1), strides)]
    if not _keeps_batch(ctx, op, axes[0], triples, end):
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) with begin {begin.tolist()}, end "
                                 f"{end[0].tolist()}, strides {strides.tolist()}, options {dict(op.options)} "
                                 "slices the batch axis or adds an axis before it")
    moving = set(np.flatnonzero(end[0].reshape(-1) != end[1].reshape(-1)).tolist()) - {axes[0][1]}
    if moving:
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) end {end[0].tolist()} depends on the batch "
                                 f"at positions {sorted(moving)}, off the batch axis")
    begin_l: list[int | None] = []
    end_l: list[int | None] = []
    strides_l: list[int] = []
    shrink: list[int] = []
    new: list[int] = []
    for position, (source, spec) in enumerate(axes[1:]):
        if source is None:
            new.append(position)
            continue
        item = slice(None) if spec is None else strided_item(op, triples[spec], spec, x.shape[source])
        if isinstance(item, slice):
            begin_l.append(item.start)
            end_l.append(item.stop)
            strides_l.append(item.step or 1)
        else:
            shrink.append(len(begin_l))
            begin_l.append(item)
            end_l.append(None)
            strides_l.append(1)
    return [StridedSlice(begin_l, end_l, strides_l, shrink_axes=shrink, new_axes=new, name=ctx.name(op))(x)]


@folding
def fold_strided_slice(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    begin, end, strides = (np.asarray(v).reshape(-1).tolist() for v in values[1:4])
    index = []
    for source, spec in strided_axes(op, len(begin), x.ndim):
        if source is None:
            index.append(None)
        else:
            triple = (int(begin[spec]), int(end[spec]), int(strides[spec])) if spec is not None else None
            index.append(slice(None) if triple is None else strided_item(op, triple, spec, x.shape[source]))
    return [np.array(x[tuple(index)])]


def convert_slice(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import StridedSlice

    x = ctx.input(op, 0)
    begin = [int(b) for b in fixed(ctx, op, 1, "begin").reshape(-1)]
    size_pair = known(ctx, op, 2)
    if size_pair is None:
        raise UnsupportedOpError(f"op {op.index} (SLICE) size (input 2) is not a constant")
    size = [int(s) for s in size_pair[0].reshape(-1)]
    whole = begin[0] == 0 and (size[0] == -1 or is_the_batch(size_pair, 0, static_batch(ctx, op.inputs[0])))
    if not whole:
        raise UnsupportedOpError(f"op {op.index} (SLICE) with begin {begin}, size {size} slices the batch axis")
    if not is_fixed((size_pair[0].reshape(-1)[1:], size_pair[1].reshape(-1)[1:])):
        raise UnsupportedOpError(f"op {op.index} (SLICE) size {size} depends on the batch off the batch axis")
    ends: list[int | None] = []
    for b, s, dim in zip(begin[1:], size[1:], x.shape[1:]):
        if b < 0 or s < -1 or (dim is not None and (b > dim or (s >= 0 and b + s > dim))):
            raise UnsupportedOpError(f"op {op.index} (SLICE) begin {begin}, size {size} out of range of {x.shape}")
        ends.append(None if s == -1 else b + s)
    return [StridedSlice(begin[1:], ends, [1] * len(ends), name=ctx.name(op))(x)]


@folding
def fold_slice(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    begin, size = (np.asarray(v).reshape(-1).tolist() for v in values[1:3])
    index = []
    for b, s, dim in zip(begin, size, x.shape):
        if b < 0 or s < -1 or b + max(s, 0) > dim:
            raise UnsupportedOpError(f"op {op.index} (SLICE) begin {begin}, size {size} out of range of {x.shape}")
        index.append(slice(int(b), dim if s == -1 else int(b + s)))
    return [np.array(x[tuple(index)])]


register_op(OpSpec("CONCATENATION", layers=("Concatenate", "Identity"), fused_activation=True,
                   converter=convert_concatenation, fold=fold_concatenation, prepare=(prepare.concatenation,)))
register_op(OpSpec("STRIDED_SLICE", layers=("StridedSlice",), converter=convert_strided_slice,
                   fold=fold_strided_slice))
register_op(OpSpec("SLICE", layers=("StridedSlice",), converter=convert_slice, fold=fold_slice))
