"""Fine-tune MediaPipe's palm detector into a 7-gesture detector and ship it as TFLite.

Run: ``python examples/finetune_palm_gestures.py [--steps 6]`` (a few minutes on 2 CPU cores).

1. convert ``palm_detection_full.tflite`` into a Keras model;
2. replace its classifier with 7 classes (regressors and backbone keep their weights);
3. freeze the backbone and train the classification heads a few steps on synthetic data
   (bright squares whose shade is the "gesture"), printing the loss;
4. attach MediaPipe's pre- and post-processing: uint8 images of any size in, detections out;
5. export the detector to TFLite with builtin ops only;
6. run the exported file in the TFLite interpreter and print its detections.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras import heads, postprocess  # noqa: E402
from tflite2keras.testdata import corpus  # noqa: E402
from tflite2keras.verification.reference import make_interpreter, run  # noqa: E402

GESTURES = 7
PRESET = "palm_detection"


def synthetic_set(count: int, seed: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Images in [0, 1] (the palm model's range) with one square each; its shade is the class."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.3, (count, 192, 192, 3)).astype(np.float32)
    boxes, labels = [], []
    for image in images:
        side = int(rng.integers(40, 90))
        top, left = (int(v) for v in rng.integers(0, 192 - side, 2))
        label = int(rng.integers(0, GESTURES))
        image[top:top + side, left:left + side] = 0.4 + 0.6 * label / (GESTURES - 1)
        boxes.append(np.array([[top, left, top + side, left + side]], np.float32) / 192)
        labels.append(np.array([label]))
    return images, boxes, labels


def main() -> None:
    import keras

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6, help="training epochs of 4 batches")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    base = t2k.convert(corpus.fetch("palm_detection_full"))
    model = heads.replace_classifier(base, num_classes=GESTURES)
    print(heads.freeze_backbone(model))

    anchors = postprocess.anchors(PRESET)
    images, boxes, labels = synthetic_set(32, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=heads.ssd_classification_loss(anchors))
    history = model.fit(heads.ssd_dataset(images, boxes, labels, anchors, batch_size=8), epochs=args.steps, verbose=0)
    print("classifier loss per epoch:", " ".join(f"{v:.3f}" for v in history.history["loss"]))

    detector = postprocess.ssd_detector(model, preset=PRESET, max_detections=5, score_threshold=0.3)
    frame = (np.clip(synthetic_set(1, seed=1)[0][0], 0, 1) * 255).astype(np.uint8)
    frame = np.pad(frame, ((24, 24), (0, 0), (0, 0)))  # a 240x192 frame: letterboxed by the detector
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gestures.tflite")
        report = t2k.export_tflite(detector, path, input_shape=(1, *frame.shape))
        print(report)
        tfl = t2k.read(path)
        boxes_out, classes, keypoints, scores = run(make_interpreter(tfl), [frame[None]])[0]
    print("TFLite detections (score, gesture, box ymin xmin ymax xmax):")
    for score, label, box in zip(scores[0], classes[0], boxes_out[0]):
        if score > 0:
            print(f"  {score:.2f}  gesture {int(label)}  {np.round(box, 3).tolist()}")


if __name__ == "__main__":
    main()
