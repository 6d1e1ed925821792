"""The tensor ranks and shapes the interpreter's Prepare rejects, as ``OpSpec.prepare`` checks.

A corrupt but readable file can give an op tensors whose shapes disagree: a rank-3 input to a
``CONV_2D``, a 2-D filter, a filter whose input channels differ from the input's, a bias of the
wrong length, an ``ADD`` of shapes that do not broadcast, a ``RESHAPE`` to another number of
elements. The interpreter's Prepare refuses each (``conv.cc``, ``depthwise_conv.cc``,
``transpose_conv.cc``, ``fully_connected.cc``, ``pooling.cc``, ``add.cc``, ``reshape.cc``); Keras
would fail later with its own errors. Each check here yields a
:data:`~tflite2keras.ops.registry.Rejection` ``(what, received, expected)`` naming the input slot and
its tensor; :func:`tflite2keras.ops.prepare.validate` raises them as an
:class:`~tflite2keras.errors.InvalidModelError` with the op index and opcode.

Put a :func:`ranks` check first in a spec's ``prepare``: the checks after it index the dimensions
it guarantees, and ``prepare.rejections`` stops at the first check that rejects. A dimension
below 0 (a dynamic one) agrees with anything.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> model = read(tiny.tflite())
    >>> conv = model.operators[0]
    >>> list(ranks({0: 4, 1: 4})(conv, model)), list(conv_shapes(conv, model))
    ([], [])
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..tflite.model import Operator, TFLiteModel
from .registry import PrepareCheck, Rejection


def _shape(model: TFLiteModel, op: Operator, slot: int) -> tuple[int, ...] | None:
    """The shape of input ``slot``, -1 where its signature says the dimension is dynamic (the
    stored extent is then a placeholder); None when the op has no such input."""
    if not op.has_input(slot):
        return None
    tensor = model.tensor(op.inputs[slot])
    shape, signature = tuple(tensor.shape), tuple(tensor.shape_signature or ())
    if len(signature) != len(shape):
        return shape
    return tuple(-1 if s < 0 else d for d, s in zip(shape, signature))


def _what(model: TFLiteModel, op: Operator, slot: int) -> str:
    return f"input {slot} {model.tensor(op.inputs[slot]).name!r} shape"


def _differ(a: int, b: int) -> bool:
    """Two known dimensions that differ (a dynamic one, below 0, agrees with anything)."""
    return a >= 0 and b >= 0 and a != b


def _elements(shape: tuple[int, ...]) -> int | None:
    """The number of elements, or None when a dimension is dynamic."""
    return None if any(d < 0 for d in shape) else math.prod(shape)


def ranks(wanted: dict[int, int]) -> PrepareCheck:
    """A check that each input slot of ``wanted`` (slot -> rank), when present, has that rank.

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> model = read(tiny.tflite())
        >>> list(ranks({0: 3})(model.operators[0], model))
        [("input 0 'args_0' shape", (1, 8, 8, 3), 'rank 3')]
    """
    def check(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
        if model is None:
            return
        for slot, rank in wanted.items():
            shape = _shape(model, op, slot)
            if shape is not None and len(shape) != rank:
                yield _what(model, op, slot), shape, f"rank {rank}"
    return check


def _bias(model: TFLiteModel, op: Operator, slot: int, units: int, source: str) -> Iterator[Rejection]:
    """The bias in ``slot``, when present, has ``units`` elements (the interpreter's NumElements check)."""
    shape = _shape(model, op, slot)
    if shape is not None and units >= 0 and _elements(shape) not in (None, units):
        yield _what(model, op, slot), shape, f"{units} elements, {source}"


def conv_shapes(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``CONV_2D`` (after ``ranks({0: 4, 1: 4})``): the filter's input channels divide the input's
    channels (their quotient is the number of groups), the groups divide its output channels, and
    the bias has one value per output channel."""
    if model is None:
        return
    channels = _shape(model, op, 0)[3]
    out_c, *_, in_c = _shape(model, op, 1)
    if in_c < 0 or out_c < 0:
        return  # a filter computed at run time
    if in_c == 0 or channels >= 0 and (channels % in_c or channels < in_c or out_c % (channels // in_c)):
        yield (_what(model, op, 1), _shape(model, op, 1),
               f"input channels dividing the input's {channels} channels into groups that divide the output "
               "channels")
        return
    yield from _bias(model, op, 2, out_c, "the filter's output channels")


def depthwise_shapes(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``DEPTHWISE_CONV_2D`` (after ``ranks``): the filter is ``[1, H, W, C]`` and the bias has
    ``C`` values (the channel multiple is :func:`~tflite2keras.ops.prepare.depth_multiplier`'s)."""
    if model is None:
        return
    filters = _shape(model, op, 1)
    if _differ(filters[0], 1):
        yield _what(model, op, 1), filters, "1 as its first dimension ([1, height, width, channels])"
    channels = _shape(model, op, 0)[3]
    if filters[3] == 0 or channels == 0:
        yield _what(model, op, 1), filters, "at least 1 channel, on an input of at least 1 channel"
        return
    yield from _bias(model, op, 2, filters[3], "the filter's channels")


def transpose_conv_shapes(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``TRANSPOSE_CONV`` (after ``ranks({0: 1, 1: 4, 2: 4})``): 4 output-shape values, the
    weights' input channels equal the input's, and the bias has one value per output channel."""
    if model is None:
        return
    if _differ(_shape(model, op, 0)[0], 4):
        yield _what(model, op, 0), _shape(model, op, 0), "(4,): the output's 4 dimensions"
    weights, channels = _shape(model, op, 1), _shape(model, op, 2)[3]
    if _differ(weights[3], channels):
        yield _what(model, op, 1), weights, f"{channels} input channels, the input's"
    yield from _bias(model, op, 3, weights[0], "the weights' output channels")


def fully_connected_shapes(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``FULLY_CONNECTED`` (after ``ranks({1: 2})``): the input holds whole rows of the weights'
    column count (its last dimension is that count when the op keeps its dimensions or the
    input is 2-D), and the bias has one value per unit."""
    if model is None:
        return
    units, columns = _shape(model, op, 1)
    shape = _shape(model, op, 0)
    elements = _elements(shape)
    if columns <= 0:
        if columns == 0:  # below 0: computed at run time
            yield _what(model, op, 1), (units, columns), "at least 1 column"
        return
    weights = f"the columns of input 1 {model.tensor(op.inputs[1]).name!r} {(units, columns)}"
    if (op.options.get("keep_num_dims") or len(shape) <= 2) and shape and _differ(shape[-1], columns):
        yield _what(model, op, 0), shape, f"a last dimension of {columns}, {weights}"
    elif not shape or elements is not None and elements % columns:
        yield _what(model, op, 0), shape, f"a multiple of {columns} elements, {weights}"
    yield from _bias(model, op, 2, units, "the weights' units")


def broadcastable(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """A binary op (``ADD``, ``MUL``, ``PRELU`` ...): its first two inputs' shapes broadcast
    (aligned on the last axis, each pair of dimensions equal or one of them 1)."""
    if model is None or not (op.has_input(0) and op.has_input(1)):
        return
    a, b = _shape(model, op, 0), _shape(model, op, 1)
    if any(x != 1 and y != 1 and _differ(x, y) for x, y in zip(a[::-1], b[::-1])):
        yield _what(model, op, 1), b, f"a shape that broadcasts with input 0 {model.tensor(op.inputs[0]).name!r} {a}"


def reshape_size(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``RESHAPE`` to a constant target (its shape input, else its ``new_shape`` option): at most
    one -1, and as many elements as its input (``reshape.cc``)."""
    if model is None or not op.has_input(0):
        return
    if op.has_input(1):
        if not model.is_constant(op.inputs[1]) or len(model.tensor(op.inputs[1]).shape) != 1:
            return  # computed at run time (or the legacy scalar form): nothing to compare before
        target = [int(d) for d in model.constant(op.inputs[1]).reshape(-1)]
    elif op.options.get("new_shape") is not None:
        target = [int(d) for d in op.options["new_shape"]]
    else:
        return
    given = _elements(_shape(model, op, 0))
    known = math.prod(d for d in target if d != -1)
    if target.count(-1) > 1 or any(d < -1 for d in target):
        yield "target shape", tuple(target), "at most one -1 and no other negative dimension"
    elif given is not None and (given != known if -1 not in target else known == 0 or given % known):
        where = f"input 1 {model.tensor(op.inputs[1]).name!r}" if op.has_input(1) else "new_shape"
        yield (_what(model, op, 0), _shape(model, op, 0),
               f"{'a multiple of ' if -1 in target else ''}{known} elements, for the target shape {tuple(target)} "
               f"({where})")


def same_shape(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``DEQUANTIZE``, ``QUANTIZE``, ``DENSIFY``: the output has the input's shape (the interpreter
    sizes it so; a constant passed through keeps the input's, whatever the file says)."""
    if model is None or not op.has_input(0) or not op.outputs or op.outputs[0] < 0:
        return
    given, output = _shape(model, op, 0), tuple(model.tensor(op.outputs[0]).shape)
    if len(given) != len(output) or any(_differ(a, b) for a, b in zip(given, output)):
        yield f"output 0 {model.tensor(op.outputs[0]).name!r} shape", output, f"{given}, the input's"


def paddings(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``PAD``, ``PADV2``, ``MIRROR_PAD``: the paddings are ``[rank of the input, 2]`` (``pad.cc``)."""
    if model is None or not (op.has_input(0) and op.has_input(1)):
        return
    rank, pairs = len(_shape(model, op, 0)), _shape(model, op, 1)
    if len(pairs) != 2 or _differ(pairs[0], rank) or _differ(pairs[1], 2):
        yield _what(model, op, 1), pairs, f"({rank}, 2): a pair per dimension of the rank-{rank} input"


#: The spec checks of the 4-D image ops (input 0 of rank 4).
IMAGE = (ranks({0: 4}),)

__all__ = ["IMAGE", "broadcastable", "conv_shapes", "depthwise_shapes", "fully_connected_shapes", "paddings",
           "ranks", "reshape_size", "same_shape", "transpose_conv_shapes"]
