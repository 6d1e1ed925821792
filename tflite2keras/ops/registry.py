"""The one registry of op knowledge, keyed by TFLite opcode or custom code.

Each :class:`OpSpec` says which Keras layer classes an op maps onto, which of its
input slots hold weights and in which layout, and how to check a Keras layer's
config against the op's options (used by :func:`tflite2keras.lint`). Converter
modules under :mod:`tflite2keras.ops` register their specs on import; users add or
replace ops from a notebook with :func:`register_op`.

Example:
    >>> from tflite2keras.ops.registry import OpSpec, WeightSlot, register_op, get
    >>> from tflite2keras.ops.layout import Layout
    >>> _ = register_op(OpSpec(
    ...     "MY_CONV", layers=("Conv2D",),
    ...     weights=(WeightSlot(1, "kernel", Layout("OHWI", "HWIO")), WeightSlot(2, "bias"))))
    >>> get("MY_CONV").weight_roles
    ('kernel', 'bias')
"""

from __future__ import annotations

from ..errors import UnsupportedOpError
from .spec import (
    Check,
    Mismatch,
    OpSpec,
    PrepareCheck,
    Rejection,
    WeightSlot,
    is_weight,
)

__all__ = ["Check", "Mismatch", "OpSpec", "PrepareCheck", "Rejection", "WeightSlot", "find", "generation", "get",
           "is_weight", "register_op", "specs"]

_REGISTRY: dict[str, OpSpec] = {}
_generation = 0


def generation() -> tuple[int, int]:
    """Changes whenever the registry does: a key for results derived from it (``TFLiteModel.derived``)."""
    return _generation, id(_REGISTRY)


def register_op(spec: OpSpec, *, override: bool = False) -> OpSpec:
    """Add an op to the registry.

    Args:
        spec: the op's description.
        override: replace an existing entry of the same opcode (otherwise that raises).

    Returns:
        ``spec``, so the call can be used as an expression.

    Raises:
        ValueError: the opcode is registered already and ``override`` is False.

    Example:
        >>> from tflite2keras.ops.registry import OpSpec, register_op
        >>> _ = register_op(OpSpec("MY_RELU", layers=("ReLU",)), override=True)
    """
    if spec.opcode in _REGISTRY and not override:
        raise ValueError(f"op {spec.opcode!r} is registered already; pass override=True to replace it")
    global _generation
    _REGISTRY[spec.opcode] = spec
    _generation += 1
    return spec


def get(opcode: str) -> OpSpec:
    """The spec of ``opcode``.

    Raises:
        UnsupportedOpError: no spec is registered for it.
    """
    try:
        return _REGISTRY[opcode]
    except KeyError:
        raise UnsupportedOpError(
            f"no op spec is registered for {opcode!r}; register one with "
            "tflite2keras.ops.registry.register_op (see README, 'Adding an op')"
        ) from None


def find(opcode: str) -> OpSpec | None:
    """The spec of ``opcode``, or None."""
    return _REGISTRY.get(opcode)


def specs() -> dict[str, OpSpec]:
    """A copy of the whole registry, opcode -> spec."""
    return dict(_REGISTRY)
