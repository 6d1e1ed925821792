"""The graph view page, the table helpers it shares with the reports, and VerifyReport's rendering."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tflite2keras import _render, read
from tflite2keras.testdata import tiny
from tflite2keras.tflite import graphview, listing
from tflite2keras.tflite.model import Quantization, Tensor
from tflite2keras.verification.verify import Check, VerifyReport

LONG = ("model_1/model/batch_normalization_4/FusedBatchNormV3;model_1/model/conv2d_4/BiasAdd/"
        "ReadVariableOp/resource;model_1/model/conv2d_4/BiasAdd;model_1/model/conv2d_4/Conv2D")


@pytest.fixture(scope="module")
def tiny_model() -> Any:
    return read(tiny.tflite())


def test_page_is_self_contained_and_lists_ops_and_tensors(tiny_model: Any) -> None:
    page = graphview.html(tiny_model)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert not re.search(r"(src|href)=['\"](https?:|//)", page) and "<link" not in page
    assert len(re.findall(r"<tr id='t2k-op-\d+'>", page)) == len(tiny_model.operators)
    assert len(re.findall(r"<tr id='t2k-t-\d+'", page)) == len(tiny_model.tensors)
    ids = set(re.findall(r"id='([^']+)'", page))
    assert {h for h in re.findall(r"href='#([^']+)'", page)} <= ids  # every link has its row
    assert "padding=SAME" in page and "fused_activation_function=RELU" in page


def test_tensor_rows_show_buffer_shape_dtype_and_constness(tiny_model: Any) -> None:
    fragment = listing.tensor_table(tiny_model)
    kernel = tiny_model.tensor(tiny_model.operators[0].inputs[1])
    row = re.search(rf"<tr id='t2k-t-{kernel.index}'.*?</tr>", fragment).group(0)
    assert f"<td class='num'>{kernel.buffer}</td>" in row and "4x3x3x3" in row and "FLOAT32" in row
    assert "<td>yes</td>" in row and "const" in row
    first = re.search(r"<tr id='t2k-t-0'.*?</tr>", fragment).group(0)
    assert "<td>no</td>" in first and "input" in first


def test_corpus_page_has_every_op(corpus_model: Any, tmp_path: Path) -> None:
    path = corpus_model("palm_detection_lite")
    out = graphview.write_html(path, tmp_path / "palm.html")
    page = Path(out).read_text(encoding="utf-8")
    assert page.count("<tr id='t2k-op-") == 232 and page.count("<tr id='t2k-t-") == 353
    assert os.listdir(tmp_path) == ["palm.html"]  # no temp file left behind
    assert "model_1/model/batch_normalization" in page  # names are whole (people copy them)


def test_names_are_escaped() -> None:
    assert "&lt;b&gt;" in _render.html_cell("<b>") and "<b>" not in _render.html_cell("<b>")
    assert "title='a&#x27;" in _render.html_cell("a'" + "x" * 80)


def test_quantization_summary() -> None:
    def tensor(scales: list[float], zps: list[int]) -> Tensor:
        q = Quantization(np.array(scales, np.float32), np.array(zps, np.int64), 3)
        return Tensor(0, "t", (1, 2), (1, 2), "INT8", 0, quantization=q)

    assert listing.quantization(tensor([0.5], [-128])) == "scale 0.5 zp -128"
    assert listing.quantization(tensor([0.5, 0.25], [0, 0])) == "per-channel x2 axis 3: scale 0.25..0.5 zp 0"
    assert listing.quantization(Tensor(0, "t", (1,), (1,), "FLOAT32", 0)) == "-"


def test_elide_keeps_both_ends() -> None:
    short = _render.elide(LONG, 48)
    assert len(short) == 48 and short.startswith("model_1/model/batch") and short.endswith("conv2d_4/Conv2D")
    assert _render.elide("abc", 48) == "abc"
    table = _render.text_table(("ok", "name"), [("yes", LONG)], max_width=40)
    assert "…" in table and max(len(line) for line in table.splitlines()) <= 45


def test_html_table_elides_with_title_and_marks_rows() -> None:
    out = _render.html_table(("name",), [(LONG,), ("short",)], row_classes=["fail first", None])
    assert f"title='{LONG}'" in out and "…" in out
    assert "<tr class='t2k-fail t2k-first' style='background:#fdd;background:#fbb;font-weight:bold'>" in out
    assert out.count("<tr>") == 2  # the header row and the unmarked row


def _report() -> VerifyReport:
    layers = [Check(f"layer_{i}", LONG + str(i), (1, 8), err, 3.0, 1e-6, 1e-4, i)
              for i, err in enumerate([1e-6, 0.0, 0.5, 2e-3, 1e-5])]
    outputs = [Check("output 0", "Identity", (1, 8), 0.7, 3.0, 1e-6, 1e-4)]
    return VerifyReport(outputs=outputs, layers=layers, first_divergence=layers[2], source="m.tflite")


def test_verify_html_puts_numbers_first_and_marks_failures() -> None:
    html = _report()._repr_html_()
    assert html.startswith("<table")
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", html)[:5]
    assert heads == ["ok", "max|keras-ref|", "bound", "max|ref|", "noise"]
    assert html.count("class='t2k-fail") == 3 and html.count("t2k-first") == 1 and "▶ NO" in html
    assert f"title='{LONG}2'" in html


def test_verify_text_is_readable() -> None:
    text = str(_report())
    assert max(len(line) for line in text.splitlines()[2:]) < 150
    assert "▶ NO" in text and "first divergence: layer_2 (op 2) error 0.5 (row ▶)" in text
    assert text.splitlines()[1].split()[:3] == ["ok", "max|keras-ref|", "bound"]


def test_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib  # noqa: F401  (a test dependency: the figure needs it)
    figure = _report().plot()
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2  # the ratios and the line at 1
    assert any("first divergence: layer_2" in t.get_text() for t in ax.texts)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata()[2], 0.5 / 1e-4)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="tflite2keras\\[plot\\]"):
        _report().plot()
