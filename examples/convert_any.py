"""Convert every model of the corpus to Keras and print a verify table.

Run: ``python examples/convert_any.py [--per-layer]``.

The interpreter cannot run MediaPipe's face-attention custom ops, so that model's Keras
conversion is verified against the file with those ops rewritten to builtin subgraphs
(``rewrite_custom_ops``), which the stock interpreter runs; its per-layer check (which pairs
layers with the rewritten file's tensors) covers the part before the first custom op, cut out
with ``truncate``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras import _render  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402
from tflite2keras.writer.truncation import inputs_before  # noqa: E402


def verify_any(model: object, tfl: t2k.TFLiteModel, per_layer: bool) -> tuple[t2k.VerifyReport, str]:
    """Verify the whole model; against the rewritten file where the interpreter lacks custom ops."""
    custom = [op for op in tfl.operators if op.opcode in ("Landmarks2TransformMatrix", "TransformTensorBilinear",
                                                          "TransformLandmarks")]
    if not custom:
        return t2k.verify(model, tfl, per_layer=per_layer), "whole model"
    if per_layer:
        prefix = t2k.truncate(tfl, inputs_before(tfl, custom))
        return t2k.verify(t2k.convert(prefix), prefix, per_layer=True), f"ops 0..{min(op.index for op in custom) - 1}"
    return t2k.verify(model, t2k.rewrite_custom_ops(tfl).data), "whole model (rewritten file)"


def main(per_layer: bool = False) -> int:
    rows = []
    for name in corpus.MODELS:
        tfl = t2k.read(corpus.fetch(name))
        start = time.perf_counter()
        model = t2k.convert(tfl)
        seconds = time.perf_counter() - start
        report, part = verify_any(model, tfl, per_layer)
        x = np.random.default_rng(0).uniform(-1, 1, (2, *model.inputs[0].shape[1:])).astype(np.float32)
        finite = all(np.isfinite(np.asarray(y)).all() for y in keras.tree.flatten(model(x)))
        worst = max(c.max_error / c.bound for c in report.outputs + report.layers)
        rows.append((name, f"{seconds:.2f}", len(model.layers), part, "OK" if report.ok else "FAILED",
                     f"{worst:.2f}", len(report.layers) or "-", "yes" if finite else "NO"))
    headers = ("model", "convert s", "layers", "verified", "verify", "worst err/bound", "layers checked", "finite")
    print(_render.text_table(headers, rows))
    return 0 if all(r[4] == "OK" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main("--per-layer" in sys.argv[1:]))
