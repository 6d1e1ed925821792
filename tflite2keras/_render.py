"""Render rows as a plain-text table (for ``print``) and as HTML (for Jupyter)."""

from __future__ import annotations

import html
from typing import Any, Sequence


def cell(value: Any) -> str:
    """Format one value compactly: floats in short scientific form, tuples without spaces."""
    if isinstance(value, float):
        return "0" if value == 0 else f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    if isinstance(value, tuple):
        return "(" + ",".join(cell(v) for v in value) + ")"
    if value is None:
        return "-"
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """A fixed-width table; cells longer than ``max_width`` are shortened from the left."""
    texts = [[_clip(cell(v), max_width) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in texts]
    return "\n".join(out)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    """An HTML table with an optional caption; every cell is escaped."""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]
