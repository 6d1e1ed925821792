"""Shape arithmetic folded at convert time, with the batch kept free."""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import TFLiteModel

#: The batch sizes shape arithmetic is evaluated at; a value equal at both is batch-independent.
BATCHES = (2, 3)
Folded = tuple[np.ndarray, np.ndarray]


def fold(tfl: TFLiteModel) -> dict[int, Folded]:
    """tensor index -> its value at each batch of :data:`BATCHES`, for shape arithmetic."""
    return {}


def is_fixed(value: Any) -> bool:
    """True when a folded value is the same at every batch."""
    return value is not None and np.array_equal(value[0], value[1])
