"""Scatters and segment reductions: SCATTER_ND and UNSORTED_SEGMENT_SUM / _MAX / _MIN / _PROD.

These ops write along axis 0, which in a converted model is the batch axis, so only the forms that
are exact at any batch convert:

- ``SCATTER_ND`` with tensor indices and updates (both with the batch axis) and a constant shape:
  every sample's updates go into one output of that fixed shape, as TFLite does at any batch.
- ``SCATTER_ND`` with constant indices, tensor updates and a constant shape whose batch extent is 1,
  every index tuple starting at 0: a scatter within each sample.
- ``UNSORTED_SEGMENT_*`` with tensor data and segment ids (both with the batch axis) and a constant
  ``num_segments``: the output ``(num_segments, ...)`` reduces every sample, as TFLite does at any batch.

``SEGMENT_SUM`` has no converter: its output extent is the largest segment id plus one, a value
known only when the model runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

SEGMENT_OPS = {"UNSORTED_SEGMENT_SUM": "sum", "UNSORTED_SEGMENT_MAX": "max", "UNSORTED_SEGMENT_MIN": "min",
               "UNSORTED_SEGMENT_PROD": "prod"}


def convert_scatter_nd(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """SCATTER_ND in the two forms exact at any batch (see the module docstring)."""
    from ..layers import ScatterND

    if not ctx.is_constant(op, 2) or ctx.is_constant(op, 1):
        raise UnsupportedOpError(f"op {op.index} (SCATTER_ND) needs tensor updates and a constant shape")
    shape = [int(d) for d in np.asarray(ctx.constant(op, 2)).reshape(-1)]
    index_shape = tuple(ctx.tfl.tensor(op.inputs[0]).shape)
    if len(index_shape) < 2:
        raise UnsupportedOpError(f"op {op.index} (SCATTER_ND) with indices of shape {index_shape}: their first axis "
                                 "must be the batch axis of the updates")
    if not ctx.is_constant(op, 0):
        return [ScatterND(shape, name=ctx.name(op))([ctx.input(op, 0), ctx.input(op, 1)])]
    indices = np.asarray(ctx.constant(op, 0)).reshape(index_shape)
    if shape[:1] != [1] or index_shape[0] != 1 or np.any(indices[..., 0] != 0):
        raise UnsupportedOpError(
            f"op {op.index} (SCATTER_ND) with constant indices into shape {shape} writes along the batch axis: only a "
            "batch extent of 1, indices of batch extent 1 and every index tuple starting at 0 convert")
    return [ScatterND(shape[1:], indices=indices[0, ..., 1:].tolist(), name=ctx.name(op))(ctx.input(op, 1))]


def convert_unsorted_segment(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """UNSORTED_SEGMENT_* of tensor data and ids into a constant number of segments (no batch axis)."""
    from ..layers import UnsortedSegment

    if ctx.is_constant(op, 0) or ctx.is_constant(op, 1) or not ctx.is_constant(op, 2):
        raise UnsupportedOpError(
            f"op {op.index} ({op.opcode}) reduces along the batch axis: only tensor data and segment ids (both "
            f"with the batch axis) and a constant num_segments convert (constant: data {ctx.is_constant(op, 0)}, segment ids "
            f"{ctx.is_constant(op, 1)}, num_segments {ctx.is_constant(op, 2)})")
    count = np.asarray(ctx.constant(op, 2)).reshape(-1)
    if len(count) != 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) num_segments {count.tolist()} is not one value")
    layer = UnsortedSegment(SEGMENT_OPS[op.opcode], int(count[0]), name=ctx.name(op))
    return [layer([ctx.input(op, 0), ctx.input(op, 1)])]


register_op(OpSpec("SCATTER_ND", layers=("ScatterND",), converter=convert_scatter_nd))
for _opcode in SEGMENT_OPS:
    register_op(OpSpec(_opcode, layers=("UnsortedSegment",), converter=convert_unsorted_segment))
