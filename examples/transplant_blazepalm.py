"""The whole story on a real model: fetch MediaPipe's palm detector, transplant, lint, verify.

Run: ``python examples/transplant_blazepalm.py [lite|full]``.

1. fetch ``palm_detection_<variant>.tflite`` from the mediapipe wheel (cached);
2. build the hand-written Keras BlazePalm and copy the weights in;
3. lint the architecture against the file, then verify against the interpreter;
4. show what the classic bug (a 5x5 first max-pool) looks like to lint and verify;
5. widen the classifier to 7 classes and transplant everything else.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402


def main(variant: str = "lite") -> int:
    path = corpus.fetch(f"palm_detection_{variant}")
    print(t2k.read(path).summary(), "\n")

    model = t2k.zoo.blazepalm(variant)
    report = t2k.transplant(model, path)
    print(report, "\n")
    print(t2k.lint(model, path), "\n")
    verified = t2k.verify(model, path)
    print(verified, "\n")

    config = model.get_config()
    pool = next(layer for layer in config["layers"] if layer["class_name"] == "MaxPooling2D")
    pool["config"]["pool_size"] = (5, 5)
    broken = keras.Model.from_config(config)
    t2k.transplant(broken, path)
    print("With a 5x5 first max-pool:")
    print(t2k.lint(broken, path))
    print(t2k.verify(broken, path, samples=1, per_layer=True)._summary(), "\n")

    seven = t2k.zoo.blazepalm(variant, num_classes=7)
    heads = [layer.name for layer in seven.layers if "classifier" in layer.name and layer.weights]
    wide = t2k.transplant(seven, path, skip=heads, strict=False)
    print(f"7-class head: {len(wide.assignments)} variables transplanted, new heads left to train: {heads}")
    return 0 if verified.ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
