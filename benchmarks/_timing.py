"""Interleaved timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 0) -> dict[str, float]:
    """Median seconds of each case, running the cases in turn so drift hits all alike.

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
    return {name: statistics.median(values) for name, values in times.items()}
