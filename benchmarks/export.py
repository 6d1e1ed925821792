"""Benchmark: the float16 export of four MediaPipe models against the originals, in one run.

Run: ``python benchmarks/export.py [--repeats 50]``. For each model, ``export_tflite(convert(f),
weights="float16")`` is timed against the original file in TFLite's interpreter (XNNPACK,
1 thread), the cases interleaved so machine drift hits all alike. Prints the latency ratio
exported/original of the medians (< 1 means the export is faster), the file size ratio, and
the op histograms' difference, raw and unfused (:func:`tflite2keras.writer.export.op_histogram`).
selfie_segmentation's original has MediaPipe's custom ``Convolution2DTransposeBias``; its
histogram is compared as rewritten to the builtin ``TRANSPOSE_CONV`` (``rewrite_custom_ops``).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _timing import interleaved  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402
from tflite2keras.verification import reference  # noqa: E402
from tflite2keras.writer.export import op_histogram  # noqa: E402

MODELS = ("palm_detection_full", "face_detection_short_range", "hand_landmark_full", "selfie_segmentation")


def _difference(original: dict[str, int], exported: dict[str, int]) -> str:
    changed = {op: (original.get(op, 0), exported.get(op, 0)) for op in sorted({*original, *exported})
               if original.get(op, 0) != exported.get(op, 0)}
    return ", ".join(f"{op} {a}->{b}" for op, (a, b) in changed.items()) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    cases, rows = {}, []
    for name in MODELS:
        path = corpus.fetch(name)
        original = t2k.read(path)
        exported = t2k.read(t2k.export_tflite(t2k.convert(path), weights="float16", verify=False).data)
        builtin = t2k.read(t2k.rewrite_custom_ops(original).data)
        raw = _difference(op_histogram(builtin), op_histogram(exported))
        unfused = _difference(op_histogram(builtin, unfused=True), op_histogram(exported, unfused=True))
        rows.append((name, len(exported.data) / len(original.data), raw, unfused))
        sample = reference.random_inputs(original, 1)[0]
        for label, tfl in (("original", original), ("exported", exported)):
            interpreter = reference.make_interpreter(tfl, threads=1)
            for detail, value in zip(interpreter.get_input_details(), sample):
                interpreter.set_tensor(detail["index"], value)
            cases[f"{name} {label}"] = interpreter.invoke
    t = interleaved(cases, args.repeats, warmup=3)
    for name, size, raw, unfused in rows:
        before, after = t[f"{name} original"], t[f"{name} exported"]
        print(f"{name:27s} original {before * 1e3:7.3f} ms  exported {after * 1e3:7.3f} ms  "
              f"latency {after / before:.3f}x  size {size:.3f}x")
        print(f"{'':27s} ops changed: {raw}; unfused: {unfused}")


if __name__ == "__main__":
    main()
