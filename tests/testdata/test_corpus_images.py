"""Test images from scikit-image's wheel: fetching, caching, decoding, failures."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tflite2keras.testdata import corpus


def _no_download(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def run(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise AssertionError("pip download was called")

    monkeypatch.setattr(corpus.subprocess, "run", run)
    return calls


def test_unknown_image_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="'lena' is not a known image; expected one of astronaut, chelsea, coffee"):
        corpus.fetch_image("lena")
    with pytest.raises(KeyError, match="astronaut"):
        corpus.load_image("lena")


def test_load_astronaut(corpus_image) -> None:
    corpus_image("astronaut")  # fetched (or skipped outside CI, failed in CI)
    path = corpus.fetch_image()
    assert path.name == "astronaut.png" and path.parent.parent.parent == corpus.cache_dir().parent
    image = corpus.load_image()
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8 and image.flags.writeable
    assert 50 < image.mean() < 200 and image.std() > 30  # a photograph, not a blank
    assert not np.array_equal(image[..., 0], image[..., 2])  # colour


def test_second_call_is_a_cache_hit(corpus_image, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus_image("astronaut")
    first = corpus.fetch_image("astronaut")
    calls = _no_download(monkeypatch)
    assert corpus.fetch_image("astronaut") == first
    assert corpus.load_image("coffee").shape == (400, 600, 3)  # unpacked by the same download
    assert calls == []


def test_fresh_cache_downloads_once_and_leaves_no_temporaries(corpus_image, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path / "cache"))
    corpus_image("chelsea")  # downloads into the fresh cache
    path = corpus.fetch_image("chelsea")
    assert path == tmp_path / "cache" / "images" / f"scikit-image-{corpus.SKIMAGE_VERSION}" / "chelsea.png"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(corpus.IMAGES.values())
    calls = _no_download(monkeypatch)
    assert corpus.load_image("chelsea").shape == (300, 451, 3)
    assert corpus.load_image("rocket").shape == (427, 640, 3)
    assert calls == []


def test_download_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    monkeypatch.setattr(corpus.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: no network"))
    with pytest.raises(corpus.CorpusUnavailableError, match=r"scikit-image==0\.24\.0: ERROR: no network"):
        corpus.fetch_image()


def test_broken_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        target = Path(cmd[cmd.index("-d") + 1])
        (target / f"scikit_image-{corpus.SKIMAGE_VERSION}-cp311-none-any.whl").write_bytes(b"not a zip")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(corpus.subprocess, "run", run)
    with pytest.raises(corpus.CorpusUnavailableError, match="could not unpack"):
        corpus.fetch_image("coffee")
    assert (tmp_path / "images").is_dir() and not [p for p in (tmp_path / "images").rglob("*") if p.is_file()]
