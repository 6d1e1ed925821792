"""Convolutions and fully connected layers: the ops that carry kernels."""

from __future__ import annotations

from ..layout import DEPTHWISE, OHWI_TO_HWIO, OHWI_TO_HWOI, OI_TO_IO
from ..registry import OpSpec, WeightSlot, register_op
from . import checks

_CONV_CHECKS = (checks.kernel_size, checks.strides, checks.dilation, checks.padding,
                checks.activation, checks.use_bias)

register_op(OpSpec(
    "CONV_2D", layers=("Conv2D",), fused_activation=True, checks=_CONV_CHECKS,
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWIO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "DEPTHWISE_CONV_2D", layers=("DepthwiseConv2D",), fused_activation=True,
    checks=_CONV_CHECKS + (checks.depth_multiplier,),
    weights=(WeightSlot(1, "kernel", DEPTHWISE, optional=False), WeightSlot(2, "bias")),
))
# TRANSPOSE_CONV inputs are (output_shape, weights, input, bias).
register_op(OpSpec(
    "TRANSPOSE_CONV", layers=("Conv2DTranspose",), fused_activation=True,
    checks=(checks.strides,),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(3, "bias")),
))
# MediaPipe's custom op: inputs are (input, weights, bias).
register_op(OpSpec(
    "Convolution2DTransposeBias", layers=("Conv2DTranspose",),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "FULLY_CONNECTED", layers=("Dense",), fused_activation=True,
    checks=(checks.activation, checks.use_bias),
    weights=(WeightSlot(1, "kernel", OI_TO_IO, optional=False), WeightSlot(2, "bias")),
))
