"""The differential suite (tflite2keras.testdata.diff): each model converts and verifies, or raises a named error.

Every ``(name, kind)`` of :func:`tflite2keras.testdata.diff.cases` must convert and verify against
the interpreter per output and per layer at batch 1 and per output at batch 3, with the default
tolerance (an ``int8`` file also as a ``fake_quant`` model), with no Lambda layer (and a float32
one reloads in safe mode with identical outputs); or raise the ``UnsupportedOpError``
listed for it in :data:`UNSUPPORTED`. A failure that is a bug still open is listed in
:data:`KNOWN` with its exact failure, so the test fails as soon as it is fixed (then drop the entry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError, UnsupportedOpError
from tflite2keras.testdata import diff as suite_diff
from tflite2keras.testdata.diff import SPECS
from tflite2keras.testdata.diff_models import VOCAB

_RNN_TIME_MAJOR = r"op \d+ \(TRANSPOSE\) with perm \[1, 0, 2\] moves the batch axis"

#: Models whose file uses something the converter does not support, with the message it raises.
UNSUPPORTED: dict[str, str] = {
    # ops/matmul.py: only the right operand of BATCH_MATMUL may be constant (its module docstring).
    "matmul_const_left": r"op 0 \(BATCH_MATMUL\) has a constant left operand of shape \(7, 11\)",
    # Attention over two axes computes its broadcast shape at run time (BROADCAST_ARGS of SHAPEs).
    # Unrolled recurrent layers go time-major: a TRANSPOSE of the batch axis, which no layer may do.
    "lstm_sequences": _RNN_TIME_MAJOR,
    "lstm_last": _RNN_TIME_MAJOR,
    "gru_sequences": _RNN_TIME_MAJOR,
    "simple_rnn": _RNN_TIME_MAJOR,
    "bidirectional_lstm": _RNN_TIME_MAJOR,
}

#: Open bugs: (name, kind) -> (the exception, a regex of its message) that checking it raises today.
KNOWN: dict[tuple[str, str], tuple[type[BaseException], str]] = {}

#: Open bugs of the ``fake_quant`` model of an int8 file, as :data:`KNOWN`.
FAKE_QUANT_KNOWN: dict[str, tuple[type[BaseException], str]] = {
}

#: int8 files whose ``quantized="float"`` model cannot match end to end (their ``fake_quant`` one
#: must). Float mode keeps the integer kernels' saturation (``softmax_axes12``'s SUM, which clips at
#: 69.8, matches since), so none is expected here.
FLOAT_MODE_SATURATES: dict[str, str] = {}

CASES = [pytest.param(name, kind, id=f"{name}-{kind}") for name, kind in suite_diff.cases()]


def _check(name: str, kind: str, data: bytes, mode: str = "float") -> None:
    model = t2k.convert(data, quantized=mode) if kind == "int8" else t2k.convert(data)
    assert not [layer.name for layer in model.layers if isinstance(layer, keras.layers.Lambda)]
    report = t2k.verify(model, data, samples=2, per_layer=True)  # (indices drawn in [0, rows) of their table)
    assert report.ok, str(report)  # (a model of multi-output layers, e.g. SPLIT_V, has no layer checks)
    assert not [c.name for c in report.outputs if c.degenerate], str(report)  # a constant reference proves little
    if model.fixed_shape:  # axis 0 is data (subtract_rank3_from_rank4 broadcasts a rank-3 input's batch axis
        return  # against the height of a rank-4 one: its file runs at batch 1 only), no batch to vary
    batched = t2k.verify(model, data, samples=1, batch=3)
    assert batched.ok and batched.batch == 3, str(batched)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_converts_and_verifies_or_raises_a_named_error(name: str, kind: str) -> None:
    data = suite_diff.tflite(name, kind)
    if name in UNSUPPORTED:
        with pytest.raises(UnsupportedOpError, match=UNSUPPORTED[name]):
            t2k.convert(data)
    elif (name, kind) in KNOWN:  # fixed? drop its KNOWN entry
        error, message = KNOWN[name, kind]
        with pytest.raises(error, match=message):
            _check(name, kind, data)
    elif kind == "int8" and name in FLOAT_MODE_SATURATES:
        with pytest.raises(AssertionError, match=FLOAT_MODE_SATURATES[name]):
            _check(name, kind, data)
    else:
        _check(name, kind, data)


@pytest.mark.parametrize(("name", "kind"), [c for c in CASES if c.values[1] == "int8" and c.values[0] not in UNSUPPORTED])
def test_int8_fake_quant_model_verifies(name: str, kind: str) -> None:
    data = suite_diff.tflite(name, kind)
    if name in FAKE_QUANT_KNOWN:  # fixed? drop its FAKE_QUANT_KNOWN entry
        error, message = FAKE_QUANT_KNOWN[name]
        with pytest.raises(error, match=message):
            _check(name, kind, data, mode="fake_quant")
    else:
        _check(name, kind, data, mode="fake_quant")


@pytest.mark.parametrize(("name", "kind"), [c for c in CASES if c.values[1] == "fp32" and c.values[0] not in UNSUPPORTED
                                            and tuple(c.values) not in KNOWN])
def test_fp32_model_reloads_in_safe_mode_with_identical_outputs(name: str, kind: str, tmp_path: Path) -> None:
    model = t2k.convert(suite_diff.tflite(name, kind))
    model.save(tmp_path / "model.keras")
    reloaded = t2k.load(tmp_path / "model.keras")  # safe_mode=True: registered layers only
    rng = np.random.default_rng(3)
    shapes = [(x.shape[0] or 3, *x.shape[1:]) for x in model.inputs]  # batch 3, or a fixed model's own shape
    xs = [rng.integers(0, VOCAB, shape).astype(x.dtype) if "int" in str(x.dtype)
          else rng.uniform(-1, 1, shape).astype(x.dtype) for x, shape in zip(model.inputs, shapes)]
    feed = xs if len(xs) > 1 else xs[0]
    for a, b in zip(keras.tree.flatten(model(feed)), keras.tree.flatten(reloaded(feed))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_at_least_sixty_models_a_third_also_fp16_and_int8() -> None:
    names = suite_diff.names()
    quant = [name for name in names if suite_diff.kinds(name) == suite_diff.KINDS]
    assert len(names) >= 60 and len(quant) >= len(names) / 3, (len(names), len(quant))
    listed = {name for name, _ in KNOWN} | set(UNSUPPORTED) | set(FLOAT_MODE_SATURATES) | set(FAKE_QUANT_KNOWN)
    assert listed <= set(names), listed - set(names)
    assert all(len(SPECS[name].shapes) == 1 and SPECS[name].dtype == "float32" for name in quant)


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("conv2d", "fp32", "'conv2d' is not a suite_diff model"),
    ("flip_w", "int8", "'flip_w' is converted as fp32; received kind 'int8'"),
    ("pad_reflect", "int4", "received kind 'int4'"),
])
def test_unknown_name_or_kind(name: str, kind: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        suite_diff.path(name, kind)


def test_generates_every_kind_once_then_reuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tflite2keras.testdata import suite

    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    data = suite_diff.tflite("crop2d_asym", "int8")
    assert suite_diff.cache_dir().parent == suite.cache_dir()
    assert sorted(p.name for p in suite_diff.cache_dir().iterdir()) == [
        "crop2d_asym_fp16.tflite", "crop2d_asym_fp32.tflite", "crop2d_asym_int8.tflite"]
    tfl = t2k.read(data)
    assert tfl.tensor(tfl.inputs[0]).shape_signature == (-1, 13, 11, 5)

    def fail(*args: Any) -> None:
        raise AssertionError("a cached file was generated again")

    monkeypatch.setattr(suite_diff, "_build", fail)
    assert suite_diff.tflite("crop2d_asym", "int8") == data


def test_reading_a_cached_file_imports_neither_tensorflow_nor_keras(fresh_python: Any) -> None:
    suite_diff.path("reverse_h")  # in this process's cache (generated here if missing)
    done = fresh_python(
        "import sys\n"
        "from tflite2keras import suite_diff\n"
        "data = suite_diff.tflite('reverse_h')\n"
        "assert len(data) > 100\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
