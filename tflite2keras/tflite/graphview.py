"""A graph view of a ``.tflite`` file: every op and tensor with its ids, as one HTML page.

Like TensorFlow's ``visualize.py``, but self-contained (no network, no external
scripts or styles): the page lists, per subgraph, each op (index, opcode, inputs,
outputs, options) and each tensor (index, name, buffer, shape, dtype, quantization,
constant or not, producer and consumers). Tensor ids link to the tensor rows and op
ids to the op rows, so it is the place to look up tensor and buffer ids before
editing a model. A filter box hides rows that do not contain the typed text.

Example:
    >>> from tflite2keras.tflite import graphview
    >>> from tflite2keras.testdata import tiny
    >>> page = graphview.html(tiny.tflite())
    >>> page.startswith("<!DOCTYPE html>"), page.count("<tr id='t2k-op-"), "CONV_2D" in page
    (True, 3, True)
"""

from __future__ import annotations

import html as _html
import os

from .._files import write_atomically
from .listing import SCRIPT, STYLE, links, tables
from .model import Source
from .reader import read


def html(src: Source) -> str:
    """One self-contained HTML page listing every op and tensor of the model.

    Args:
        src: a ``.tflite`` path, its bytes, or a :class:`~tflite2keras.tflite.model.TFLiteModel`.

    Returns:
        The page, with inline CSS and a small inline script for the filter box.

    Raises:
        InvalidModelError: ``src`` is not a readable TFLite model.
    """
    model = read(src)
    others = "".join(f"<li>subgraph {s.index} {_html.escape(s.name or '')}: {s.num_operators} ops, "
                     f"{s.num_tensors} tensors (only summarised)</li>" for s in model.subgraphs)
    signatures = "".join(f"<li>{_html.escape(key)}: inputs {_html.escape(str(sig.get('inputs', {})))}, "
                         f"outputs {_html.escape(str(sig.get('outputs', {})))}</li>"
                         for key, sig in model.signature_defs.items())
    title = _html.escape(os.path.basename(model.source) or model.source)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}: graph view</title>"
            f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
            f"<p class='summary'>schema v{model.version}; {_html.escape(model.description or '')}; "
            f"inputs {links(model, model.inputs, 't2k')}; outputs {links(model, model.outputs, 't2k')}; "
            f"metadata {_html.escape(', '.join(model.metadata) or 'none')}</p>"
            + (f"<ul>{signatures}</ul>" if signatures else "")
            + f"<input id='filter' placeholder='filter rows (opcode, name, id…)'>"
            f"<h2>subgraph 0 (main)</h2>{tables(model)}"
            + (f"<h2>other subgraphs</h2><ul>{others}</ul>" if others else "")
            + f"<script>{SCRIPT}</script></body></html>")


def write_html(src: Source, path: str | os.PathLike[str]) -> str:
    """Write :func:`html` of ``src`` to ``path`` atomically (a temp file, then ``os.replace``).

    Returns:
        ``path`` as a string.

    Example:
        >>> import os, tempfile
        >>> from tflite2keras.tflite import graphview
        >>> from tflite2keras.testdata import tiny
        >>> out = graphview.write_html(tiny.tflite(), os.path.join(tempfile.mkdtemp(), "tiny.html"))
        >>> open(out, encoding="utf-8").read().count("<tr id='t2k-op-")
        3
    """
    return write_atomically(os.fspath(path), html(src).encode("utf-8"))
