"""Render rows as a plain-text table (for ``print``) and as HTML (for Jupyter and browsers).

Long cells (TFLite's fused tensor names run to ~150 characters) are elided in the
middle, so both ends stay readable; in HTML the full text is on hover (``title=``).

Example:
    >>> from tflite2keras import _render
    >>> _render.elide("model_1/model/batch_normalization_4/FusedBatchNormV3", 24)
    'model_1/mode…BatchNormV3'
    >>> print(_render.text_table(("ok", "name"), [("yes", "conv"), ("NO", "x" * 30)], max_width=10))
    ok   name
    ---  ----------
    yes  conv
    NO   xxxxx…xxxx
    >>> _render.html_table(("n",), [(1.5,)], row_classes=["fail"])
    "<table><thead><tr><th style='text-align:left'>n</th></tr></thead><tbody><tr class='t2k-fail' style='background:#fdd'><td style='text-align:left'>1.5</td></tr></tbody></table>"
"""

from __future__ import annotations

import html
from typing import Any, Sequence

#: Inline styles of the row classes ``html_table`` understands (inline, so they also work
#: in notebook front ends that strip ``<style>`` blocks).
ROW_STYLES: dict[str, str] = {
    "fail": "background:#fdd",
    "first": "background:#fbb;font-weight:bold",
}
#: Default width (characters) beyond which HTML cells are elided.
HTML_WIDTH = 64


def cell(value: Any) -> str:
    """Format one value compactly: floats in short scientific form, tuples without spaces."""
    if isinstance(value, float):
        return "0" if value == 0 else f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    if isinstance(value, tuple):
        return "(" + ",".join(cell(v) for v in value) + ")"
    if value is None:
        return "-"
    return str(value)


def elide(text: str, width: int) -> str:
    """``text`` shortened to at most ``width`` characters by replacing its middle with ``…``."""
    if len(text) <= width or width < 3:
        return text if len(text) <= width else text[:width]
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[len(text) - tail:]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """A fixed-width table; cells longer than ``max_width`` are elided in the middle."""
    texts = [[elide(cell(v), max_width) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in texts]
    return "\n".join(out)


def html_cell(value: Any, width: int | None = HTML_WIDTH, tag: str = "td", attrs: str = "") -> str:
    """One escaped cell; text longer than ``width`` is elided, with the full text in ``title``."""
    text = cell(value)
    shown = text if width is None else elide(text, width)
    title = f" title='{html.escape(text, quote=True)}'" if shown != text else ""
    return f"<{tag} style='text-align:left'{title}{attrs}>{html.escape(shown)}</{tag}>"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "", *,
               width: int | None = HTML_WIDTH, row_classes: Sequence[str | None] | None = None,
               attrs: str = "") -> str:
    """An HTML table with an optional caption; every cell is escaped.

    Args:
        headers / rows: the column titles and the rows' values (see :func:`cell`).
        caption: shown above the table.
        width: cells longer than this are elided in the middle (full text on hover);
            None keeps them whole.
        row_classes: per row, space-separated names from :data:`ROW_STYLES` (or None);
            a row gets ``class='t2k-NAME'`` and the names' inline styles.
        attrs: extra attributes of the ``<table>`` tag, e.g. ``" id='ops'"``.
    """
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        names = (row_classes[i] or "").split() if row_classes is not None else []
        tr = "<tr>"
        if names:
            style = ";".join(ROW_STYLES[n] for n in names if n in ROW_STYLES)
            tr = f"<tr class='{' '.join('t2k-' + n for n in names)}' style='{style}'>"
        body.append(tr + "".join(html_cell(v, width) for v in row) + "</tr>")
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table{attrs}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def plot_ratios(names: Sequence[str], errors: Sequence[float], bounds: Sequence[float], first: int | None,
                title: str = "", xlabel: str = "", marks: Sequence[Any] | None = None) -> Any:
    """A matplotlib Figure of ``error / bound`` per item, log scale, a dashed line at 1.

    Args:
        names / errors / bounds: per item, in order.
        first: index of the item to label as the first divergence, or None.
        title / xlabel: the axes' title and x label.
        marks: per item, an op index shown in the first divergence's label.

    Raises:
        ImportError: matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("plotting needs matplotlib; install it with pip install 'tflite2keras[plot]' "
                          "(or pip install 'matplotlib>=3.7')") from err
    import numpy as np

    ratios = np.array([e / b if b > 0 else (np.inf if e > 0 else 0.0) for e, b in zip(errors, bounds)], np.float64)
    positive = ratios[np.isfinite(ratios) & (ratios > 0)]
    floor = min(float(positive.min()) if positive.size else 1e-3, 1e-3) / 2
    shown = np.clip(np.nan_to_num(ratios, posinf=1e12), floor, None)
    figure = Figure(figsize=(max(6.0, min(16.0, 0.06 * len(names) + 4)), 3.6), layout="constrained")
    ax = figure.add_subplot()
    x = np.arange(len(names))
    over = ratios > 1
    ax.plot(x, shown, color="0.7", linewidth=0.8)
    ax.scatter(x[~over], shown[~over], s=12, color="tab:blue", label="within bound", zorder=3)
    ax.scatter(x[over], shown[over], s=20, color="tab:red", label="over bound", zorder=3)
    ax.axhline(1.0, color="tab:red", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("max error / bound")
    ax.set_title(title, fontsize=10)
    if first is not None:
        op = f" (op {marks[first]})" if marks is not None and marks[first] is not None else ""
        ax.annotate(f"first divergence: {elide(names[first], 40)}{op}", (first, shown[first]),
                    xytext=(10, 12), textcoords="offset points", fontsize=8, color="tab:red",
                    arrowprops={"arrowstyle": "->", "color": "tab:red"})
    ax.legend(loc="lower right", fontsize=8)
    return figure
