"""Shared fixtures: the real-model corpus (required in CI) and small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# The tests mirror the package (tests/ops/test_conv.py for tflite2keras/ops/conv.py); their helper modules
# (oneop.py here, shared cases in a family's test) import by name from any folder.
for _folder in sorted(p for p in Path(__file__).parent.iterdir() if p.is_dir() and p.name != "__pycache__"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflite2keras.testdata import corpus


@pytest.fixture(scope="session")
def corpus_model() -> Callable[[str], Path]:
    """Return a function that gives the cached path of a corpus model.

    Outside CI a missing corpus skips the test with the reason; with ``CI=true`` it fails.
    """

    def get(name: str) -> Path:
        try:
            return corpus.fetch(name)
        except corpus.CorpusUnavailableError as err:
            _unavailable(f"corpus model {name}", err)

    return get


@pytest.fixture(scope="session")
def corpus_image() -> Callable[[str], Any]:
    """Return a function that gives a test image (``corpus.load_image``) as a uint8 array.

    As :func:`corpus_model`: outside CI an unavailable image skips the test, with ``CI=true`` it fails.
    """

    def get(name: str = "astronaut") -> Any:
        try:
            return corpus.load_image(name)
        except corpus.CorpusUnavailableError as err:
            _unavailable(f"test image {name}", err)

    return get


#: Real files written by other tools (TFLite Micro's), in the shared folder beside the checkout.
SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models" / "tflite-micro"


@pytest.fixture(scope="session")
def shared_model() -> Callable[[str], Path]:
    """Return a function that gives the path of a real file in :data:`SHARED_MODELS`.

    As :func:`corpus_model`: where the folder is absent, a test skips outside CI and fails with ``CI=true``.
    """

    def get(name: str) -> Path:
        if not SHARED_MODELS.is_dir():
            _unavailable(f"real file {name}", FileNotFoundError(
                f"the folder {SHARED_MODELS} is absent (CI has ../shared beside the checkout)"))
        return SHARED_MODELS / f"{name}.tflite"

    return get


def _unavailable(what: str, err: Exception) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required in CI: {err}")
    pytest.skip(f"{what} unavailable: {err}")


@pytest.fixture(scope="session")
def to_tflite() -> Callable[..., bytes]:
    """Return a function converting a Keras model to TFLite bytes: ``to_tflite(model, quant=None)``.

    ``quant`` is None (float32), ``"fp16"`` or ``"int8"`` (per-channel weights, with a
    seeded representative dataset).
    """
    import numpy as np
    import tensorflow as tf

    def convert(model: Any, quant: str | None = None) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if quant == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quant == "int8":
            shape = [1, *model.inputs[0].shape[1:]]
            rng = np.random.default_rng(0)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: (
                [rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(8)
            )
        return bytes(converter.convert())

    return convert


@pytest.fixture()
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register ops without leaking them into other tests."""
    from tflite2keras.ops import registry

    monkeypatch.setattr(registry, "_REGISTRY", registry.specs())


@pytest.fixture(scope="session")
def fresh_python() -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Return ``run(code)``: the code run in a fresh interpreter that imports this tree's tflite2keras."""
    import tflite2keras

    root = str(Path(tflite2keras.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)

    return run


@pytest.fixture(scope="session")
def function_to_tflite() -> Callable[..., bytes]:
    """Return ``convert(function, *specs)``: TFLite bytes of a TF function traced with inputs of
    the given shapes (batch excluded; float32, or ``(shape, dtype)``) and a static batch of 1, as
    MediaPipe's models have.
    """
    import tensorflow as tf
    from oneop import shape_dtype

    def convert(function: Callable[..., Any], *shapes: Any) -> bytes:
        specs = [tf.TensorSpec((1, *shape), dtype) for shape, dtype in map(shape_dtype, shapes)]
        concrete = tf.function(function).get_concrete_function(*specs)
        return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())

    return convert
