"""heads.ssd_classification_loss: numpy references, extreme logits, shapes, backends, tf.distribute."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from tflite2keras.errors import InvalidArgumentError, ShapeMismatchError
from tflite2keras.heads.loss import SSDClassificationLoss, ssd_classification_loss

B, N, C, R = 5, 37, 3, 11
ANCHORS = np.random.default_rng(7).uniform(0.1, 0.9, (N, 4)).astype(np.float32)


def reference(t: np.ndarray, x: np.ndarray, kind: str = "focal", alpha: float = 0.25, gamma: float = 2.0) -> float:
    """The textbook formulas in float64 (naive sigmoid: only for moderate logits)."""
    t, x = t.astype(np.float64), x.astype(np.float64)
    valid = t != -1
    t = np.where(valid, t, 0.0)
    p = 1.0 / (1.0 + np.exp(-x))
    loss = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    if kind == "focal":
        p_t = t * p + (1 - t) * (1 - p)
        loss *= (t * alpha + (1 - t) * (1 - alpha)) * (1 - p_t) ** gamma
    positives = np.sum(t.max(-1) > 0.5)
    return float(np.sum(loss * valid) / max(1, positives))


def targets(seed: int, ignore: bool = True) -> np.ndarray:
    """One-hot targets (some multi-hot), background rows and ignored (-1) rows."""
    rng = np.random.default_rng(seed)
    t = np.zeros((B, N, C), np.float32)
    rows = np.argwhere(rng.random((B, N)) < 0.25)
    t[rows[:, 0], rows[:, 1], rng.integers(0, C, len(rows))] = 1.0
    t[0, 3, :] = 1.0  # multi-hot
    if ignore:
        t[np.where(rng.random((B, N)) < 0.15) + (slice(None),)] = -1.0
    return t


def logits(seed: int, scale: float = 4.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, (B, N, C)).astype(np.float32)


@pytest.mark.parametrize("kind,alpha,gamma", [("focal", 0.25, 2.0), ("focal", 0.6, 0.5), ("focal", 0.25, 0.0),
                                              ("bce", 0.25, 2.0)])
def test_matches_numpy_reference(kind: str, alpha: float, gamma: float) -> None:
    t, x = targets(1), logits(2)
    assert np.sum(t == -1) > 0 and np.sum(t.max(-1) == 1) > 1
    loss = ssd_classification_loss(ANCHORS, kind=kind, alpha=alpha, gamma=gamma)
    np.testing.assert_allclose(float(loss(t, x)), reference(t, x, kind, alpha, gamma), rtol=1e-5)


def test_per_sample_values_average_to_the_normalized_sum() -> None:
    t, x = targets(3), logits(4)
    per_sample = np.asarray(SSDClassificationLoss(N, reduction=None)(t, x))
    positives = np.sum(t.max(-1) > 0.5)
    expected = [reference(t[b:b + 1], x[b:b + 1]) * max(1, np.sum(t[b].max(-1) > 0.5)) * B / positives
                for b in range(B)]
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    np.testing.assert_allclose(per_sample.mean(), reference(t, x), rtol=1e-5)


def test_no_positive_divides_by_one() -> None:
    t = np.zeros((B, N, C), np.float32)
    x = logits(5)
    assert reference(t, x) > 0
    np.testing.assert_allclose(float(ssd_classification_loss(ANCHORS)(t, x)), reference(t, x), rtol=1e-5)


def test_probabilities_give_the_same_loss_as_logits() -> None:
    t, x = targets(6), logits(7, scale=2.0)
    probs = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    from_probs = ssd_classification_loss(ANCHORS, from_logits=False)(t, probs.astype(np.float32))
    np.testing.assert_allclose(float(from_probs), reference(t, x), rtol=1e-4)


@pytest.mark.parametrize("kind", ["focal", "bce"])
def test_extreme_logits_are_finite_and_exact(kind: str) -> None:
    import tensorflow as tf

    t = np.zeros((1, N, C), np.float32)
    x = np.full((1, N, C), -100.0, np.float32)
    t[0, 0, 0], x[0, 0, 0] = 1.0, -100.0  # positive, confidently wrong: alpha * 1 * 100
    t[0, 1, 1], x[0, 1, 1] = 1.0, 100.0  # positive, confidently right: 0
    x[0, 2, 2] = 100.0  # negative, confidently wrong: (1 - alpha) * 1 * 100
    t[0, 4, :] = -1.0
    x[0, 4, :] = 100.0  # ignored
    loss = ssd_classification_loss(ANCHORS, kind=kind)
    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = loss(t, tensor)
    grad = tape.gradient(value, tensor).numpy()
    expected = (0.25 * 100 + 0.75 * 100) / 2 if kind == "focal" else (100 + 100) / 2
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)
    assert np.all(np.isfinite(grad))
    assert np.all(grad[0, 4] == 0)  # ignored anchor: no gradient
    assert grad[0, 0, 0] < 0 and grad[0, 2, 2] > 0


def test_gradient_matches_finite_differences() -> None:
    import tensorflow as tf

    t, x = targets(8), logits(9, scale=2.0).astype(np.float64)
    loss = SSDClassificationLoss(N, dtype="float64")
    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = loss(t, tensor)
    grad = tape.gradient(value, tensor).numpy()
    step = 1e-6
    for idx in [(0, 3, 0), (1, 10, 2), (4, 36, 1), (2, 0, 1)]:
        plus, minus = x.copy(), x.copy()
        plus[idx] += step
        minus[idx] -= step
        numeric = (reference(t, plus) - reference(t, minus)) / (2 * step)
        np.testing.assert_allclose(grad[idx], numeric, rtol=1e-5, atol=1e-9)


def test_untrained_regressor_scores_zero() -> None:
    loss = ssd_classification_loss(ANCHORS)
    assert float(loss(np.zeros((B, N, 0), np.float32), logits(10)[..., :1].repeat(R, -1))) == 0.0


def test_regression_matches_smooth_l1_reference() -> None:
    rng = np.random.default_rng(11)
    pred = rng.normal(0, 2, (B, N, R)).astype(np.float32)
    target = np.zeros((B, N, R + 1), np.float32)
    target[..., :4] = rng.normal(0, 2, (B, N, 4))
    target[..., 4:R] = 55.0  # keypoint columns: never read
    mask = rng.random((B, N)) < 0.3
    target[..., -1] = mask
    diff = np.abs(pred[..., :4].astype(np.float64) - target[..., :4])
    huber = np.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).sum(-1)
    expected = float(np.sum(huber * mask) / mask.sum())
    loss = ssd_classification_loss(ANCHORS, regression=True)
    np.testing.assert_allclose(float(loss(target, pred)), expected, rtol=1e-5)
    t, x = targets(12), logits(13)
    np.testing.assert_allclose(float(loss(t, x)), reference(t, x), rtol=1e-5)  # the classifier still scored


def test_shape_errors_name_both_shapes() -> None:
    loss = ssd_classification_loss(ANCHORS)
    with pytest.raises(ShapeMismatchError, match=f"expected {N} anchors from the anchors array, received 36"):
        loss(np.zeros((2, 36, C)), np.zeros((2, 36, C)))
    with pytest.raises(ShapeMismatchError, match=r"\(2, 37, 5\).*\(2, 37, 2\)"):
        loss(np.zeros((2, N, 2)), np.zeros((2, N, 5)))
    with pytest.raises(ShapeMismatchError, match="regression=True"):
        loss(np.zeros((2, N, R + 1)), np.zeros((2, N, R)))
    with pytest.raises(ShapeMismatchError, match=r"ssd_dataset\(\.\.\., regression=True\)"):
        ssd_classification_loss(ANCHORS, regression=True)(np.zeros((2, N, 0)), np.zeros((2, N, R)))
    with pytest.raises(ShapeMismatchError, match="batch, anchors, values"):
        loss(np.zeros((2, N)), np.zeros((2, N)))


@pytest.mark.parametrize("kwargs", [{"kind": "softmax"}, {"alpha": 1.5}, {"gamma": -1.0}, {"reduction": "sum"}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        SSDClassificationLoss(N, **kwargs)


def test_anchors_must_be_n_by_4() -> None:
    with pytest.raises(InvalidArgumentError, match=r"received shape \(37, 3\)"):
        ssd_classification_loss(np.zeros((N, 3)))


def test_serialization_round_trip() -> None:
    loss = ssd_classification_loss(ANCHORS, kind="bce", alpha=0.4, gamma=1.5, regression=True)
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"] == "tflite2keras>SSDClassificationLoss"
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, SSDClassificationLoss)
    assert again.get_config() == loss.get_config()


def _run(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


_DATA = """
    import numpy as np
    from tests.heads.test_loss import ANCHORS, reference, targets, logits
    from tflite2keras.heads.loss import ssd_classification_loss
    t, x = targets(1), logits(2)
