"""The corpus under ``KERAS_BACKEND=jax``: convert + verify every model, TensorFlow never imported.

Keras picks its backend when it is first imported, so the JAX run is a child process.
``face_landmark_with_attention``'s custom ops are lowered to builtins by
``rewrite_custom_ops``, which traces Keras layers in ``tf.function``: that rewrite is done
here in the parent (TensorFlow backend) and the child gets the bytes in a file, so the JAX
child stays TensorFlow-free. The child also takes one SGD step on ``iris_landmark`` and
checks that it changes every trainable weight.

pose_landmark_full is the one exception the coverage issue allows, and only because its
difference is shown to be XLA's float32 arithmetic: its landmarks (output 0, max |value| ~300)
come out 0.00808 from the interpreter against a bound of 0.00795 (2x the interpreter's own
XNNPACK-vs-builtin noise), ratio 1.017, while every one of its 140 layers passes on its own
under JAX (worst 0.32 of its bound), and against a float64 run of the same Keras model JAX's
float32 error is 0.00479, XNNPACK's 0.00331, TensorFlow's 0.00228: the two float32 errors
point in roughly opposite directions and add up. ``test_pose_landmark_full_is_xla_float32``
re-measures that float64 evidence; the bound itself is not widened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tflite2keras.testdata import corpus

ATTENTION = "face_landmark_with_attention"

CHILD = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import tflite2keras as t2k
from tflite2keras.testdata import corpus

rewritten = sys.argv[1]
for name in corpus.MODELS:
    path = corpus.fetch(name)
    model = t2k.convert(path)
    src = open(rewritten, "rb").read() if name == "face_landmark_with_attention" else path
    report = t2k.verify(model, src, samples=2)
    worst = max(report.outputs, key=lambda c: c.max_error / c.bound)
    print("RESULT " + json.dumps({"model": name, "ok": report.ok, "error": worst.max_error,
                                   "bound": worst.bound, "output": worst.name,
                                   "failed": [[c.name, c.max_error, c.bound] for c in report.outputs if not c.ok]}),
          flush=True)
    del model
    keras.backend.clear_session()

model = t2k.convert(corpus.fetch("iris_landmark"))
before = [np.array(w) for w in model.trainable_weights]
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (2, *model.inputs[0].shape[1:])).astype("float32")
y = [rng.normal(size=(2, *o.shape[1:])).astype("float32") for o in model.outputs]
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
model.fit(x, y, epochs=1, batch_size=2, verbose=0)
unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(np.array(w), b)]
print("GRADIENT " + json.dumps({"weights": len(before), "unchanged": unchanged}), flush=True)

print("TF_IMPORTED " + json.dumps("tensorflow" in sys.modules), flush=True)
"""


@pytest.fixture(scope="module")
def jax_run(corpus_model, tmp_path_factory) -> dict:  # type: ignore[no-untyped-def]
    import tflite2keras as t2k

    for name in corpus.MODELS:
        corpus_model(name)  # skip (or fail in CI) here if the corpus is unavailable
    rewritten = tmp_path_factory.mktemp("jax") / f"{ATTENTION}_rewritten.tflite"
    rewritten.write_bytes(t2k.rewrite_custom_ops(corpus_model(ATTENTION)).data)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(rewritten)], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out: dict = {"results": {}}
    for line in proc.stdout.splitlines():
        tag, _, payload = line.partition(" ")
        if tag == "RESULT":
            row = json.loads(payload)
            out["results"][row["model"]] = row
        elif tag in ("GRADIENT", "TF_IMPORTED"):
            out[tag] = json.loads(payload)
    for row in out["results"].values():  # shown with -s, or under a failing test
        print(f"jax {row['model']:34s} {row['error']:.3g} / {row['bound']:.3g} ({row['output']}) "
              f"{'ok' if row['ok'] else 'FAIL'}")
    return out


XLA_EXCEPTION = "pose_landmark_full"


@pytest.mark.parametrize("name", [m for m in corpus.MODELS if m != XLA_EXCEPTION])
def test_corpus_verifies_under_jax(jax_run: dict, name: str) -> None:
    row = jax_run["results"][name]
    assert row["ok"], f"{name} under JAX: outputs over their bound (name, error, bound): {row['failed']}"


def test_pose_landmark_full_misses_only_its_landmarks_and_only_just(jax_run: dict) -> None:
    """All outputs but the landmarks pass; the landmarks' miss stays the measured one (see the module doc)."""
    row = jax_run["results"][XLA_EXCEPTION]
    assert [name for name, *_ in row["failed"]] in ([], ["output 0"]), row["failed"]
    assert row["error"] / row["bound"] < 1.05, row


F64_CHILD = r"""
import json
import numpy as np
import keras
import tflite2keras as t2k
from tflite2keras.testdata import corpus
from tflite2keras.verification.reference import make_interpreter, random_inputs, run

tfl = t2k.read(corpus.fetch("pose_landmark_full"))
x = np.concatenate([s[0] for s in random_inputs(tfl, 2, 0)])
m32 = t2k.convert(tfl)
k32 = np.asarray(m32(x, training=False)[0], np.float64)
xnn = np.concatenate([run(make_interpreter(tfl), [x[i:i + 1]])[0][0] for i in range(2)]).astype(np.float64)
keras.config.set_floatx("float64")
m64 = keras.models.model_from_json(m32.to_json().replace('"float32"', '"float64"'))
m64.set_weights([np.asarray(w, np.float64) for w in m32.get_weights()])
f64 = np.asarray(m64(x.astype(np.float64), training=False)[0])
assert f64.dtype == np.float64
err = lambda a: float(np.max(np.abs(a.reshape(f64.shape) - f64)))
print("F64 " + json.dumps({"jax32": err(k32), "xnnpack": err(xnn), "max": float(np.max(np.abs(f64)))}))
"""


def test_pose_landmark_full_is_xla_float32(corpus_model) -> None:
    """Against float64, JAX's float32 landmarks are about as far off as XNNPACK's own float32 result."""
    corpus_model(XLA_EXCEPTION)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", F64_CHILD], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    row = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("F64 "))[4:])
    print(row)
    assert row["jax32"] <= 2 * row["xnnpack"], row  # measured 0.00479 vs 0.00331
    assert row["jax32"] <= 3e-5 * row["max"], row  # ~1.6e-5 of the largest value: float32 rounding, not a bug


def test_jax_child_imports_no_tensorflow(jax_run: dict) -> None:
    assert jax_run["TF_IMPORTED"] is False


def test_one_sgd_step_under_jax_changes_every_weight(jax_run: dict) -> None:
    grad = jax_run["GRADIENT"]
    assert grad["weights"] > 0 and grad["unchanged"] == []
