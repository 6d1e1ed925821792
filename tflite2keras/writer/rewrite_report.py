"""The report of :func:`tflite2keras.rewrite_custom_ops`, and its before/after latency measurement."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from .. import _render
from ..tflite.model import TFLiteModel
from ..tflite.reader import read


@dataclass(frozen=True)
class Replacement:
    """One custom op replaced: its place, custom code, and the builtin ops now there."""

    subgraph: int
    index: int
    custom_code: str
    became: str
    new_indices: tuple[int, ...]


@dataclass
class RewriteReport:
    """What :func:`rewrite_custom_ops` changed.

    Attributes:
        path: the file written, or None when only bytes were asked for.
        data: the rewritten ``.tflite`` bytes (the input's own bytes when unchanged).
        mode: ``"fused"`` or ``"add"``.
        replaced: each replaced op, with the ops it became.
        kept: ``(subgraph, index, custom code, reason)`` of each custom op left in place.
        ops_added / tensors_added / buffers_added: what was added (tensors as
            ``(subgraph, index, name)``); ``buffers_reused``: buffers the new ops read as before.
        latency_before / latency_after: median seconds per invoke (XNNPACK, 1 thread),
            interleaved in one run; None unless ``measure=True``.
    """

    path: str | None
    data: bytes
    mode: str
    replaced: list[Replacement] = field(default_factory=list)
    kept: list[tuple[int, int, str, str]] = field(default_factory=list)
    ops_added: int = 0
    tensors_added: list[tuple[int, int, str]] = field(default_factory=list)
    buffers_added: list[int] = field(default_factory=list)
    buffers_reused: list[int] = field(default_factory=list)
    latency_before: float | None = None
    latency_after: float | None = None

    @property
    def unchanged(self) -> bool:
        """True when nothing was replaced: ``data`` are the input's bytes."""
        return not self.replaced

    @property
    def speedup(self) -> float | None:
        """``latency_before / latency_after``, or None when not measured."""
        if self.latency_before is None or not self.latency_after:
            return None
        return self.latency_before / self.latency_after

    def _caption(self) -> str:
        where = self.path or "<bytes>"
        if self.unchanged:
            what = "no custom op replaced: the model is identical" if not self.kept else \
                f"no custom op replaced: the model is identical, {len(self.kept)} unknown custom ops kept"
        else:
            what = (f"{len(self.replaced)} custom ops replaced ({self.mode}), {self.ops_added} ops, "
                    f"{len(self.tensors_added)} tensors, {len(self.buffers_added)} buffers added, "
                    f"{len(self.buffers_reused)} buffers reused, {len(self.kept)} custom ops kept")
        timing = "" if self.speedup is None else f", {self.speedup:.2f}x faster"
        return f"{where}: {len(self.data)} bytes, {what}{timing}"

    def _rows(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [
            ("replaced", f"{r.subgraph}:{r.index}", r.custom_code, f"{r.became} at {r.new_indices}")
            for r in self.replaced]
        rows += [("kept", f"{s}:{i}", code, reason) for s, i, code, reason in self.kept]
        rows += [("tensor added", f"{s}:{i}", name, "") for s, i, name in self.tensors_added]
        if self.latency_before is not None and self.latency_after is not None:
            rows += [("latency", "before", f"{self.latency_before * 1e3:.3f} ms", ""),
                     ("latency", "after", f"{self.latency_after * 1e3:.3f} ms", f"{self.speedup:.2f}x")]
        return rows

    def __str__(self) -> str:
        return self._caption() + "\n" + _render.text_table(("kind", "op", "what", "detail"), self._rows())

    def _repr_html_(self) -> str:
        return _render.html_table(("kind", "op", "what", "detail"), self._rows(), caption=self._caption())


def latencies(before: TFLiteModel, after: bytes, repeats: int) -> tuple[float, float]:
    """Median invoke seconds of both models (XNNPACK, 1 thread), interleaved."""
    from ..verification.reference import make_interpreter, random_inputs

    interpreters = [make_interpreter(before, threads=1), make_interpreter(read(after), threads=1)]
    sample = random_inputs(before, 1)[0]
    for interpreter in interpreters:
        for detail, value in zip(interpreter.get_input_details(), sample):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()  # warm-up
    times: list[list[float]] = [[], []]
    for _ in range(max(1, repeats)):
        for interpreter, spent in zip(interpreters, times):
            start = time.perf_counter()
            interpreter.invoke()
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])
