"""Shared fixtures: the real-model corpus (required in CI) and small helpers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from tflite2keras import corpus


@pytest.fixture(scope="session")
def corpus_model() -> Callable[[str], Path]:
    """Return a function that gives the cached path of a corpus model.

    Outside CI a missing corpus skips the test with the reason; with ``CI=true`` it fails.
    """

    def get(name: str) -> Path:
        try:
            return corpus.fetch(name)
        except corpus.CorpusUnavailableError as err:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"corpus model {name} is required in CI: {err}")
            pytest.skip(f"corpus model {name} unavailable: {err}")

    return get
