"""MediaPipe's custom ops."""

from __future__ import annotations

from ..layout import OHWI_TO_HWOI
from ..registry import OpSpec, WeightSlot, register_op

# Inputs are (input, weights, bias).
register_op(OpSpec(
    "Convolution2DTransposeBias", layers=("Conv2DTranspose",),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(2, "bias")),
))
