"""Benchmark convert() over the corpus: convert time, and Keras latency over the interpreter's.

Run: ``python benchmarks/convert.py [--models palm_detection_full ...] [--repeats 30]``.

For each model: the time ``convert()`` takes; Keras latency (under ``tf.function``, batch 1)
over the interpreter's (default XNNPACK kernels), as a ratio of interleaved medians; and the
same at batch 16 as a throughput ratio (the interpreter runs 16 single-image calls, as it
would on a phone). Each batch size has its own interleaved loop, after ten untimed calls per
side (oneDNN builds its kernels over the first few calls, which would otherwise skew the
medians). Absolute times on a shared machine are noise; the ratios are the result.

Threads: by default each side uses its own default (TensorFlow: all cores; the interpreter:
one thread). ``--threads N`` gives both sides N threads, for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras import corpus  # noqa: E402
from tflite2keras.reference import make_interpreter, random_inputs, run  # noqa: E402

from _timing import interleaved  # noqa: E402

#: Targets from the project's issue: convert time and palm_detection_full latency ratio.
CONVERT_SECONDS = 3.0
LATENCY_RATIO = 2.0
#: Untimed calls per side before timing starts.
WARMUP = 10


def measure(name: str, repeats: int, threads: int | None = None) -> dict[str, float]:
    """Convert time and the two interleaved ratios for one corpus model."""
    import tensorflow as tf

    path = corpus.fetch(name)
    tfl = t2k.read(path)
    if any(op.is_custom for op in tfl.operators if op.opcode != "Convolution2DTransposeBias"):
        return {}
    start = time.perf_counter()
    model = t2k.convert(tfl)
    seconds = time.perf_counter() - start
    sample = random_inputs(tfl, 1)[0]
    batch = [np.repeat(x, 16, axis=0) for x in sample]
    call = tf.function(lambda xs: model(xs, training=False))
    one, sixteen = (sample if len(sample) > 1 else sample[0]), (batch if len(batch) > 1 else batch[0])
    call(one), call(sixteen)  # trace both shapes
    interpreter = make_interpreter(tfl, threads=threads)
    # Batch 1 and batch 16 in separate interleaved loops, so one batch size's work does not
    # sit between the two sides of the other's comparison.
    med = interleaved({"keras1": lambda: call(one), "tfl1": lambda: run(interpreter, sample)},
                      repeats, WARMUP)
    med.update(interleaved({"keras16": lambda: call(sixteen),
                            "tfl16": lambda: [run(interpreter, sample) for _ in range(16)]}, repeats, WARMUP))
    return {"convert_s": seconds, "latency_ratio": med["keras1"] / med["tfl1"],
            "batch16_ratio": med["keras16"] / med["tfl16"], "keras_ms": med["keras1"] * 1e3,
            "tfl_ms": med["tfl1"] * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="*", default=list(corpus.MODELS))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both TensorFlow (intra-op) and the interpreter (default: each its own)")
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    print(f"threads: {args.threads or 'defaults (TensorFlow: all cores; interpreter: 1)'}")
    print(f"{'model':34} {'convert s':>9} {'keras/tfl b1':>12} {'(ms)':>13} {'keras/tfl b16':>13}")
    for name in args.models:
        row = measure(name, args.repeats, args.threads)
        if not row:
            print(f"{name:34} {'(custom ops the interpreter cannot run)':>36}")
            continue
        ms = f"{row['keras_ms']:.1f}/{row['tfl_ms']:.1f}"
        print(f"{name:34} {row['convert_s']:9.2f} {row['latency_ratio']:12.2f} {ms:>13} {row['batch16_ratio']:13.2f}")
    print(f"targets: convert <= {CONVERT_SECONDS} s per model; palm_detection_full keras/tfl b1 <= {LATENCY_RATIO}")


if __name__ == "__main__":
    main()
