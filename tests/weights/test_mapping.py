"""Mapping tables as data, scope-name parsing, and shipped-table fingerprints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tflite2keras as t2k
from tflite2keras.tflite.names import scope_names
from tflite2keras.weights.mapping import (
    MappingTable,
    find_table,
    fingerprint,
    shipped_tables,
)


@pytest.mark.parametrize("name,expected", [
    ("model_1/model/conv2d_4/Conv2D", "conv2d_4"),
    ("model_1/model/conv2d_22/Conv2D1", "conv2d_22"),
    ("model_1/model/depthwise_conv2d_3/depthwise1", "depthwise_conv2d_3"),
    ("Neg_1;model_1/model/p_re_lu_11/Relu_1;model_1/model/p_re_lu_11/mul", "p_re_lu_11"),
    ("conv2d_1/Kernel_dequantize", "conv2d_1"),
    ("model_1/model/classifier_palm_16_NO_PRUNING/Conv2D", "classifier_palm_16_NO_PRUNING"),
    ("regressor_8", "regressor_8"),
], ids=["conv", "suffix", "depthwise", "fused_prelu", "face_kernel", "head", "bare"])
def test_scope_names(name: str, expected: str) -> None:
    assert scope_names(name)[0] == expected


def test_rules_overrides_and_layers_in_order() -> None:
    table = MappingTable("t", rules=[(r"block(\d+)_pw", r"conv2d_\1"), (r".*", "fallback")],
                         layers={"stem": "conv2d"}, overrides={"block3_pw": "#12"})
    assert table.target("block3_pw") == ("#12", "table t: override")
    assert table.target("stem") == ("conv2d", "table t")
    assert table.target("block4_pw") == ("conv2d_4", r"table t: block(\d+)_pw")
    assert table.target("other")[0] == "fallback"
    extended = table.extend(rules=[("other", "conv2d_9")])
    assert extended.target("other")[0] == "conv2d_9" and table.target("other")[0] == "fallback"


def test_table_round_trips_through_json(tmp_path: Path) -> None:
    table = MappingTable("t", rules=[("a", "b")], layers={"x": "y"}, overrides={"p": "q"}, fingerprint="f",
                         description="d")
    table.save(tmp_path / "t.json")
    assert MappingTable.load(tmp_path / "t.json") == table
    assert "layer" in str(table) and "<table" in table._repr_html_()


@pytest.mark.parametrize("table_name,model", [
    ("blazepalm_lite", "palm_detection_lite"),
    ("blazepalm_full", "palm_detection_full"),
    ("blazeface_short_range", "face_detection_short_range"),
])
def test_shipped_table_fingerprint_fits_its_model(table_name: str, model: str, corpus_model: Any) -> None:
    tfl = t2k.read(corpus_model(model))
    found = find_table(tfl)
    assert found is not None and found.name == table_name
    assert found.fingerprint == fingerprint(tfl)


def test_no_table_fits_other_models(corpus_model: Any) -> None:
    assert find_table(t2k.read(corpus_model("iris_landmark"))) is None
    assert {t.name for t in shipped_tables()} == {"blazepalm_lite", "blazepalm_full", "blazeface_short_range"}
