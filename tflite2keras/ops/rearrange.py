"""Ops that rearrange a tensor without arithmetic: TRANSPOSE, SQUEEZE, EXPAND_DIMS, SPACE_TO_DEPTH,
DEPTH_TO_SPACE, TILE, BROADCAST_TO, REVERSE_V2, REVERSE_SEQUENCE, MATRIX_DIAG and MATRIX_SET_DIAG.

Standard Keras layers where they compute the op exactly (``Permute``, ``Reshape``); the batch
axis is never moved, squeezed, tiled or reversed. A TRANSPOSE that moves axis 0, or a SQUEEZE /
EXPAND_DIMS of axis 0, raises :class:`~tflite2keras.errors.BatchAxisError`; with fixed shapes (axis 0 is
data) they become the full-tensor :class:`~tflite2keras.layers.FixedTranspose` and
:class:`~tflite2keras.layers.FixedReshape`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BatchAxisError, UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext, full_shape
from .fold import MAX_CONSTANT_ELEMENTS, is_fixed
from .registry import OpSpec, register_op
from .shape import (
    batch_source,
    fixed,
    folding,
    is_the_batch,
    known,
    non_batch_axis,
    static_batch,
)

if TYPE_CHECKING:
    from keras import KerasTensor


def reshape_target(ctx: ConvertContext, op: Operator) -> tuple[int, ...]:
    """The non-batch extents of the op's output for ``keras.layers.Reshape`` (-1 for one dynamic extent)."""
    tensor = ctx.tfl.tensor(op.outputs[0])
    rest = tuple(tensor.shape_signature or tensor.shape)[1:]
    if sum(d < 0 for d in rest) > 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) output {list(rest)} has more than one dynamic extent")
    return tuple(-1 if d < 0 else int(d) for d in rest)


def fixed_reshape(ctx: ConvertContext, op: Operator) -> KerasTensor:
    """With fixed shapes: input 0 reshaped to the output's full shape, axis 0 included.

    Raises:
        UnsupportedOpError: the output has a dynamic extent.
    """
    from ..layers import FixedReshape

    shape = full_shape(ctx.tfl.tensor(op.outputs[0]))
    if None in shape:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) output {list(shape)} has a dynamic extent: with "
                                 "fixed shapes every extent must be known")
    return FixedReshape(shape, name=ctx.name(op))(ctx.input(op, 0))


def small(op: Operator, shape: Any) -> tuple[int, ...]:
    """``shape`` as ints, for a fold whose output has at most MAX_CONSTANT_ELEMENTS elements (shape
    arithmetic); larger outputs are data and do not fold."""
    dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
    if min(dims, default=0) < 0 or int(np.prod(dims)) > MAX_CONSTANT_ELEMENTS:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) output {list(dims)} is not shape arithmetic")
    return dims


