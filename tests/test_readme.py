"""The README's Python snippets run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_snippets_run(corpus_model: Any, scratch_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    corpus_model("palm_detection_lite")  # fetch (or fail in CI) before the snippets do
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "lint: no mismatches" in out and "OK" in out
    assert "'table mine" in out
    from tflite2keras import registry

    assert registry.get("MY_CUSTOM_DENSE").layers == ("Dense",)
