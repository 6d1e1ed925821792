"""Benchmark: interpreter latency of the selfie models before and after rewrite_custom_ops, in one run.

Run: ``python benchmarks/rewrite.py [--repeats 50]``. XNNPACK, 1 thread; the cases are
interleaved so machine drift hits all alike. Prints before/after ratios of the medians
(> 1 means the rewritten model is faster); absolute times on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _timing import interleaved  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402
from tflite2keras.verification import reference  # noqa: E402
from tflite2keras.writer.rewrite import rewrite_custom_ops  # noqa: E402

MODELS = ("selfie_segmentation", "selfie_segmentation_landscape")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    cases = {}
    for name in MODELS:
        original = t2k.read(corpus.fetch(name))
        sample = reference.random_inputs(original, 1)[0]
        variants = {"before": original}
        for mode in ("fused", "add"):
            variants[mode] = t2k.read(rewrite_custom_ops(original, transpose_conv_bias=mode).data)
        for label, tfl in variants.items():
            interpreter = reference.make_interpreter(tfl, threads=1)
            for detail, value in zip(interpreter.get_input_details(), sample):
                interpreter.set_tensor(detail["index"], value)
            cases[f"{name} {label}"] = interpreter.invoke
    t = interleaved(cases, args.repeats, warmup=3)
    for name in MODELS:
        before = t[f"{name} before"]
        for mode in ("fused", "add"):
            after = t[f"{name} {mode}"]
            print(f"{name:31s} {mode:5s}  before {before * 1e3:7.3f} ms  after {after * 1e3:7.3f} ms  "
                  f"before/after {before / after:.2f}x")


if __name__ == "__main__":
    main()
