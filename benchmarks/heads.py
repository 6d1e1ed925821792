"""Benchmark: a BlazePalm with 7 classes over the same model with 1 class, in one run.

Run: ``python benchmarks/heads.py [--variant full] [--classes 7] [--repeats 30]``.

Widening the classifier only widens its two 1x1 convolutions (``anchors * classes``
channels), so the cost should stay close to 1.0x. Measured as interleaved medians under
``tf.function``: batch-1 inference, and one training step (forward, loss, gradients and an
SGD update) at batch 8. Absolute times on a shared machine are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import tflite2keras as t2k  # noqa: E402

from _timing import interleaved  # noqa: E402


def jobs(model: Any, x1: np.ndarray, x8: np.ndarray) -> tuple[Callable[[], object], Callable[[], object]]:
    """A batch-1 inference call and a batch-8 SGD training step, both traced once."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.SGD(1e-6)
    infer = tf.function(lambda x: model(x, training=False))

    @tf.function
    def train(x: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = sum(tf.reduce_mean(tf.square(y)) for y in model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    infer(x1), train(x8)
    return (lambda: infer(x1)), (lambda: train(x8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", default="full", choices=("lite", "full"))
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x8 = rng.random((8, 192, 192, 3), dtype=np.float32)
    cases: dict[str, Callable[[], object]] = {}
    for classes in (1, args.classes):
        infer, train = jobs(t2k.zoo.blazepalm(args.variant, num_classes=classes), x8[:1], x8)
        cases[f"infer{classes}"], cases[f"train{classes}"] = infer, train
    t = interleaved(cases, args.repeats, warmup=5)
    n = args.classes
    print(f"blazepalm {args.variant}: {n} classes over 1 class, medians of {args.repeats} interleaved runs")
    print(f"{'measure':34} {f'{n} classes ms':>13} {'1 class ms':>10} {'ratio':>7}")
    for label, key in (("inference, batch 1", "infer"), ("training step, batch 8", "train")):
        ours, base = t[f"{key}{n}"], t[f"{key}1"]
        print(f"{label:34} {ours * 1e3:13.2f} {base * 1e3:10.2f} {ours / base:7.2f}")


if __name__ == "__main__":
    main()
