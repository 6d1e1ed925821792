"""The report of :func:`tflite2keras.verify`: one :class:`Check` per output (and per layer).

Example:
    >>> from tflite2keras.verification.report import Check
    >>> Check("output 0", "logits", (1, 7), 0.004, 1.0, 0.0, 0.0078, step=0.0039, within_step=1.0).steps
    1.0256410256410258
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from .. import _render
from .lint import Finding


@dataclass(frozen=True)
class Check:
    """One compared tensor: an output or a layer's output."""

    name: str
    tensor: str
    shape: tuple[int, ...]
    max_error: float
    max_ref: float
    noise: float
    bound: float
    op_index: int | None = None
    step: float | None = None
    within_step: float | None = None
    min_within: float = 0.0
    #: the reference was one value everywhere on every sample: a pass there proves little
    degenerate: bool = False

    @property
    def ok(self) -> bool:
        """True when the error is within the bound (and, for an integer tensor compared in
        quantization steps, enough elements are within one step)."""
        within = self.within_step is None or self.within_step >= self.min_within
        return bool(self.max_error <= self.bound) and within

    @property
    def steps(self) -> float | None:
        """The error in quantization steps of the tensor, for an integer tensor."""
        return None if self.step is None else self.max_error / self.step


#: The warning a degenerate output's row carries.
DEGENERATE = "constant reference: proves little"


def flag_degenerate(report: VerifyReport) -> None:
    """Warn about every output whose reference was constant (the report's rows already say so)."""
    for c in report.outputs:
        if c.degenerate:
            warnings.warn(f"verify {report.source}: {c.name} ({c.tensor!r}) was {c.max_ref:.6g} in magnitude "
                          f"everywhere on all {report.samples} sample(s): {DEGENERATE}; try other inputs "
                          "(inputs=, input_ranges=)", stacklevel=3)


@dataclass
class VerifyReport:
    """Per-output (and per-layer) errors against the TFLite interpreter."""

    outputs: list[Check] = field(default_factory=list)
    layers: list[Check] = field(default_factory=list)
    first_divergence: Check | None = None
    divergence_findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interpreter: str = ""
    samples: int = 0
    batch: int = 1
    source: str = ""

    @property
    def ok(self) -> bool:
        """True when every output (and every compared layer) is within its bound."""
        return all(c.ok for c in self.outputs) and all(c.ok for c in self.layers)

    _HEADERS = ("ok", "max|keras-ref|", "bound", "max|ref|", "noise", "name", "tflite tensor", "shape", "op")
    _STEP_HEADERS = ("steps", "≤1 step")

    def _quantized(self) -> bool:
        return any(c.step is not None for c in self.outputs + self.layers)

    def _degenerate(self) -> bool:
        return any(c.degenerate for c in self.outputs + self.layers)

    def _headers(self) -> tuple[str, ...]:
        headers = self._HEADERS[:3] + self._STEP_HEADERS + self._HEADERS[3:] if self._quantized() else self._HEADERS
        return headers + ("warning",) if self._degenerate() else headers

    def _rows(self, checks: list[Check]) -> list[tuple[Any, ...]]:
        first = self.first_divergence
        rows = []
        for c in checks:
            row: tuple[Any, ...] = ("▶ NO" if c is first else "yes" if c.ok else "NO", c.max_error, c.bound)
            if self._quantized():
                row += (None if c.steps is None else round(c.steps, 2),
                        None if c.within_step is None else f"{100 * c.within_step:.2f}%")
            row += (c.max_ref, c.noise, c.name, c.tensor, c.shape, c.op_index)
            rows.append(row + ((DEGENERATE if c.degenerate else None,) if self._degenerate() else ()))
        return rows

    def _classes(self, checks: list[Check]) -> list[str | None]:
        return ["fail first" if c is self.first_divergence else ("degenerate" if c.degenerate else None) if c.ok
                else "fail" for c in checks]

    def _summary(self) -> str:
        text = (f"verify {self.source} against {self.interpreter} on {self.samples} samples"
                f"{f' of batch {self.batch}' if self.batch != 1 else ''}: "
                f"{'OK' if self.ok else 'FAILED'}")
        constant = [c.name for c in self.outputs if c.degenerate]
        if constant:
            text += f"; {len(constant)}/{len(self.outputs)} output(s) with a {DEGENERATE} ({', '.join(constant)})"
        if self.layers:
            text += f"; {sum(c.ok for c in self.layers)}/{len(self.layers)} layers within bound"
        if self.first_divergence is not None:
            d = self.first_divergence
            text += f"; first divergence: {d.name} (op {d.op_index}) error {_render.cell(d.max_error)} (row ▶)"
            text += "".join(f"; lint: {f}" for f in self.divergence_findings)
        return text + "".join(f"\nnote: {n}" for n in self.notes)

    def __str__(self) -> str:
        text = self._summary() + "\n" + _render.text_table(self._headers(), self._rows(self.outputs), 48)
        if self.layers:
            text += "\nper layer:\n" + _render.text_table(self._headers(), self._rows(self.layers), 48)
        return text

    def _repr_html_(self) -> str:
        body = _render.html_table(self._headers(), self._rows(self.outputs), caption=self._summary(),
                                  width=48, row_classes=self._classes(self.outputs))
        if self.layers:
            body += _render.html_table(self._headers(), self._rows(self.layers), caption="per layer", width=48,
                                       row_classes=self._classes(self.layers))
        return body

    def plot(self) -> Any:
        """Each layer's error over its bound in graph order (log scale); above 1 fails.

        Plots the outputs when the report has no layers (``verify(per_layer=False)``).
        Needs matplotlib (``pip install 'tflite2keras[plot]'``).

        Returns:
            A ``matplotlib.figure.Figure``; the first divergence is labelled.

        Raises:
            ImportError: matplotlib is not installed.

        Example:
            >>> from tflite2keras.verification.report import Check, VerifyReport
            >>> checks = [Check(f"layer_{i}", f"t{i}", (1, 4), e, 1.0, 0.0, 1e-4, i)
            ...           for i, e in enumerate([1e-6, 0.0, 5e-3])]
            >>> report = VerifyReport(layers=checks, first_divergence=checks[2])
            >>> figure = report.plot()
            >>> figure.axes[0].get_yscale()
            'log'
        """
        checks = self.layers or self.outputs
        kind = "per-layer" if self.layers else "output"
        return _render.plot_ratios(
            [c.name for c in checks], [c.max_error for c in checks], [c.bound for c in checks],
            None if self.first_divergence is None else self.layers.index(self.first_divergence),
            title=f"verify {self.source}: {kind} error over bound",
            xlabel="layer (graph order)" if self.layers else "output",
            marks=[c.op_index for c in checks])
