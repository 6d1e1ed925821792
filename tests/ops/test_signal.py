"""ops/signal.py: RFFT2D and COMPLEX_ABS / REAL / IMAG from TF functions, against the interpreter and numpy.

The Keras model carries the ``complex64`` spectrum between layers as TFLite does (RFFT2D's output
may even be the model's output). TFLite's kernel crops or zero-pads the last two axes to
``fft_length``; TF's converter adds a PAD where it pads, and 1-D ``rfft`` / ``stft`` become
RFFT2D of one row between RESHAPEs of the complex tensor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, inputs

import tflite2keras as t2k
from tflite2keras.ops import signal as signal_ops

IMAGE = (7, 8, 16)  # batch, 7 channels of 8 x 16
WINDOW = np.hanning(17)[:16].astype(np.float32)  # tf.signal.hann_window(16), periodic

#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "rfft2d": ("RFFT2D", (IMAGE,), tf.signal.rfft2d, lambda x: np.fft.rfft2(x)),
    "rfft2d_abs": ("COMPLEX_ABS", (IMAGE,), lambda x: tf.abs(tf.signal.rfft2d(x)),
                   lambda x: np.abs(np.fft.rfft2(x))),
    "rfft2d_crop_real": ("REAL", ((7, 9, 10),), lambda x: tf.math.real(tf.signal.rfft2d(x, fft_length=[8, 8])),
                         lambda x: np.fft.rfft2(x, s=(8, 8)).real),
    "rfft2d_pad_imag": ("IMAG", ((7, 6, 10),), lambda x: tf.math.imag(tf.signal.rfft2d(x, fft_length=[8, 16])),
                        lambda x: np.fft.rfft2(x, s=(8, 16)).imag),
    "rfft_1d_abs": ("RFFT2D", ((7, 16),), lambda x: tf.abs(tf.signal.rfft(x)), lambda x: np.abs(np.fft.rfft(x))),
    "stft_magnitude": ("RFFT2D", ((64,),), lambda x: tf.abs(tf.signal.stft(x, frame_length=16, frame_step=8)),
                       lambda x: np.abs(np.fft.rfft(np.stack([x[:, i:i + 16] * WINDOW for i in range(0, 49, 8)], 1)))),
}
RELOAD = {"rfft2d_abs": "ComplexPart", "rfft2d": "RFFT2D"}
#: Their RESHAPEs have a batch-1 target in the file: the interpreter runs them at batch 1 only.
BATCH_1 = {"rfft_1d_abs", "stft_magnitude"}


def test_every_op_of_the_module_has_a_case() -> None:
    assert {"RFFT2D", *signal_ops.COMPLEX_PARTS} <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    check_case(case, function_to_tflite(case[2], *case[1]), tmp_path, RELOAD.get(name),
               (1,) if name in BATCH_1 else (1, 3))


def test_spectrum_is_complex_between_layers(function_to_tflite: Any) -> None:
    model = t2k.convert(function_to_tflite(CASES["rfft_1d_abs"][2], (7, 16)))
    kinds = [(type(la).__name__, str(la.output.dtype)) for la in model.layers[1:]]
    assert kinds == [("Reshape", "float32"), ("RFFT2D", "complex64"), ("Reshape", "complex64"),
                     ("ComplexPart", "float32")]


@pytest.mark.parametrize("function, shape, needle", [
    (lambda x: tf.abs(tf.signal.rfft2d(x)), (7, 9, 10), "fft_length=[9, 10]"),
    (lambda x: tf.abs(tf.signal.rfft2d(x)), (16,), "batch axis"),
])
def test_rfft2d_variants_are_unsupported(function: Any, shape: tuple[int, ...], needle: str,
                                         function_to_tflite: Any) -> None:
    data = function_to_tflite(function, shape)
    assert "RFFT2D" in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=r"op \d+ \(RFFT2D\)") as caught:
        t2k.convert(data)
    assert needle in str(caught.value)


def test_layer_configs_round_trip() -> None:
    from tflite2keras.layers import RFFT2D, ComplexPart

    for layer in (RFFT2D([4, 8]), ComplexPart("imag")):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    for make in (lambda: RFFT2D([4]), lambda: RFFT2D([0, 8]), lambda: ComplexPart("phase")):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            make()


JAX_CHILD = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
import keras
assert keras.backend.backend() == "jax"
import tflite2keras as t2k
folder = sys.argv[1]
out = {}
for name in json.load(open(os.path.join(folder, "names.json"))):
    model = t2k.convert(open(os.path.join(folder, name + ".tflite"), "rb").read())
    feed = np.load(os.path.join(folder, name + ".npz"))
    got = [np.asarray(g) for g in keras.tree.flatten(model(feed["x"]))]
    out[name] = float(np.max(np.abs(got[0] - feed["want"])) / (1e-4 + 1e-5 * np.max(np.abs(feed["want"]))))
    if name == "lstm":  # one SGD step changes every weight
        before = [np.array(w) for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.train_on_batch(feed["x"], np.ones_like(feed["want"]))
        out["trained"] = all(not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_weights))
print("RESULT " + json.dumps(out))
"""


def test_jax_backend(function_to_tflite: Any, tmp_path: Path) -> None:
    """Spectra and both recurrent ops under KERAS_BACKEND=jax (a child process: Keras picks its backend at
    import), against the interpreter's outputs computed here; one SGD step on the LSTM changes every weight."""
    import test_sequence as seq

    from tflite2keras.verification.reference import make_interpreter, run

    files = {name: function_to_tflite(CASES[name][2], *CASES[name][1]) for name in ("rfft2d", "stft_magnitude")}
    files.update({name: seq._data(name) for name in ("lstm", "rnn_relu")})
    cases = {**CASES, **seq.CASES}
    for name, data in files.items():
        x = inputs(cases[name][1], 1, 0)[0]
        want = run(make_interpreter(t2k.read(data)), [x])[0][0]
        (tmp_path / f"{name}.tflite").write_bytes(data)
        np.savez(tmp_path / f"{name}.npz", x=x, want=want)
    (tmp_path / "names.json").write_text(json.dumps(sorted(files)))
    root = str(Path(t2k.__file__).resolve().parent.parent)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", JAX_CHILD, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result.pop("trained"), result
    assert all(ratio <= 1 for ratio in result.values()), result
