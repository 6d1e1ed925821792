"""Classifier-only fine-tuning under Keras's standard distribution APIs gives the single-device result.

Each test runs a child process (devices must be set up before the backend starts): a
seeded synthetic face problem is fitted with ``heads.replace_classifier`` +
``heads.freeze_backbone`` + ``heads.ssd_classification_loss`` + ``heads.ssd_dataset``,
once on two devices (``tf.distribute.MirroredStrategy`` over two logical CPUs, or JAX's
``keras.distribution.DataParallel`` over two host devices) and once on one device, from
the same initial weights. The per-epoch losses and the trained classifier weights agree
up to float summation order, and the frozen backbone is bit-identical after training.

The loss normalizes by the positive anchors of the global batch: under ``tf.distribute`` it
sums the replicas' counts (see :mod:`tflite2keras.heads.loss`), and JAX's ``DataParallel``
compiles one global program. The boxes here have random sizes and the two replicas'
half-batches hold different numbers of positive anchors (checked in the child), the case a
per-replica normalization would get wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Shared by both children: the problem, a model builder and a runner that fits it.
_PROBLEM = """
import numpy as np
import keras
from tflite2keras import heads, postprocess, zoo

ANCHORS = postprocess.anchors("face_detection_short_range")
CLASSES, SAMPLES, BATCH, EPOCHS, LR = 3, 16, 8, 2, 0.05
rng = np.random.default_rng(20240611)
images = rng.uniform(-1.0, 1.0, (SAMPLES, 128, 128, 3)).astype(np.float32)
sides = rng.uniform(0.15, 0.45, SAMPLES)
corners = rng.uniform(0.0, 1.0 - sides[:, None], (SAMPLES, 2))
boxes = [np.concatenate([c, c + side])[None] for c, side in zip(corners, sides)]
labels = [[i % CLASSES] for i in range(SAMPLES)]
positives = [int((heads.encode_targets(b, l, ANCHORS, CLASSES).max(-1) > 0.5).sum()) for b, l in zip(boxes, labels)]
halves = [sum(positives[i:i + BATCH // 2]) for i in range(0, SAMPLES, BATCH // 2)]
assert halves[0] != halves[1] and halves[2] != halves[3], halves  # replicas see unequal positives

keras.utils.set_random_seed(0)
INIT = heads.replace_classifier(zoo.blazeface(), CLASSES).get_weights()


def build():
    model = heads.replace_classifier(zoo.blazeface(), CLASSES)
    model.set_weights(INIT)
    report = heads.freeze_backbone(model)
    assert [name for name, *_ in report.trainable] == ["head8_classifier", "head16_classifier"], report
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=0.0),
                  loss=heads.ssd_classification_loss(ANCHORS))
    return model


def fit(model):
    ds = heads.ssd_dataset(images, boxes, labels, ANCHORS, num_classes=CLASSES, batch_size=BATCH, shuffle=False)
    history = model.fit(ds, epochs=EPOCHS, verbose=0).history["loss"]
    assert len(history) == EPOCHS and np.all(np.isfinite(history)), history
    return np.asarray(history, np.float64)


def weights(model):
    return ([keras.ops.convert_to_numpy(v) for v in model.trainable_weights],
            [keras.ops.convert_to_numpy(v) for v in model.non_trainable_weights])


def compare(name, loss_1, loss_2, trained_1, trained_2, frozen_1, frozen_2, frozen_init, trained_init):
    loss_rel = float(np.max(np.abs(loss_2 - loss_1) / np.abs(loss_1)))
    w_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(trained_1, trained_2))
    w_moved = max(float(np.max(np.abs(a - b))) for a, b in zip(trained_1, trained_init))
    print(f"{name}: losses single {loss_1.tolist()} distributed {loss_2.tolist()}; max rel loss diff "
          f"{loss_rel:.3g}; max |trained weight diff| {w_diff:.3g} (weights moved up to {w_moved:.3g})")
    assert loss_1[-1] < loss_1[0], loss_1  # it trains: agreement is not between two idle runs
    np.testing.assert_allclose(loss_2, loss_1, rtol=RTOL)
    assert len(trained_1) == len(trained_2) == 4 and w_moved > 1e3 * WATOL, (len(trained_2), w_moved)
    for a, b in zip(trained_1, trained_2):
        np.testing.assert_allclose(b, a, rtol=0, atol=WATOL)
    assert len(frozen_1) == len(frozen_2) == len(frozen_init) > 50
    for init, a, b in zip(frozen_init, frozen_1, frozen_2):
        assert np.array_equal(init, a) and np.array_equal(init, b)
"""

# Tolerances (both backends). The two runs differ only in float32 summation order: each
# replica reduces its half-batch, then the halves are summed (gradients all-reduced, loss
# metric averaged). Measured (printed with -s): losses 1.1e-7 relative (2 float32 ulps at
# ~1.1) on both backends; trained weights bit-identical under TF, 4e-9 apart under JAX.
# A float32 sum of ~1e4 terms reorders to within ~1e-6 relative in the worst case, so
# rtol=1e-5 leaves margin for other CPUs' kernels and thread counts. It must not be
# looser: replicas normalizing by unequal positive counts (random boxes: 13 vs 15
# positives per half-batch) measured 7.7e-5 on the losses and 3.5e-4 on the weights, and
# gradients summed instead of averaged (twice the step) would move the second epoch's
# loss by ~1% and the weights by as much as training moves them (~0.02, checked >> WATOL).
_TOLERANCES = """
RTOL, WATOL = 1e-5, 1e-6
"""

_TF = """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
""" + _PROBLEM + _TOLERANCES + """
assert keras.backend.backend() == "tensorflow"
single = build()
trained_0, frozen_0 = weights(single)
loss_1 = fit(single)
trained_1, frozen_1 = weights(single)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
    model = build()
assert model.distribute_strategy is strategy
loss_2 = fit(model)
trained_2, frozen_2 = weights(model)
for v in model.weights:  # each replica holds its own copy: they stay in sync
    copies = [c.numpy() for c in v.value.values]
    assert len(copies) == 2 and np.array_equal(copies[0], copies[1]), v.path
compare("MirroredStrategy", loss_1, loss_2, trained_1, trained_2, frozen_1, frozen_2, frozen_0, trained_0)
print("ok")
"""

_JAX = _PROBLEM + _TOLERANCES + """
import jax

assert keras.backend.backend() == "jax" and jax.device_count() == 2, (keras.backend.backend(), jax.devices())
single = build()
trained_0, frozen_0 = weights(single)
loss_1 = fit(single)
trained_1, frozen_1 = weights(single)

devices = keras.distribution.list_devices("cpu")
assert len(devices) == 2, devices
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
model = build()
for v in model.weights:  # replicated over both devices
    assert len(v.value.sharding.device_set) == 2 and v.value.sharding.is_fully_replicated, (v.path, v.value.sharding)
loss_2 = fit(model)
trained_2, frozen_2 = weights(model)
for v in model.trainable_weights:
    assert len(v.value.sharding.device_set) == 2, (v.path, v.value.sharding)
compare("DataParallel", loss_1, loss_2, trained_1, trained_2, frozen_1, frozen_2, frozen_0, trained_0)
print("ok")
"""


def _run(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    print(done.stdout)
    return done.stdout


def test_mirrored_strategy_matches_single_device() -> None:
    assert _run(_TF).strip().endswith("ok")


def test_jax_data_parallel_matches_single_device() -> None:
    out = _run(_JAX, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert out.strip().endswith("ok")
