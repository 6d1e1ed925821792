"""Benchmark: palm detectors with 7 and 19 classes over the same detector with 1 class, in one run.

Run: ``python benchmarks/heads.py [--classes 7 19] [--repeats 30] [--skip-train]``.

Four detectors: ``t2k.convert`` of palm_detection_full with ``heads.replace_classifier``,
and ``t2k.zoo.blazepalm("lite", num_classes=...)``; each at 1, 7 and 19 classes (19 is
the HaGRID gesture set). Widening a classifier only widens its 1x1 convolutions
(``anchors * classes`` channels), so every ratio should stay close to 1.0. Measured as
interleaved medians: batch-1 inference under ``tf.function``; batch-1 inference of the
``export_tflite(..., weights="float16")`` file in the interpreter (XNNPACK, one thread);
and, unless ``--skip-train``, one SGD training step at batch 8 of the classifier-only
model. Each ratio is the median of per-round ratios (the two runs of a round are back to
back, so load on a shared machine cancels). Absolute times are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import interleaved_runs, paired_ratio  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras import heads  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402
from tflite2keras.verification.reference import make_interpreter  # noqa: E402


def keras_jobs(model: Any, x1: np.ndarray, x8: np.ndarray) -> tuple[Callable[[], object], Callable[[], object]]:
    """A batch-1 inference call and a batch-8 SGD training step, both traced once."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.SGD(1e-6)
    infer = tf.function(lambda x: model(x, training=False))

    @tf.function
    def train(x: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = sum(tf.reduce_mean(tf.square(y)) for y in model(x, training=True))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    infer(x1), train(x8)
    return (lambda: infer(x1)), (lambda: train(x8))


def tflite_job(model: Any, x1: np.ndarray) -> Callable[[], object]:
    """Batch-1 inference of the float16 export in the interpreter."""
    interpreter = make_interpreter(t2k.read(t2k.export_tflite(model, weights="float16", verify=False).data),
                                   threads=1)
    index = interpreter.get_input_details()[0]["index"]

    def run() -> object:
        interpreter.set_tensor(index, x1)
        interpreter.invoke()
        return None

    return run


def detector(kind: str, classes: int, base: Any) -> Any:
    """A classifier-only-trainable palm detector with ``classes`` scores per anchor."""
    if kind == "zoo lite":
        model = t2k.zoo.blazepalm("lite", num_classes=classes)
    else:
        model = heads.replace_classifier(base, classes) if classes > 1 else base
    heads.freeze_backbone(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classes", type=int, nargs="+", default=[7, 19])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x8 = rng.random((8, 192, 192, 3), dtype=np.float32)
    base = t2k.convert(corpus.fetch("palm_detection_full"))
    cases: dict[str, Callable[[], object]] = {}
    kinds = ("converted full", "zoo lite")
    for kind in kinds:
        for classes in (1, *args.classes):
            model = detector(kind, classes, base)
            infer, train = keras_jobs(model, x8[:1], x8)
            cases[f"{kind}|keras|{classes}"] = infer
            cases[f"{kind}|tflite|{classes}"] = tflite_job(model, x8[:1])
            if not args.skip_train:
                cases[f"{kind}|train|{classes}"] = train
    runs = interleaved_runs(cases, args.repeats, warmup=10)
    t = {name: statistics.median(values) for name, values in runs.items()}
    print(f"palm detectors: N classes over 1 class, {args.repeats} interleaved rounds; ms are medians, the "
          "ratio is the median of the per-round ratios")
    print(f"{'detector':16} {'measure':30} {'classes':>7} {'ms':>8} {'1-class ms':>10} {'ratio':>6}")
    labels = {"keras": "Keras tf.function, batch 1", "tflite": "TFLite fp16 export, batch 1",
              "train": "training step, batch 8"}
    for kind in kinds:
        for key, label in labels.items():
            if f"{kind}|{key}|1" not in t:
                continue
            for classes in args.classes:
                ours, one = f"{kind}|{key}|{classes}", f"{kind}|{key}|1"
                ratio = paired_ratio(runs[ours], runs[one])
                print(f"{kind:16} {label:30} {classes:7d} {t[ours] * 1e3:8.2f} {t[one] * 1e3:10.2f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