"""


def test_jax_backend() -> None:
    out = _run(_DATA + """
    import jax, keras
    assert keras.backend.backend() == "jax"
    loss = ssd_classification_loss(ANCHORS)
    np.testing.assert_allclose(float(loss(t, x)), reference(t, x), rtol=1e-5)
    grad = jax.grad(lambda z: loss(t, z))(jax.numpy.asarray(np.clip(x * 30, -100, 100)))
    assert np.all(np.isfinite(np.asarray(grad)))
    assert float(loss(np.zeros((5, 37, 0)), x)) == 0.0
    print("ok")
    """, KERAS_BACKEND="jax")
    assert out.strip().endswith("ok")


def test_mirrored_strategy_normalizes_over_the_global_batch() -> None:
    """Two CPU replicas with unequal positives: the replicas' losses (each divided by the replica
    count, as Keras's reduction does) sum to the whole batch's loss, positives counted over both."""
    out = _run(_DATA + """
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    t, x = t[:4], x[:4]
    loss = ssd_classification_loss(ANCHORS)
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((t, x)).batch(4))
    per_replica = strategy.run(lambda a, b: loss(a, b), args=next(iter(ds)))
    value = float(strategy.reduce("SUM", per_replica, axis=None))
    halves = [float(np.sum(t[i:i + 2].max(-1) > 0.5)) for i in (0, 2)]
    assert halves[0] != halves[1], halves  # the case where per-replica normalization would differ
    np.testing.assert_allclose(value, reference(t, x), rtol=1e-5)
    with strategy.scope():
        inp = keras.Input((4,))
        model = keras.Model(inp, keras.layers.Reshape((37, 3))(keras.layers.Dense(37 * 3)(inp)))
        model.compile(optimizer="sgd", loss=loss)
    hist = model.fit(np.ones((4, 4), np.float32), t, batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(hist.history["loss"]))
    print("ok")
    """)
    assert out.strip().endswith("ok")
