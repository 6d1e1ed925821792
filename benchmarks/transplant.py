"""Benchmark: read() over a raw file read, and transplant() over a bare set_weights, in one run.

Run: ``python benchmarks/transplant.py [--model palm_detection_full] [--repeats 15]``.
Prints ratios of interleaved medians; absolute times on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _timing import interleaved  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="palm_detection_full")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    path = Path(corpus.fetch(args.model))
    model = t2k.zoo.blazepalm("full" if "full" in args.model else "lite")
    t2k.transplant(model, path)  # warm up: builds, traces and fills every variable once
    arrays = model.get_weights()
    parsed = t2k.read(path)
    t = interleaved({
        "raw file read": path.read_bytes,
        "read()": lambda: t2k.read(path),
        "set_weights": lambda: model.set_weights(arrays),
        "transplant(path)": lambda: t2k.transplant(model, path),
        "transplant(parsed)": lambda: t2k.transplant(model, parsed),
    }, args.repeats)
    rows = [
        ("read() / raw file read", t["read()"], t["raw file read"]),
        ("transplant(path) / set_weights", t["transplant(path)"], t["set_weights"]),
        ("transplant(parsed model) / set_weights", t["transplant(parsed)"], t["set_weights"]),
    ]
    print(f"{args.model}: {len(arrays)} arrays, medians of {args.repeats} interleaved runs")
    print(f"{'measure':42} {'ours ms':>9} {'base ms':>9} {'ratio':>7}")
    for label, ours, base in rows:
        print(f"{label:42} {ours * 1e3:9.2f} {base * 1e3:9.2f} {ours / base:7.2f}")
    print("target: transplant <= 2.0 x set_weights")


if __name__ == "__main__":
    main()
