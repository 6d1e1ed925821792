"""A model's ops and tensors as two linked HTML tables: the notebook view of a :class:`TFLiteModel`.

:func:`tables` is what ``TFLiteModel._repr_html_`` shows; :mod:`tflite2keras.tflite.graphview`
puts the same tables in a self-contained page.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> fragment = tables(read(tiny.tflite()))
    >>> fragment.count("<tr id='t2k-op-")
    3
"""

from __future__ import annotations

import html as _html
from typing import TYPE_CHECKING, Any

from .. import _render
from ..errors import InvalidModelError

if TYPE_CHECKING:
    from .model import Operator, Tensor, TFLiteModel

#: Options and tensor names are shown whole (people copy them), wrapping in a column this wide.
_WRAP = " class='wrap' style='white-space:normal;overflow-wrap:anywhere;max-width:520px'"

STYLE = """
body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 4px}
p.summary{color:#555;max-width:1200px}
table{border-collapse:collapse;margin:4px 0 12px}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}
tr:target{background:#ffd}
td.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#0645ad;text-decoration:none}a:hover{text-decoration:underline}
td.wrap{white-space:normal;overflow-wrap:anywhere;max-width:520px}
.const{color:#777}#filter{width:320px;padding:3px;margin:4px 0}
"""
SCRIPT = """
document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('tbody tr').forEach(function (r) {
    r.style.display = !q || r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
});
"""


def tables(model: TFLiteModel, prefix: str = "t2k") -> str:
    """The op and tensor tables of subgraph 0 as HTML fragments (for ``_repr_html_``).

    Args:
        model: a model from :func:`tflite2keras.read`.
        prefix: prefix of the rows' ``id`` anchors (``PREFIX-op-3``, ``PREFIX-t-17``).

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> fragment = tables(read(tiny.tflite()))
        >>> fragment.count("<tr id='t2k-t-"), "href='#t2k-t-0'" in fragment
        (8, True)
    """
    caption = _html.escape(model.summary())
    return (f"<div><p class='summary' style='text-align:left'>{caption}</p>"
            f"{op_table(model, prefix)}{tensor_table(model, prefix)}</div>")


def op_table(model: TFLiteModel, prefix: str = "t2k") -> str:
    """One row per op of subgraph 0: index, opcode, version, inputs, outputs, options."""
    rows = []
    for op in model.operators:
        rows.append(f"<tr id='{prefix}-op-{op.index}'><td class='num'>{op.index}</td>"
                    f"<td>{_html.escape(op.opcode)}</td><td class='num'>{op.version}</td>"
                    f"<td>{links(model, op.inputs, prefix)}</td><td>{links(model, op.outputs, prefix)}</td>"
                    f"{_render.html_cell(_options(op), None, attrs=_WRAP)}</tr>")
    head = _head(("#", "opcode", "v", "inputs", "outputs", "options"))
    return (f"<table class='t2k-ops'><caption style='text-align:left'>operators ({len(rows)})</caption>"
            f"{head}<tbody>{''.join(rows)}</tbody></table>")


def tensor_table(model: TFLiteModel, prefix: str = "t2k") -> str:
    """One row per tensor of subgraph 0: ids, name, shape, dtype, quantization, constant, links."""
    rows = []
    for t in model.tensors:
        const = _constant(model, t)
        producer = model.producer(t.index)
        made = "-" if producer is None else _op_link(producer, prefix)
        used = " ".join(_op_link(op, prefix) for op in model.consumers(t.index)) or "-"
        role = ("input " if t.index in model.inputs else "") + ("output" if t.index in model.outputs else "")
        rows.append(f"<tr id='{prefix}-t-{t.index}'{' class=const' if const == 'yes' else ''}>"
                    f"<td class='num'>{t.index}</td>{_render.html_cell(t.name, None, attrs=_WRAP)}"
                    f"<td class='num'>{t.buffer}</td><td>{_html.escape(_shape(t))}</td>"
                    f"<td>{_html.escape(t.dtype)}</td>{_render.html_cell(quantization(t), None)}"
                    f"<td>{const}{' (sparse)' if t.is_sparse else ''}</td><td>{role.strip() or '-'}</td>"
                    f"<td>{made}</td><td>{used}</td></tr>")
    head = _head(("#", "name", "buffer", "shape", "dtype", "quantization", "constant", "graph", "producer",
                  "consumers"))
    return (f"<table class='t2k-tensors'><caption style='text-align:left'>tensors ({len(rows)})</caption>"
            f"{head}<tbody>{''.join(rows)}</tbody></table>")


def quantization(tensor: Tensor) -> str:
    """A short summary: ``scale 0.0039 zp -128``, or the per-channel count, ranges and axis."""
    q = tensor.quantization
    if q is None or not len(q.scales):
        return "-"
    scales, zps = q.scales.ravel(), q.zero_points.ravel()
    if scales.size == 1:
        return f"scale {_render.cell(float(scales[0]))} zp {int(zps[0]) if zps.size else 0}"
    zp = f"{int(zps.min())}" if zps.size and zps.min() == zps.max() else (
        f"{int(zps.min())}..{int(zps.max())}" if zps.size else "0")
    return (f"per-channel x{scales.size} axis {q.quantized_dimension}: scale "
            f"{_render.cell(float(scales.min()))}..{_render.cell(float(scales.max()))} zp {zp}")


def _options(op: Operator) -> str:
    parts = [f"{k}={_render.cell(v)}" for k, v in sorted(op.options.items())]
    if op.custom_options is not None:
        parts.append(f"custom_options={len(op.custom_options)} bytes")
    return " ".join(parts)


def _constant(model: TFLiteModel, tensor: Tensor) -> str:
    try:
        return "yes" if model.is_constant(tensor.index) else "no"
    except InvalidModelError:
        return "?"


def links(model: TFLiteModel, indices: Any, prefix: str) -> str:
    out = []
    for i in indices:
        if i < 0:
            out.append("-1")
        elif 0 <= i < len(model.tensors):
            name = _html.escape(model.tensors[i].name, quote=True)
            out.append(f"<a href='#{prefix}-t-{i}' title='{name}'>{i}</a>")
        else:
            out.append(f"{int(i)}?")
    return " ".join(out) or "-"


def _op_link(op: Operator, prefix: str) -> str:
    return f"<a href='#{prefix}-op-{op.index}' title='{_html.escape(op.opcode)}'>{op.index}</a>"


def _head(headers: tuple[str, ...]) -> str:
    return "<thead><tr>" + "".join(f"<th style='text-align:left'>{h}</th>" for h in headers) + "</tr></thead>"


def _shape(t: Tensor) -> str:
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    return shape if t.shape_signature in ((), t.shape) else f"{shape} (sig {t.shape_signature})"
