"""Element-wise binary ops."""

from __future__ import annotations

from ..registry import OpSpec, register_op
from . import checks

register_op(OpSpec("ADD", layers=("Add",), fused_activation=True, checks=(checks.activation,)))
register_op(OpSpec("MUL", layers=("Multiply",), fused_activation=True, checks=(checks.activation,)))
register_op(OpSpec("SUB", layers=("Subtract",), fused_activation=True, checks=(checks.activation,)))
