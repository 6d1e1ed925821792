"""draw(): boxes, labels and keypoints land where the normalized coordinates say."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import tflite2keras as t2k
from tflite2keras.postprocess.drawing import draw

H, W = 100, 200


def _detections(scores: list[float] | None = None) -> dict[str, np.ndarray]:
    boxes = np.array([[[0.2, 0.1, 0.8, 0.6], [0.5, 0.7, 0.9, 0.95], [0.0, 0.0, 0.0, 0.0]]], np.float32)
    keypoints = np.zeros((1, 3, 2, 2), np.float32)
    keypoints[0, 0] = [[0.35, 0.5], [0.45, 0.5]]  # (x, y): pixels (row 50, col 70) and (50, 90)
    return {"boxes": boxes, "scores": np.array([scores or [0.9, 0.3, 0.0]], np.float32),
            "classes": np.array([[1, 2, 0]]), "keypoints": keypoints}


def test_box_edges_and_keypoints_change_colour_far_pixels_do_not() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    out = draw(image, _detections())
    assert isinstance(out, Image.Image) and out.size == (W, H) and out.mode == "RGB"
    pixels = np.asarray(out)
    # Box 0 spans rows 20..80 and columns 20..120.
    for row, col in [(50, 20), (50, 120), (80, 70), (20, 100)]:
        assert pixels[row, col].any(), (row, col)
    assert pixels[50, 70].any() and pixels[50, 90].any()  # the keypoints
    assert not pixels[50, 60].any() and not pixels[5, 190].any() and not pixels[95, 5].any()
    assert not image.any()  # the input is untouched
    # Box 1 (score 0.3) is drawn at the default threshold; its left edge is column 140.
    assert pixels[70, 140].any()


def test_threshold_and_padding_are_skipped() -> None:
    image = np.full((H, W, 3), 30, np.uint8)
    pixels = np.asarray(draw(image, _detections(), score_threshold=0.5))
    assert pixels[50, 20].any() and (pixels[70, 140] == 30).all()  # 0.3 <= 0.5: not drawn
    assert (pixels[0, 0] == 30).all()  # the zero-score padding box at (0, 0) is not drawn


def test_no_detections_returns_an_equal_copy() -> None:
    image = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    empty = {"boxes": np.zeros((1, 0, 4), np.float32), "scores": np.zeros((1, 0), np.float32)}
    np.testing.assert_array_equal(np.asarray(draw(image, empty)), image)
    padding = {"boxes": np.zeros((1, 5, 4)), "scores": np.zeros((1, 5))}
    np.testing.assert_array_equal(np.asarray(draw(Image.fromarray(image), padding)), image)


def test_pil_input_tensors_batches_and_labels() -> None:
    import tensorflow as tf

    source = Image.new("RGB", (W, H))
    detections = {key: tf.constant(np.concatenate([value, value])) for key, value in _detections().items()}
    detections["scores"] = tf.constant([[0.0, 0.0, 0.0], [0.9, 0.0, 0.0]])
    assert not np.asarray(draw(source, detections, index=0)).any()
    out = np.asarray(draw(source, detections, index=1, labels=["bg", "person"]))
    assert out[50, 20].any() and not np.asarray(source).any()
    batch = np.zeros((2, H, W, 3), np.uint8)
    assert np.asarray(draw(batch, detections, index=1))[50, 20].any()


def test_bad_inputs() -> None:
    error = t2k.errors.InvalidArgumentError
    with pytest.raises(error, match="'boxes' and 'scores'. Received: keys=\\['boxes'\\]"):
        draw(np.zeros((4, 4, 3), np.uint8), {"boxes": np.zeros((1, 1, 4))})
    with pytest.raises(error, match="uint8 image. Received: dtype=float32"):
        draw(np.zeros((4, 4, 3), np.float32), _detections())
    with pytest.raises(error, match="index 3 is out of range"):
        draw(np.zeros((4, 4, 3), np.uint8), _detections(), index=3)
    with pytest.raises(error, match=r"boxes \(K, 4\)"):
        draw(np.zeros((4, 4, 3), np.uint8), {"boxes": np.zeros((1, 2, 5)), "scores": np.zeros((1, 2))})