def convert_transpose(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    x = ctx.input(op, 0)
    rank = len(x.shape)
    perm = [int(p) for p in fixed(ctx, op, 1, "perm").reshape(-1)]
    if sorted(p % rank for p in perm) != list(range(rank)) or any(not -rank <= p < rank for p in perm):
        raise UnsupportedOpError(f"op {op.index} (TRANSPOSE) perm {perm} is not a permutation of rank {rank}")
    perm = [p % rank for p in perm]
    if perm[0] != 0 and ctx.fixed_batch is not None:
        from ..layers import FixedTranspose

        return [FixedTranspose(perm, name=ctx.name(op))(x)]
    if perm[0] != 0:
        raise BatchAxisError(f"op {op.index} (TRANSPOSE) with perm {perm} moves the batch axis")
    if rank == 1:
        return [keras.layers.Identity(name=ctx.name(op))(x)]
    return [keras.layers.Permute(tuple(perm[1:]), name=ctx.name(op))(x)]


@folding
def fold_transpose(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    perm = [int(p) for p in np.asarray(values[1]).reshape(-1)]
    if any(not -x.ndim <= p < x.ndim for p in perm):
        raise UnsupportedOpError(f"op {op.index} (TRANSPOSE) perm {perm} is out of range for rank {x.ndim}")
    return [np.transpose(x, [p % x.ndim for p in perm])]


def _squeezed(op: Operator, shape: tuple[int, ...]) -> tuple[int, ...]:
    rank = len(shape)
    dims = [int(d) for d in op.options.get("squeeze_dims") or []]
    if any(not -rank <= d < rank or shape[d % rank] != 1 for d in dims):
        raise UnsupportedOpError(f"op {op.index} (SQUEEZE) squeeze_dims {dims} do not fit the shape {list(shape)}")
    return tuple(sorted({d % rank for d in dims})) if dims else tuple(i for i, d in enumerate(shape) if d == 1)


def convert_squeeze(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    axes = _squeezed(op, tuple(ctx.tfl.tensor(op.inputs[0]).shape))
    if 0 in axes and ctx.fixed_batch is not None:
        return [fixed_reshape(ctx, op)]
    if 0 in axes:
        dims = list(op.options.get("squeeze_dims") or [])
        raise BatchAxisError(f"op {op.index} (SQUEEZE) with squeeze_dims {dims} squeezes the batch axis")
    return [keras.layers.Reshape(reshape_target(ctx, op), name=ctx.name(op))(ctx.input(op, 0))]


@folding
def fold_squeeze(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    return [np.squeeze(x, axis=_squeezed(op, x.shape))]


def _expanded(op: Operator, axis: Any, rank: int) -> int:
    a = int(np.asarray(axis).reshape(-1)[0])
    a = a + rank + 1 if a < 0 else a
    if not 0 <= a <= rank:
        raise UnsupportedOpError(f"op {op.index} (EXPAND_DIMS) axis {a} is out of range for rank {rank}")
    return a


def convert_expand_dims(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    x = ctx.input(op, 0)
    axis = _expanded(op, fixed(ctx, op, 1, "axis"), len(x.shape))
    if axis == 0 and ctx.fixed_batch is not None:
        return [fixed_reshape(ctx, op)]
    if axis == 0:
        raise BatchAxisError(f"op {op.index} (EXPAND_DIMS) with axis 0 adds an axis before the batch axis")
    return [keras.layers.Reshape(reshape_target(ctx, op), name=ctx.name(op))(x)]


@folding
def fold_expand_dims(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    return [np.expand_dims(x, _expanded(op, values[1], x.ndim))]


def convert_space_to_depth(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import SpaceToDepth

    x = ctx.input(op, 0)
    block = int(op.options.get("block_size", 0))
    if len(x.shape) != 4 or block < 1 or any(d is None or d % block for d in x.shape[1:3]):
        raise UnsupportedOpError(f"op {op.index} (SPACE_TO_DEPTH) with block_size {block} on {tuple(x.shape)}: "
                                 "needs NHWC with height and width divisible by it")
    return [SpaceToDepth(block, name=ctx.name(op))(x)]


def convert_depth_to_space(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import DepthToSpace

    return [DepthToSpace(op.options["block_size"], name=ctx.name(op))(ctx.input(op, 0))]


def convert_tile(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Tile

    x = ctx.input(op, 0)
    multiples = [int(m) for m in fixed(ctx, op, 1, "multiples").reshape(-1)]
    if len(multiples) != len(x.shape) or multiples[0] != 1:
        raise UnsupportedOpError(f"op {op.index} (TILE) with multiples {multiples} tiles the batch axis")
    return [Tile(multiples[1:], name=ctx.name(op))(x)]


@folding
def fold_tile(op: Operator, values: list[Any]) -> list[Any]:
    x, multiples = np.asarray(values[0]), [int(m) for m in np.asarray(values[1]).reshape(-1)]
    if len(multiples) != x.ndim:
        raise UnsupportedOpError(f"op {op.index} (TILE) multiples {multiples} for rank {x.ndim}")
    small(op, [d * m for d, m in zip(x.shape, multiples)])
    return [np.tile(x, multiples)]


def convert_broadcast_to(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import BroadcastTo

    target = known(ctx, op, 1)
    if target is None:
        raise UnsupportedOpError(f"op {op.index} (BROADCAST_TO) shape (input 1) is not a constant")
    rest = [int(d) for d in target[0].reshape(-1)[1:]]
    if not is_fixed((target[0].reshape(-1)[1:], target[1].reshape(-1)[1:])):
        raise UnsupportedOpError(f"op {op.index} (BROADCAST_TO) shape {target[0].tolist()} depends on the batch "
                                 "off the batch axis")
    source = known(ctx, op, 0)
    if source is None:
        x = ctx.input(op, 0)
        if len(x.shape) != len(rest) + 1 or not is_the_batch(target, 0, static_batch(ctx, op.inputs[0])):
            raise UnsupportedOpError(f"op {op.index} (BROADCAST_TO) of {tuple(x.shape)} to {target[0].tolist()} "
                                     "broadcasts the batch axis")
        return [BroadcastTo(rest, name=ctx.name(op))(x)]
    value = np.asarray(fixed(ctx, op, 0, "input"))
    if not is_the_batch(target, 0, None) or (value.ndim == len(rest) + 1 and value.shape[0] != 1):
        raise UnsupportedOpError(f"op {op.index} (BROADCAST_TO) of a constant to {target[0].tolist()} (batch "
                                 f"{target[1].tolist()[:1]} at batch 3): only constant inputs, or a fixed batch")
    value = value.astype(np.float32) if value.dtype.kind == "f" else value
    layer = BroadcastTo(rest, constant={"value": value.tolist(), "dtype": str(value.dtype)}, name=ctx.name(op))
    return [layer(batch_source(ctx, op, 1))]


@folding
def fold_broadcast_to(op: Operator, values: list[Any]) -> list[Any]:
    return [np.array(np.broadcast_to(np.asarray(values[0]), small(op, values[1])))]


def convert_reverse_v2(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import StridedSlice

    x = ctx.input(op, 0)
    raw = fixed(ctx, op, 1, "axis").reshape(-1).tolist()
    axes = {non_batch_axis(op, a, len(x.shape)) for a in raw}
    strides = [-1 if a in axes else 1 for a in range(1, len(x.shape))]
    return [StridedSlice([None] * len(strides), [None] * len(strides), strides, name=ctx.name(op))(x)]


def convert_reverse_sequence(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import ReverseSequence

    x = ctx.input(op, 0)
    seq, batch = int(op.options.get("seq_dim", 0)), int(op.options.get("batch_dim", 0))
    if seq == 0 or seq == batch or not (0 <= seq < len(x.shape) and 0 <= batch < len(x.shape)):
        raise UnsupportedOpError(f"op {op.index} (REVERSE_SEQUENCE) with seq_dim {seq}, batch_dim {batch}: the "
                                 "sequence axis must be a non-batch axis other than batch_dim")
    name = ctx.name(op)
    if known(ctx, op, 1) is None:  # lengths computed from the inputs: one per batch element
        if batch != 0:
            raise UnsupportedOpError(f"op {op.index} (REVERSE_SEQUENCE) with batch_dim {batch} takes its "
                                     "seq_lengths from a tensor whose axis 0 is the batch")
        return [ReverseSequence(seq, batch, name=name)([x, ctx.input(op, 1)])]
    lengths = [int(n) for n in fixed(ctx, op, 1, "seq_lengths").reshape(-1)]
    fits = len(lengths) == (static_batch(ctx, op.inputs[0]) if batch == 0 else x.shape[batch]) and (
        batch != 0 or len(lengths) == 1)
    if not fits or any(not 0 <= n <= (x.shape[seq] or 0) for n in lengths):
        raise UnsupportedOpError(f"op {op.index} (REVERSE_SEQUENCE) seq_lengths {lengths} for batch_dim {batch} "
                                 f"of {tuple(x.shape)}: one length per element of a non-batch axis, or one in all")
    return [ReverseSequence(seq, batch, lengths=lengths, name=name)(x)]


def convert_matrix_diag(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import MatrixDiag

    x = ctx.input(op, 0)
    if len(x.shape) < 2 or x.shape[-1] is None:
        raise UnsupportedOpError(f"op {op.index} (MATRIX_DIAG) of {tuple(x.shape)} spreads the batch axis")
    return [MatrixDiag(name=ctx.name(op))(x)]


def convert_matrix_set_diag(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import MatrixSetDiag

    x, diagonal = ctx.input(op, 0), ctx.input(op, 1)
    if len(x.shape) < 3 or len(diagonal.shape) != len(x.shape) - 1 or None in x.shape[-2:]:
        raise UnsupportedOpError(f"op {op.index} (MATRIX_SET_DIAG) of {tuple(x.shape)}: the matrices must be "
                                 "non-batch axes of known size")
    return [MatrixSetDiag(name=ctx.name(op))([x, diagonal])]


register_op(OpSpec("TRANSPOSE", layers=("Permute", "Identity", "FixedTranspose"), converter=convert_transpose, fold=fold_transpose))
register_op(OpSpec("SQUEEZE", layers=("Reshape", "FixedReshape"), converter=convert_squeeze, fold=fold_squeeze))
register_op(OpSpec("EXPAND_DIMS", layers=("Reshape", "FixedReshape"), converter=convert_expand_dims, fold=fold_expand_dims))
register_op(OpSpec("SPACE_TO_DEPTH", layers=("SpaceToDepth",), converter=convert_space_to_depth))
register_op(OpSpec("DEPTH_TO_SPACE", layers=("DepthToSpace",), converter=convert_depth_to_space))
register_op(OpSpec("TILE", layers=("Tile",), converter=convert_tile, fold=fold_tile))
register_op(OpSpec("BROADCAST_TO", layers=("BroadcastTo",), converter=convert_broadcast_to, fold=fold_broadcast_to))
register_op(OpSpec("REVERSE_V2", layers=("StridedSlice",), converter=convert_reverse_v2))
register_op(OpSpec("REVERSE_SEQUENCE", layers=("ReverseSequence",), converter=convert_reverse_sequence))
register_op(OpSpec("MATRIX_DIAG", layers=("MatrixDiag",), converter=convert_matrix_diag))
register_op(OpSpec("MATRIX_SET_DIAG", layers=("MatrixSetDiag",), converter=convert_matrix_set_diag))
