"""Real files written by other tools (``../shared/models/tflite-micro``): each converts and verifies
against the interpreter in both quantized modes, or fails in the one way this table says.

These are TFLite Micro's example and benchmark models: int8 and int16 inputs, integer LSTMs, a
PyTorch-origin NCHW MobileNetV2, SVDF, custom signal ops. Nobody on this project wrote them. The
folder sits beside the checkout (CI has it); where it is absent the tests skip, and fail with ``CI=true``.

A row of :data:`EXPECTED_FAILURES` that starts to pass fails its test, so the table stays true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from conftest import SHARED_MODELS

import tflite2keras as t2k
from tflite2keras.errors import InvalidModelError, UnsupportedOpError

FOLDER = SHARED_MODELS

#: Files ``convert`` refuses, with the error and a regex of its message. None of them runs in the
#: stock interpreter as it is, except keyword_scrambled_8bit, which aborts it.
REFUSED: dict[str, tuple[type[Exception], str]] = {
    "keyword_scrambled_8bit": (UnsupportedOpError, "SVDF.* weights_time .* INT8"),  # int8 time weights: aborts
    "person_detect": (InvalidModelError, "per-channel axis 3 does not exist in shape"),  # the interpreter refuses it too
    "audio_preprocessor_float": (UnsupportedOpError, "SignalWindow|Signal|custom"),  # TFLite Micro signal ops
    "audio_preprocessor_int8": (UnsupportedOpError, "SignalWindow|Signal|custom"),
}

#: (file, mode) whose converted model does not yet verify: none. (micro_speech_lstm's fake_quant model
#: missed by 17 steps until the integer LSTM kernel was repeated, now bit-exact; its float model's bound
#: counts the LSTM's 49 requantizations of its state, one per time step: verification.quantized.depths.)
EXPECTED_FAILURES: set[tuple[str, str]] = set()
#: Files whose outputs barely move on random inputs (keyword_scrambled's softmax stays at 0.5, and its
#: last op requantizes int16 to a scaled int32 output): every layer is compared too.
PER_LAYER = {"keyword_scrambled"}


def _files() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.tflite")) if FOLDER.is_dir() else []


def _modes(name: str) -> tuple[str, ...]:
    """Both modes for an integer file; a float file's fake_quant model is its float model."""
    tfl = t2k.read(FOLDER / f"{name}.tflite")
    integer = any(tfl.tensor(i).dtype in ("INT8", "UINT8", "INT16") for op in tfl.operators for i in op.outputs)
    return ("float", "fake_quant") if integer else ("float",)


#: Without the folder, one case stands for all, and skips (or fails in CI) on its absence.
CASES = ([pytest.param(name, mode, id=f"{name}-{mode}") for name in _files() if name not in REFUSED
          for mode in _modes(name)] or [pytest.param("hello_world_float", "float", id="folder-absent")])


def test_the_folder_has_the_files_this_table_knows(shared_model: Callable[[str], Path]) -> None:
    shared_model("hello_world_float")
    names = set(_files())
    assert set(REFUSED) <= names and {n for n, _ in EXPECTED_FAILURES} <= names
    assert len(names) >= 14 and len(CASES) >= 15


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_named_error(name: str, shared_model: Callable[[str], Path]) -> None:
    error, message = REFUSED[name]
    with pytest.raises(error, match=message):
        t2k.convert(shared_model(name))


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_converts_and_verifies(name: str, mode: str, shared_model: Callable[[str], Path]) -> None:
    path = shared_model(name)
    model = t2k.convert(path, quantized=mode)
    report = t2k.verify(model, path, samples=3, per_layer=name in PER_LAYER)
    if (name, mode) in EXPECTED_FAILURES:  # fixed? drop its EXPECTED_FAILURES entry
        assert not report.ok, f"{name} {mode} now verifies: remove it from EXPECTED_FAILURES"
    else:
        assert report.ok, str(report)
