"""SSDDecode and NonMaxSuppression against plain-loop references written from MediaPipe's C++."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras import postprocess
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.layers import NonMaxSuppression, SSDDecode

f32 = np.float32
SCALES = (17.0, 13.0, 11.0, 7.0)  # x, y, w, h: distinct, so a swapped axis shows
LAYOUT = dict(num_keypoints=3, box_coord_offset=1, keypoint_coord_offset=6, num_values_per_keypoint=3)


# --- references: one detection at a time, as TensorsToDetectionsCalculator / NonMaxSuppressionCalculator.

def decode_reference(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray, scales: tuple[float, ...],
                     num_keypoints: int = 0, box_coord_offset: int = 0, keypoint_coord_offset: int = 4,
                     num_values_per_keypoint: int = 2, reverse_output_order: bool = True,
                     apply_exponential_on_box_size: bool = False, sigmoid_score: bool = True,
                     score_clipping_thresh: float | None = None) -> list[np.ndarray]:
    xs, ys, ws, hs = (f32(s) for s in scales)
    batch, count = raw.shape[:2]
    boxes, points = np.zeros((batch, count, 4), f32), np.zeros((batch, count, num_keypoints, 2), f32)
    scores = logits.astype(f32).copy()
    for b in range(batch):
        for i in range(count):
            ax, ay, aw, ah = anchors[i]
            v = raw[b, i, box_coord_offset:box_coord_offset + 4]
            x, y, w, h = v if reverse_output_order else (v[1], v[0], v[3], v[2])
            x, y = x / xs * aw + ax, y / ys * ah + ay
            if apply_exponential_on_box_size:
                w, h = np.exp(w / ws) * aw, np.exp(h / hs) * ah
            else:
                w, h = w / ws * aw, h / hs * ah
            boxes[b, i] = [y - h / f32(2), x - w / f32(2), y + h / f32(2), x + w / f32(2)]
            for k in range(num_keypoints):
                first, second = raw[b, i, keypoint_coord_offset + k * num_values_per_keypoint:][:2]
                kx, ky = (first, second) if reverse_output_order else (second, first)
                points[b, i, k] = [kx / xs * aw + ax, ky / ys * ah + ay]
            for c in range(scores.shape[2]):
                if sigmoid_score:
                    s = scores[b, i, c]
                    if score_clipping_thresh is not None:
                        s = min(max(s, f32(-score_clipping_thresh)), f32(score_clipping_thresh))
                    with np.errstate(over="ignore"):  # exp(150) is inf: the score is 0
                        scores[b, i, c] = f32(1) / (f32(1) + np.exp(-s))
    return [boxes, scores, points]


def _overlap(a: dict, b: dict) -> np.float32:
    """OverlapSimilarity(INTERSECTION_OVER_UNION) on Rectangle_f(xmin, ymin, width, height)."""
    ax1, ay1 = a["xmin"] + a["width"], a["ymin"] + a["height"]
    bx1, by1 = b["xmin"] + b["width"], b["ymin"] + b["height"]
    if ax1 < b["xmin"] or bx1 < a["xmin"] or ay1 < b["ymin"] or by1 < a["ymin"]:
        return f32(0)
    inter = (min(ax1, bx1) - max(a["xmin"], b["xmin"])) * (min(ay1, by1) - max(a["ymin"], b["ymin"]))
    norm = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / norm if norm > 0 else f32(0)


def nms_reference(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, points: np.ndarray, mode: str,
                  threshold: float, size: int, min_score: float | None) -> list[np.ndarray]:
    """One batch entry. Ties in score keep index order (std::sort there is unstable)."""
    detections = []
    for i, (ymin, xmin, ymax, xmax) in enumerate(boxes):
        d = dict(xmin=xmin, ymin=ymin, width=xmax - xmin, height=ymax - ymin, score=scores[i], label=classes[i],
                 points=points[i])
        if (min_score is None or d["score"] >= min_score) and d["width"] >= 0 and d["height"] >= 0:
            detections.append(d)
    remaining = sorted(detections, key=lambda d: -d["score"])
    kept: list[dict] = []
    if mode == "hard":
        for d in remaining:
            if all(_overlap(r, d) <= threshold for r in kept):
                kept.append(d)
    while mode == "weighted" and remaining:
        best = remaining[0]
        cluster = [d for d in remaining if _overlap(d, best) > threshold]
        rest = [d for d in remaining if not _overlap(d, best) > threshold]
        out = dict(best)
        if cluster:
            total, sums, pts = f32(0), np.zeros(4, f32), np.zeros_like(best["points"])
            for d in cluster:
                total += d["score"]
                sums += f32([d["ymin"], d["xmin"], d["ymin"] + d["height"], d["xmin"] + d["width"]]) * d["score"]
                pts += d["points"] * d["score"]
            ymin, xmin, ymax, xmax = sums / total
            out.update(xmin=xmin, ymin=ymin, width=xmax - xmin, height=ymax - ymin, points=pts / total)
        kept.append(out)
        if len(rest) == len(remaining):
            break
        remaining = rest
    kept = kept[:size]
    result = [np.zeros((size, 4), f32), np.zeros(size, f32), np.zeros(size, classes.dtype),
              np.zeros((size, *points.shape[1:]), f32)]
    for j, d in enumerate(kept):
        result[0][j] = [d["ymin"], d["xmin"], d["ymin"] + d["height"], d["xmin"] + d["width"]]
        result[1][j], result[2][j], result[3][j] = d["score"], d["label"], d["points"]
    return result


def _batched_nms_reference(inputs: list[np.ndarray], *args: Any) -> list[np.ndarray]:
    per_entry = [nms_reference(*(x[b] for x in inputs), *args) for b in range(inputs[0].shape[0])]
    return [np.stack(parts) for parts in zip(*per_entry)]


# --- helpers

def _assert_builtin_only(data: bytes) -> None:
    for op in t2k.read(data).operators:
        assert not op.is_custom and not str(op.opcode).upper().startswith(("FLEX", "DELEGATE")), op.opcode


def _run_tflite(data: bytes, model: keras.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    runner = Interpreter(model_content=data).get_signature_runner()
    out = runner(**{layer.name: x for layer, x in zip(model.inputs, inputs)})
    return [out[f"output_{i}"] for i in range(len(out))]


def _convert(model: keras.Model) -> bytes:
    import tensorflow as tf

    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _decode_inputs(rng: np.random.Generator, batch: int, count: int, coords: int, classes: int) -> list[np.ndarray]:
    raw = rng.normal(0, 20, (batch, count, coords)).astype(f32)
    return [raw, rng.normal(0, 150, (batch, count, classes)).astype(f32)]


def _random_anchors(rng: np.random.Generator, count: int) -> np.ndarray:
    return np.concatenate([rng.uniform(0.1, 0.9, (count, 2)), rng.uniform(0.05, 0.5, (count, 2))], 1).astype(f32)


def _clustered(rng: np.random.Generator, count: int, num_points: int) -> list[np.ndarray]:
    """Boxes jittered around a few centers, a few invalid ones; scores on a 0.05 grid (ties)."""
    centers = rng.uniform(0.2, 0.8, (6, 2))[rng.integers(0, 6, count)] + rng.normal(0, 0.06, (count, 2))
    size = rng.uniform(0.1, 0.3, (count, 2))
    boxes = np.concatenate([centers - size / 2, centers + size / 2], 1)
    boxes[rng.choice(count, 3, replace=False), 2] -= 0.5  # negative height: never a candidate
    scores = np.round(rng.uniform(0.3, 1.0, count) * 20) / 20
    points = rng.uniform(0, 1, (count, num_points, 2))
    return [boxes.astype(f32), scores.astype(f32), rng.integers(0, 4, count).astype("int32"), points.astype(f32)]


def _nms_inputs(seed: int, count: int = 37, num_points: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    entries = [_clustered(rng, count, num_points) for _ in range(3)]
    entries[2][1] *= 0.45  # batch entry 2: everything below score_threshold 0.5
    return [np.stack(parts) for parts in zip(*entries)]


# --- SSDDecode

@pytest.mark.parametrize("reverse", [True, False], ids=["xywh", "yxhw"])
@pytest.mark.parametrize("exp,sigmoid,clip", [(False, True, 3.0), (True, True, None), (False, False, 2.0)],
                         ids=["clip", "exp", "raw-scores"])
def test_decode_matches_reference(reverse: bool, exp: bool, sigmoid: bool, clip: float | None) -> None:
    rng = np.random.default_rng(1)
    anchors = _random_anchors(rng, 13)
    options = dict(LAYOUT, reverse_output_order=reverse, apply_exponential_on_box_size=exp, sigmoid_score=sigmoid,
                   score_clipping_thresh=clip)
    inputs = _decode_inputs(rng, 3, 13, 17, 2)
    got = SSDDecode(anchors, *SCALES, **options)(inputs)
    for g, e in zip(got, decode_reference(*inputs, anchors, SCALES, **options)):
        assert g.shape == e.shape
        np.testing.assert_allclose(np.asarray(g), e, rtol=2e-6, atol=1e-6)


def test_decode_without_keypoints() -> None:
    rng = np.random.default_rng(2)
    anchors = _random_anchors(rng, 11)
    inputs = _decode_inputs(rng, 2, 11, 5, 3)
    boxes, scores, points = SSDDecode(anchors, *SCALES)(inputs)
    expected = decode_reference(*inputs, anchors, SCALES)
    assert tuple(points.shape) == (2, 11, 0, 2)
    np.testing.assert_allclose(np.asarray(boxes), expected[0], rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(scores), expected[1], rtol=2e-6, atol=1e-6)


def test_decode_real_palm_outputs(corpus_model: Callable[[str], Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(corpus_model("palm_detection_full")))
    interpreter.allocate_tensors()
    image = np.random.default_rng(3).uniform(0, 1, (1, 192, 192, 3)).astype(f32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    raw, logits = sorted((interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()),
                         key=lambda t: -t.shape[-1])
    layer = postprocess.decoder("palm_detection")
    d = postprocess.PRESETS["palm_detection"].decode
    expected = decode_reference(raw, logits, postprocess.anchors("palm_detection"), (d.x_scale, d.y_scale, d.w_scale,
                                d.h_scale), num_keypoints=7, score_clipping_thresh=100.0)
    for g, e in zip(layer([raw, logits]), expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=2e-6, atol=1e-6)
    assert layer.num_keypoints == 7 and layer.num_anchors == 2016 and layer.score_clipping_thresh == 100.0


def test_decode_save_reload_and_tflite(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    anchors = _random_anchors(rng, 13)
    raw, logits = keras.Input((13, 17), name="raw"), keras.Input((13, 2), name="logits")
    layer = SSDDecode(anchors, *SCALES, **LAYOUT, score_clipping_thresh=30.0)
    outputs = layer([raw, logits])
    assert [tuple(o.shape) for o in outputs] == [(None, 13, 4), (None, 13, 2), (None, 13, 3, 2)]
    model = keras.Model([raw, logits], outputs)
    assert "anchors" not in str(layer.get_config()).replace("num_anchors", "")
    model.save(tmp_path / "decode.keras")
    loaded = keras.saving.load_model(tmp_path / "decode.keras", safe_mode=True)
    assert loaded.layers[-1].get_config() == layer.get_config()
    np.testing.assert_array_equal(np.asarray(loaded.layers[-1].anchors), anchors)
    assert not loaded.layers[-1].trainable_weights
    for batch in (1, 3):
        inputs = _decode_inputs(rng, batch, 13, 17, 2)
        got = model.predict(inputs, verbose=0)  # graph mode
        for g, r in zip(got, loaded.predict(inputs, verbose=0)):
            np.testing.assert_array_equal(g, r)
        for g, e in zip(got, decode_reference(*inputs, anchors, SCALES, **LAYOUT, score_clipping_thresh=30.0)):
            np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)
    data = _convert(model)
    _assert_builtin_only(data)
    inputs = _decode_inputs(rng, 1, 13, 17, 2)
    for g, e in zip(_run_tflite(data, model, inputs), model.predict(inputs, verbose=0)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_decode_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match=r"\(N, 4\).*shape=\(13, 3\)"):
        SSDDecode(np.zeros((13, 3)), *SCALES)
    with pytest.raises(InvalidArgumentError, match="non-zero"):
        SSDDecode(np.zeros((13, 4)), 1.0, 0.0, 1.0, 1.0)
    layer = SSDDecode(np.zeros((13, 4)), *SCALES, **LAYOUT)
    with pytest.raises(InvalidArgumentError, match=r"\(batch, 13, >=15\).*\(None, 11, 17\)"):
        layer([keras.Input((11, 17)), keras.Input((11, 1))])
    with pytest.raises(InvalidArgumentError, match=r">=15"):
        layer([keras.Input((13, 14)), keras.Input((13, 1))])
    with pytest.raises(InvalidArgumentError, match="list of 2"):
        layer.compute_output_shape((None, 13, 17))


# --- NonMaxSuppression

@pytest.mark.parametrize("mode", ["weighted", "hard"])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.55])
def test_nms_matches_reference(mode: str, threshold: float) -> None:
    for seed in range(3):
        inputs = _nms_inputs(seed)
        got = NonMaxSuppression(mode, threshold, max_detections=7)(inputs)
        expected = _batched_nms_reference(inputs, mode, threshold, 7, 0.5)
        assert [tuple(g.shape) for g in got] == [(3, 7, 4), (3, 7), (3, 7), (3, 7, 3, 2)]
        assert keras.backend.standardize_dtype(got[2].dtype) == "int32"
        np.testing.assert_array_equal(np.asarray(got[1]), expected[1])
        np.testing.assert_array_equal(np.asarray(got[2]), expected[2])
        np.testing.assert_allclose(np.asarray(got[0]), expected[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.asarray(got[3]), expected[3], rtol=1e-6, atol=1e-6)
        assert np.count_nonzero(expected[1][:2]) >= 7 and not expected[1][2].any()


HAND = [  # ymin, xmin, ymax, xmax; score; class; keypoint (x, y)
    ([0.1, 0.1, 0.5, 0.5], 0.9, 2, [0.3, 0.3]),    # A
    ([0.1, 0.2, 0.5, 0.6], 0.8, 1, [0.4, 0.3]),    # B: IoU(A, B) = 0.6
    ([0.6, 0.6, 0.9, 0.9], 0.7, 0, [0.75, 0.75]),  # C: alone
    ([0.1, 0.35, 0.5, 0.75], 0.6, 3, [0.55, 0.3]),  # D: IoU(A, D) = 0.23, IoU(B, D) = 0.45
    ([0.1, 0.1, 0.5, 0.5], 0.4, 3, [0.0, 0.0]),    # below the score threshold
    ([0.2, 0.5, 0.4, 0.3], 0.95, 3, [0.0, 0.0]),   # negative width: dropped
]


def _hand(extra: list | None = None) -> list[np.ndarray]:
    rows = (extra or []) + HAND
    return [f32([[r[0] for r in rows]]), f32([[r[1] for r in rows]]), np.int32([[r[2] for r in rows]]),
            f32([[[r[3]] for r in rows]])]


def test_nms_hand_made() -> None:
    weighted = [np.asarray(x)[0] for x in NonMaxSuppression("weighted", 0.3, 4)(_hand())]
    # A's cluster is {A, B}: weights 0.9 and 0.8. D survives: B went with A's cluster.
    np.testing.assert_allclose(weighted[0], [[0.1, 0.25 / 1.7, 0.5, 0.93 / 1.7], [0.6, 0.6, 0.9, 0.9],
                                             [0.1, 0.35, 0.5, 0.75], [0, 0, 0, 0]], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(weighted[1], [0.9, 0.7, 0.6, 0.0], rtol=1e-7)
    assert weighted[2].tolist() == [2, 0, 3, 0]
    np.testing.assert_allclose(weighted[3][:, 0], [[0.59 / 1.7, 0.3], [0.75, 0.75], [0.55, 0.3], [0, 0]], rtol=1e-6)
    hard = [np.asarray(x)[0] for x in NonMaxSuppression("hard", 0.3, 2)(_hand())]
    np.testing.assert_allclose(hard[0], [[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]], rtol=1e-7)
    assert hard[2].tolist() == [2, 0]
    np.testing.assert_allclose(hard[3][:, 0], [[0.3, 0.3], [0.75, 0.75]])


def test_nms_zero_area_best_stops_weighted_suppression() -> None:
    inputs = _hand([([0.2, 0.2, 0.2, 0.6], 0.97, 1, [0.1, 0.1])])  # zero height, best score, valid
    for mode, scores in [("weighted", [0.97, 0, 0, 0]), ("hard", [0.97, 0.9, 0.7, 0.6])]:
        got = NonMaxSuppression(mode, 0.3, 4)(inputs)
        np.testing.assert_allclose(np.asarray(got[1])[0], scores, rtol=1e-7)
        for g, e in zip(got, _batched_nms_reference(inputs, mode, 0.3, 4, 0.5)):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-7)


def test_nms_nothing_above_threshold_gives_zeros() -> None:
    boxes, scores, classes, points = _hand()
    for mode in ("weighted", "hard"):
        got = NonMaxSuppression(mode, 0.3, 3, score_threshold=0.99)([boxes, scores * 0.5, classes.astype(f32)])
        assert len(got) == 3 and keras.backend.standardize_dtype(got[2].dtype) == "float32"
        for g in got:
            assert not np.asarray(g).any()


def test_nms_graph_mode_save_reload_and_tflite(tmp_path: Path) -> None:
    inputs = _nms_inputs(5, count=23, num_points=2)
    symbols = [keras.Input((23, 4), name="boxes"), keras.Input((23,), name="scores"),
               keras.Input((23,), dtype="int32", name="classes"), keras.Input((23, 2, 2), name="points")]
    layer = NonMaxSuppression("weighted", 0.4, 5)
    outputs = layer(symbols)
    assert [(tuple(o.shape), o.dtype) for o in outputs] == [((None, 5, 4), "float32"), ((None, 5), "float32"),
                                                            ((None, 5), "int32"), ((None, 5, 2, 2), "float32")]
    model = keras.Model(symbols, outputs)
    model.save(tmp_path / "nms.keras")
    loaded = keras.saving.load_model(tmp_path / "nms.keras", safe_mode=True)
    assert loaded.layers[-1].get_config() == layer.get_config()
    got = model.predict(inputs, verbose=0)
    for g, r, e in zip(got, loaded.predict(inputs, verbose=0), _batched_nms_reference(inputs, "weighted", 0.4, 5, 0.5)):
        np.testing.assert_array_equal(g, r)
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)
    data = _convert(model)
    _assert_builtin_only(data)
    one = [x[:1] for x in inputs]
    for g, e in zip(_run_tflite(data, model, one), model.predict(one, verbose=0)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_nms_bad_arguments() -> None:
    for kwargs, fragment in [({"mode": "soft"}, "'weighted' or 'hard'.*'soft'"), ({"iou_threshold": 1.5}, r"\[0, 1\]"),
                             ({"max_detections": 0}, ">= 1.*0"), ({"max_detections": 2.5}, "integer"),
                             ({"score_threshold": float("nan")}, "finite")]:
        with pytest.raises(InvalidArgumentError, match=fragment):
            NonMaxSuppression(**kwargs)
    layer = NonMaxSuppression()
    with pytest.raises(InvalidArgumentError, match="Received"):
        layer([keras.Input((9, 4)), keras.Input((8,)), keras.Input((9,))])
    with pytest.raises(InvalidArgumentError, match="Received"):
        layer([keras.Input((9, 3)), keras.Input((9,)), keras.Input((9,))])
    with pytest.raises(InvalidArgumentError, match="list of 3 or 4"):
        layer([keras.Input((9, 4)), keras.Input((9,))])


def test_preset_layers() -> None:
    nms = postprocess.suppressor("face_detection_full_range", max_detections=3)
    assert (nms.mode, nms.iou_threshold, nms.max_detections) == ("weighted", 0.3, 3)
    assert nms.score_threshold == pytest.approx(0.6)
    assert postprocess.decoder("pose_detection").get_config()["num_anchors"] == 2254
    assert postprocess.SSDDecode is SSDDecode and postprocess.NonMaxSuppression is NonMaxSuppression
