"""Interleaved timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_runs(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 0) -> dict[str, list[float]]:
    """Seconds of every run of each case, running the cases in turn so drift hits all alike.

    ``warmup`` untimed rounds come first (oneDNN, for one, builds its kernels over the
    first few calls).
    """
    for _ in range(warmup):
        for case in cases.values():
            case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 0) -> dict[str, float]:
    """Median seconds of each case (see :func:`interleaved_runs`)."""
    return {name: statistics.median(values) for name, values in interleaved_runs(cases, repeats, warmup).items()}


def paired_ratio(ours: list[float], base: list[float]) -> float:
    """Median of the per-round ratios: each round's two runs were taken back to back, so a
    load spike on a shared machine moves both and cancels in their ratio."""
    return statistics.median(a / b for a, b in zip(ours, base))
