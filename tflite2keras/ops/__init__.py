"""Builtin op specs, one module per op family; importing this package registers them."""

from . import activation, conv, elementwise, mediapipe, pool, resize, shape  # noqa: F401
