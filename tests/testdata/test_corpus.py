"""The corpus fetcher: names, cache location."""

from __future__ import annotations

from pathlib import Path

import pytest

from tflite2keras.testdata import corpus


def test_fourteen_models() -> None:
    assert len(corpus.MODELS) == 14 and "palm_detection_lite" in corpus.MODELS


def test_unknown_name() -> None:
    with pytest.raises(KeyError, match="not a corpus model"):
        corpus.fetch("nope")


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    assert corpus.cache_dir() == tmp_path / f"mediapipe-{corpus.MEDIAPIPE_VERSION}"


def test_fetch_accepts_the_file_name(corpus_model) -> None:  # type: ignore[no-untyped-def]
    assert corpus.fetch("iris_landmark.tflite") == corpus_model("iris_landmark")
