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
    from tflite2keras.ops import registry

    assert registry.get("MY_CUSTOM_DENSE").layers == ("Dense",)


def _readme_names() -> list[str]:
    """Every ``t2k.``-, ``tflite2keras.``- or module-qualified name in the README (``heads.ssd_dataset``,
    ``t2k.zoo.blazepalm``): a module of the package followed by attributes, not part of a longer name
    (``keras.layers.Dense``), a path (``benchmarks/heads.py``) or a snippet's own variable (``model.save``)."""
    import ast

    text = README.read_text()
    modules = set(_short_names())
    variables = set()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                variables.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                variables.add(node.name)
            elif isinstance(node, ast.arg):
                variables.add(node.arg)
    prefixes = {"t2k", "tflite2keras"} | (modules - variables)
    pattern = re.compile(rf"(?<![\w./-])(?:{'|'.join(sorted(prefixes))})(?:\.[A-Za-z_]\w*)+(?!\w|\.py\b|/)")
    return sorted({name for name in pattern.findall(text) if not name.endswith('.py')})  # file names


def _short_names() -> dict[str, str]:
    """A module's last name -> its path, for modules whose last name is unique in the package and
    that are not private (the README says ``tiny.tflite()`` for ``tflite2keras.testdata.tiny``)."""
    import pkgutil
    from collections import Counter

    import tflite2keras

    found = [m.name for m in pkgutil.walk_packages(tflite2keras.__path__, "tflite2keras.")]
    counts = Counter(name.rsplit(".", 1)[-1] for name in found)
    return {name.rsplit(".", 1)[-1]: name for name in found
            if counts[name.rsplit(".", 1)[-1]] == 1 and not name.rsplit(".", 1)[-1].startswith("_")}


def _resolve(name: str) -> Any:
    import importlib

    import tflite2keras

    first = name.split(".")[0]
    if first not in ("t2k", "tflite2keras") and not hasattr(tflite2keras, first):
        name = _short_names()[first] + name[len(first):]

    parts = name.split(".")
    obj, path = tflite2keras, "tflite2keras"
    for part in parts[1:] if parts[0] in ("t2k", "tflite2keras") else parts:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(f"{path}.{part}")  # a submodule not imported yet
        path = f"{path}.{part}"
    return obj


def test_readme_names_resolve() -> None:
    """The README documented postprocess.HeatmapKeypoints, which lives in tflite2keras.layers."""
    names = _readme_names()
    assert {"t2k.zoo.blazepalm", "heads.ssd_dataset", "postprocess.PRESETS", "tiny.tflite"} <= set(names)
    assert len(names) >= 40, names
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (AttributeError, ImportError) as err:
            missing.append(f"{name} ({err})")
    assert not missing, missing
