"""Activations, including PReLU and its per-channel alpha."""

from __future__ import annotations

from ..layout import RESHAPE
from ..registry import OpSpec, WeightSlot, register_op
from . import checks

register_op(OpSpec(
    "PRELU", layers=("PReLU",), checks=(checks.prelu_shared_axes,),
    weights=(WeightSlot(1, "alpha", RESHAPE, optional=False),),
))
register_op(OpSpec("RELU", layers=("ReLU", "Activation")))
register_op(OpSpec("RELU6", layers=("ReLU", "Activation")))
register_op(OpSpec("LOGISTIC", layers=("Activation",)))
register_op(OpSpec("TANH", layers=("Activation",)))
register_op(OpSpec("HARD_SWISH", layers=("Activation",)))
register_op(OpSpec("SOFTMAX", layers=("Softmax", "Activation")))
