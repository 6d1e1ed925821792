"""The graph view page and the reports' HTML, opened in headless Chromium.

Checks what a reader sees: the pages load, the DOM holds one row per op, and the
per-layer verify report keeps its numbers within a 1400 px wide window although the
TFLite tensor names run to ~150 characters. Screenshots (1400x900) are left in the
test's tmp directory. Skips only when no ``chromium`` binary is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.tflite import graphview

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")
WIDTH = 1400

#: Measures the right edge of the rightmost cell of the error column of the last table.
_MEASURE = """<script>
var tables = document.querySelectorAll('table'), tab = tables[tables.length - 1];
var heads = Array.from(tab.querySelectorAll('thead th')).map(function (th) { return th.textContent; });
var j = heads.indexOf('max|keras-ref|'), right = 0;
tab.querySelectorAll('tbody tr').forEach(function (r) {
  right = Math.max(right, r.children[j].getBoundingClientRect().right);
});
document.body.setAttribute('data-error-right', String(right));
document.body.setAttribute('data-table-right', String(tab.getBoundingClientRect().right));
document.body.setAttribute('data-viewport', String(window.innerWidth));
</script>"""


def _chromium(tmp: Path, page: Path, *args: str) -> str:
    profile = tmp / f"profile-{page.stem}-{len(list(tmp.iterdir()))}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", f"--window-size={WIDTH},900", *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _open(tmp: Path, name: str, page_html: str) -> str:
    """Write the page, screenshot it, and return its DOM after scripts ran."""
    page = tmp / f"{name}.html"
    page.write_text(page_html, encoding="utf-8")
    shot = tmp / f"{name}.png"
    _chromium(tmp, page, f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 1000
    dom = _chromium(tmp, page, "--dump-dom")
    assert "</body>" in dom
    return dom


def _document(fragment: str, extra: str = "") -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{fragment}{extra}</body></html>"


@pytest.fixture(scope="module")
def palm(corpus_model: Any) -> dict[str, Any]:
    path = corpus_model("palm_detection_lite")
    model = t2k.zoo.blazepalm("lite")
    transplanted = t2k.transplant(model, path)
    findings = t2k.lint(model, path)
    conv = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"][8]
    kernel = conv.kernel
    kernel.assign(np.asarray(kernel) * 1.5)  # one wrong layer: a first divergence to show
    report = t2k.verify(model, path, per_layer=True, samples=1)
    return {"path": path, "tfl": t2k.read(path), "transplant": transplanted, "lint": findings,
            "verify": report, "broken": conv.name}


def test_graph_view_page_lists_every_op_and_tensor(palm: dict[str, Any], tmp_path: Path) -> None:
    tfl = palm["tfl"]
    dom = _open(tmp_path, "graphview", graphview.html(palm["path"]))
    assert len(re.findall(r'<tr id="t2k-op-\d+"', dom)) == len(tfl.operators)
    assert len(re.findall(r'<tr id="t2k-t-\d+"', dom)) == len(tfl.tensors)
    assert 'href="#t2k-t-0"' in dom and "CONV_2D" in dom


def test_reports_render_in_a_browser(palm: dict[str, Any], tmp_path: Path) -> None:
    tfl = palm["tfl"]
    dom = _open(tmp_path, "read", _document(tfl._repr_html_()))
    assert dom.count("<tr") >= len(tfl.operators) + 1
    dom = _open(tmp_path, "transplant", _document(palm["transplant"]._repr_html_()))
    assert dom.count("<tr") == len(palm["transplant"].assignments) + 1
    dom = _open(tmp_path, "lint", _document(palm["lint"]._repr_html_()))
    assert "lint:" in dom


def test_verify_report_keeps_numbers_on_screen(palm: dict[str, Any], tmp_path: Path) -> None:
    report = palm["verify"]
    assert report.first_divergence is not None and report.first_divergence.name == palm["broken"]
    assert max(len(c.tensor) for c in report.layers) > 100  # the long fused names are there
    dom = _open(tmp_path, "verify", _document(report._repr_html_(), _MEASURE))
    found = {k: float(v) for k, v in re.findall(r'data-([a-z-]+)="([0-9.]+)"', dom)}
    assert found["viewport"] == WIDTH
    assert 0 < found["error-right"] <= WIDTH, found
    assert found["table-right"] <= WIDTH, found
    assert dom.count('class="t2k-fail') == sum(not c.ok for c in report.layers + report.outputs)
    assert dom.count("t2k-first") == 1 and "▶ NO" in dom
    assert "title=" in dom  # elided names keep their full text on hover
    print(f"verify report: error column right edge {found['error-right']:.0f} px, "
          f"table right edge {found['table-right']:.0f} px, screenshots in {tmp_path}")
