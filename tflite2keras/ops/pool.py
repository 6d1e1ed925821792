"""Pooling ops."""

from __future__ import annotations

from ..registry import OpSpec, register_op
from . import checks

_POOL_CHECKS = (checks.pool_size, checks.strides, checks.padding, checks.activation)

register_op(OpSpec("MAX_POOL_2D", layers=("MaxPooling2D",), fused_activation=True, checks=_POOL_CHECKS))
register_op(OpSpec("AVERAGE_POOL_2D", layers=("AveragePooling2D",), fused_activation=True, checks=_POOL_CHECKS))
register_op(OpSpec("MEAN", layers=("GlobalAveragePooling2D",)))
