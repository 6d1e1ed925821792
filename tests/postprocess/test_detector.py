"""postprocess.ssd_detector end to end: the astronaut's face, safe-mode reload, TFLite export, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras import heads, postprocess
from tflite2keras.errors import InvalidArgumentError, ShapeMismatchError
from tflite2keras.verification.reference import make_interpreter, run

PRESET = "face_detection_short_range"


@pytest.fixture(scope="module")
def face(corpus_model):
    path = corpus_model(PRESET)
    return path, t2k.convert(path)


@pytest.fixture(scope="module")
def detector(face):
    return postprocess.ssd_detector(face[1], preset=PRESET)


@pytest.fixture(scope="module")
def astronaut(corpus_image):
    return corpus_image("astronaut")


def _numpy_top_face(raw_boxes: np.ndarray, raw_scores: np.ndarray) -> tuple[np.ndarray, float]:
    """MediaPipe's decode of the best anchor, written out in numpy: (ymin, xmin, ymax, xmax), score.

    Anchors: face_detection_short_range's SsdAnchorsCalculator options (strides 8, 16, 16, 16;
    fixed anchor size; interpolated aspect ratio 1.0): 16x16 cells x 2 anchors, then 8x8 x 6.
    """
    centers = []
    for cells, per_cell in ((16, 2), (8, 6)):
        for y in range(cells):
            for x in range(cells):
                centers += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    centers = np.array(centers, np.float32)
    scores = 1 / (1 + np.exp(-np.clip(raw_scores[0, :, 0].astype(np.float64), -100, 100)))
    best = int(np.argmax(scores))
    xc, yc, w, h = raw_boxes[0, best, :4] / 128.0
    xc, yc = xc + centers[best, 0], yc + centers[best, 1]
    return np.array([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2]), float(scores[best])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return float(inter / (area(a) + area(b) - inter))


def test_finds_the_astronauts_face_as_the_interpreter_does(face, detector, astronaut):
    out = {k: np.asarray(v) for k, v in detector(astronaut[None]).items()}
    found = out["scores"][0] > 0.5
    assert found.sum() == 1, out["scores"][0]
    box, score = out["boxes"][0][found][0], float(out["scores"][0][found][0])
    # The interpreter's raw outputs on the same pre-processed input, decoded independently.
    from tflite2keras.layers import ImagePreprocess

    pixels, transform = ImagePreprocess((128, 128), mode="letterbox", scale="[-1,1]")(astronaut[None])
    np.testing.assert_array_equal(np.asarray(transform), [[0, 0, 1, 1]])  # square: no border
    raw = run(make_interpreter(t2k.read(face[0])), [np.asarray(pixels)])[0]
    ref_box, ref_score = _numpy_top_face(*raw)
    assert _iou(box, ref_box) >= 0.9
    assert abs(score - ref_score) <= 0.01
    assert 0.2 < box[1] < box[3] < 0.7 and 0.0 < box[0] < box[2] < 0.5  # her face, upper middle
    points = out["keypoints"][0][found][0]
    inner = points[:4]  # MediaPipe's order: eyes, nose tip, mouth centre, then the two ear tragions
    assert np.all((inner[:, 0] > box[1]) & (inner[:, 0] < box[3]) & (inner[:, 1] > box[0]) & (inner[:, 1] < box[2]))


def test_no_face_gives_zero_scores(detector):
    out = detector(np.zeros((2, 100, 61, 3), np.uint8))
    assert np.all(np.asarray(out["scores"]) == 0) and np.all(np.asarray(out["boxes"]) == 0)


def test_letterboxed_face_maps_back_to_the_original_image(detector, astronaut):
    wide = np.zeros((512, 640, 3), np.uint8)
    wide[:, 100:612] = astronaut
    out = {k: np.asarray(v) for k, v in detector(wide[None]).items()}
    square = {k: np.asarray(v) for k, v in detector(astronaut[None]).items()}
    box, ref = out["boxes"][0, 0], square["boxes"][0, 0]
    expected = np.array([ref[0], (ref[1] * 512 + 100) / 640, ref[2], (ref[3] * 512 + 100) / 640])
    np.testing.assert_allclose(box, expected, atol=0.02)


def test_detector_reloads_in_safe_mode_and_exports_to_builtins(detector, astronaut, tmp_path):
    detector.save(tmp_path / "d.keras")
    again = t2k.load(tmp_path / "d.keras")
    for key, value in detector(astronaut[None]).items():
        np.testing.assert_array_equal(np.asarray(again(astronaut[None])[key]), np.asarray(value))
    report = t2k.export_tflite(detector, tmp_path / "d.tflite", input_shape=(1, 512, 512, 3))
    assert report.ok, str(report)
    tfl = t2k.read(tmp_path / "d.tflite")
    assert not any(op.is_custom for op in tfl.operators)
    got = run(make_interpreter(tfl), [astronaut[None]])[0]
    import keras

    keras_out = [np.asarray(v) for v in keras.tree.flatten(detector(astronaut[None]))]  # the file's output order
    assert len(got) == len(keras_out) == 4
    for g, k in zip(got, keras_out):
        np.testing.assert_allclose(g, k, atol=1e-4)


def test_seven_class_palm_detector_wraps_and_exports(corpus_model, tmp_path):
    palm = heads.replace_classifier(t2k.zoo.blazepalm("lite"), 7)
    detector = postprocess.ssd_detector(palm, preset="palm_detection", max_detections=5, score_threshold=0.0)
    out = detector(np.full((1, 150, 201, 3), 128, np.uint8))
    assert tuple(out["keypoints"].shape) == (1, 5, 7, 2)
    assert set(np.asarray(out["classes"]).ravel()) <= set(range(7))
    assert t2k.export_tflite(detector, input_shape=(1, 150, 201, 3)).ok


def test_bad_input(face, detector):
    with pytest.raises(InvalidArgumentError, match="uint8"):
        detector(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(InvalidArgumentError, match="unknown preset 'hand'"):
        postprocess.ssd_detector(face[1], preset="hand")
    with pytest.raises(ShapeMismatchError, match="2016 anchors"):
        postprocess.ssd_detector(face[1], preset="palm_detection")
    with pytest.raises(InvalidArgumentError, match="nms"):
        postprocess.ssd_detector(face[1], preset=PRESET, nms="soft")
