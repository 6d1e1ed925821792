"""Patterns: chains of TFLite ops that one standard Keras layer computes (LayerNorm, GELU, ...).

``find(tfl)`` returns the matches; ``convert`` builds each match's layers in place of its ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .model import TFLiteModel


@dataclass(frozen=True)
class PatternMatch:
    """One occurrence of a pattern: the ops it covers and how to build their Keras layers.

    Attributes:
        pattern: the pattern's name.
        ops: the covered op indices, in graph order; only the last op's outputs are used
            outside the match.
        build: ``build(ctx) -> {tflite tensor index: keras tensor}`` for those outputs.
    """

    pattern: str
    ops: tuple[int, ...]
    build: Callable[[Any], dict[int, Any]]


def find(tfl: TFLiteModel) -> list[PatternMatch]:
    """Every non-overlapping pattern match in subgraph 0, in graph order."""
    return []
