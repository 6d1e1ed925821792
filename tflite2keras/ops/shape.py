"""Ops that move data around without arithmetic: reshape, concatenation, padding, resize."""

from __future__ import annotations

from ..registry import OpSpec, register_op
from . import checks

register_op(OpSpec("RESHAPE", layers=("Reshape", "Flatten")))
register_op(OpSpec("CONCATENATION", layers=("Concatenate",), fused_activation=True))
register_op(OpSpec("PAD", layers=("ChannelPadding", "ZeroPadding2D")))
register_op(OpSpec("RESIZE_BILINEAR", layers=("UpSampling2D", "Resizing"), checks=(checks.resize,)))
register_op(OpSpec("RESIZE_NEAREST_NEIGHBOR", layers=("UpSampling2D", "Resizing"), checks=(checks.resize,)))
