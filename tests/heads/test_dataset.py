"""heads.ssd_dataset and its numpy encoders: IoU, matching, anchor sizes, regression, tf.data, training."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tflite2keras.errors import InvalidArgumentError
from tflite2keras.heads.dataset import ssd_dataset
from tflite2keras.heads.targets import (
    BACKGROUND,
    IGNORE,
    anchor_boxes,
    box_iou,
    encode_regression,
    encode_targets,
    match_anchors,
)


def mediapipe_anchors(size: int, strides: list[int], fixed: bool = True, interpolated: bool = True,
                      min_scale: float = 0.1484375, max_scale: float = 0.75) -> np.ndarray:
    """An independent port of MediaPipe's SsdAnchorsCalculator (aspect ratio 1, offset 0.5)."""
    n, rows, layer = len(strides), [], 0

    def calc(i: int) -> float:
        return (min_scale + max_scale) / 2 if n == 1 else min_scale + (max_scale - min_scale) * i / (n - 1)

    while layer < n:
        scales, last = [], layer
        while last < n and strides[last] == strides[layer]:
            scales.append(calc(last))
            if interpolated:
                scales.append(np.sqrt(calc(last) * (1.0 if last == n - 1 else calc(last + 1))))
            last += 1
        cells = int(np.ceil(size / strides[layer]))
        for y, x, s in itertools.product(range(cells), range(cells), scales):
            rows.append(((x + 0.5) / cells, (y + 0.5) / cells, 1.0 if fixed else s, 1.0 if fixed else s))
        layer = last
    return np.array(rows, np.float32)


def scalar_iou(a: np.ndarray, b: np.ndarray) -> float:
    h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - h * w
    return h * w / union


def reference_match(gt: np.ndarray, abox: np.ndarray, threshold: float) -> list[int]:
    """Loops: threshold on each anchor's first best box, then each box forces its first best anchor."""
    iou = [[scalar_iou(a, g) for g in gt] for a in abox]
    match = [BACKGROUND] * len(abox)
    for i, row in enumerate(iou):
        if row and max(row) >= threshold:
            match[i] = row.index(max(row))
    owner: dict[int, int] = {}
    for g in range(len(gt)):
        col = [iou[i][g] for i in range(len(abox))]
        best = col.index(max(col))
        if col[best] > 0 and (best not in owner or col[best] > iou[best][owner[best]]):
            owner[best] = g
    for i, g in owner.items():
        match[i] = g
    return match


def random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    center, size = rng.uniform(0.2, 0.8, (count, 2)), rng.uniform(0.05, 0.5, (count, 2))
    return np.concatenate([center - size / 2, center + size / 2], axis=1)


def test_box_iou_known_values_and_brute_force() -> None:
    np.testing.assert_allclose(box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [2, 2, 3, 3], [0, 0, 1, 2]]),
                               [[1 / 7, 1.0, 0.0, 0.5]])
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 3), random_boxes(rng, 5)
    iou = box_iou(a, b)
    assert iou.shape == (3, 5)
    np.testing.assert_allclose(iou, [[scalar_iou(x, y) for y in b] for x in a], rtol=1e-12)
    np.testing.assert_allclose(box_iou(b, a), iou.T)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 5)


def test_box_iou_rejects_bad_boxes() -> None:
    with pytest.raises(InvalidArgumentError, match=r"of shape \(G, 4\).*received shape \(2, 3\)"):
        box_iou(np.ones((2, 3)), np.ones((1, 4)))
    with pytest.raises(InvalidArgumentError, match="ymin < ymax"):
        box_iou([[0.5, 0.1, 0.4, 0.2]], [[0, 0, 1, 1]])


# Anchors (x, y, w, h) and boxes (ymin, xmin, ymax, xmax) on dyadic fractions, so that ties are exact.
ROW = np.array([[0.125, 0.5, 0.25, 0.25], [0.375, 0.5, 0.25, 0.25], [0.375, 0.5, 0.25, 0.25],
                [0.625, 0.5, 0.25, 0.25], [0.875, 0.5, 0.25, 0.25], [0.5, 0.5, 0.75, 0.75],
                [0.5, 0.125, 0.25, 0.25]])


def test_threshold_and_forced_matches() -> None:
    gt = np.array([[0.375, 0.25, 0.625, 0.5],  # exactly anchors 1 and 2: both match (IoU 1)
                   [0.4375, 0.8125, 0.5625, 0.9375]])  # small, best IoU 0.25 with anchor 4: forced
    iou = box_iou(anchor_boxes(ROW), gt)
    assert iou[1, 0] == iou[2, 0] == 1.0 and iou[:, 1].max() == 0.25
    np.testing.assert_array_equal(match_anchors(gt, ROW), [-1, 0, 0, -1, 1, -1, -1])
    np.testing.assert_array_equal(match_anchors(gt, ROW, iou_threshold=0.2), [-1, 0, 0, -1, 1, -1, -1])


def test_ties_go_to_the_lowest_anchor_index() -> None:
    gt = np.array([[0.4375, 0.3125, 0.5625, 0.4375]])  # IoU 0.25 with the twin anchors 1 and 2
    np.testing.assert_array_equal(match_anchors(gt, ROW), [-1, 0, -1, -1, -1, -1, -1])


def test_boxes_sharing_a_best_anchor() -> None:
    gt = np.array([[0.4375, 0.5625, 0.5625, 0.6875], [0.40625, 0.53125, 0.59375, 0.71875]])  # both best on 3
    assert box_iou(anchor_boxes(ROW), gt)[3].tolist() == [0.25, 0.5625]
    np.testing.assert_array_equal(match_anchors(gt, ROW), [-1, -1, -1, 1, -1, -1, -1])  # higher IoU wins
    twins = np.array([[0.4375, 0.5, 0.5625, 0.625], [0.4375, 0.625, 0.5625, 0.75]])  # equal IoU: lowest box
    assert box_iou(anchor_boxes(ROW), twins)[3].tolist() == [0.25, 0.25]
    np.testing.assert_array_equal(match_anchors(twins, ROW), [-1, -1, -1, 0, -1, -1, -1])


def test_forced_match_overrides_a_threshold_match() -> None:
    gt = np.array([[0.125, 0.125, 0.875, 0.875], [0.46875, 0.59375, 0.53125, 0.65625]])
    iou = box_iou(anchor_boxes(ROW), gt)
    assert iou[3, 0] > 0.1 > iou[3, 1] and iou[:, 1].argmax() == 3  # anchor 3: box 0's, but box 1's best
    np.testing.assert_array_equal(match_anchors(gt, ROW, iou_threshold=0.1), [-1, 0, 0, 1, -1, 0, -1])


def test_ignore_band_and_empty_images() -> None:
    gt = np.array([[0.375, 0.375, 0.625, 0.625]])  # IoU 1/3 with anchors 1, 2 and 3, 1/9 with anchor 5
    np.testing.assert_allclose(box_iou(anchor_boxes(ROW), gt)[:, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0, 1 / 9, 0])
    np.testing.assert_array_equal(match_anchors(gt, ROW), [-1, 0, -1, -1, -1, -1, -1])
    np.testing.assert_array_equal(match_anchors(gt, ROW, ignore_threshold=0.3), [-1, 0, -2, -2, -1, -1, -1])
    np.testing.assert_array_equal(match_anchors(gt, ROW, ignore_threshold=0.1), [-1, 0, -2, -2, -1, -2, -1])
    target = encode_targets(gt, [2], ROW, 3, ignore_threshold=0.3)
    np.testing.assert_array_equal(target[:5], [[0, 0, 0], [0, 0, 1], [-1, -1, -1], [-1, -1, -1], [0, 0, 0]])
    np.testing.assert_array_equal(match_anchors(np.zeros((0, 4)), ROW), [BACKGROUND] * 7)
    np.testing.assert_array_equal(encode_targets([], [], ROW, 3), np.zeros((7, 3)))
    far = np.array([[0.9375, 0.0, 1.0, 0.0625]])  # overlaps no anchor: no forced match
    np.testing.assert_array_equal(match_anchors(far, ROW), [BACKGROUND] * 7)
    assert IGNORE == -2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_encode_targets_matches_loop_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    anchors = np.concatenate([rng.uniform(0.1, 0.9, (37, 2)), rng.uniform(0.1, 0.4, (37, 2))], axis=1)
    gt, labels = random_boxes(rng, 5), rng.integers(0, 3, 5)
    expected = reference_match(gt, anchor_boxes(anchors), 0.4)
    np.testing.assert_array_equal(match_anchors(gt, anchors, iou_threshold=0.4), expected)
    target = encode_targets(gt, labels, anchors, 3, iou_threshold=0.4)
    assert target.shape == (37, 3) and target.dtype == np.float32
    one_hot = np.array([np.eye(3)[labels[m]] if m >= 0 else np.zeros(3) for m in expected])
    np.testing.assert_array_equal(target, one_hot)


@pytest.mark.parametrize("size,strides,interpolated,count", [(192, [8, 16, 16, 16], True, 2016),
                                                             (224, [8, 16, 32, 32, 32], True, 2254),
                                                             (128, [8, 16, 16, 16], True, 896),
                                                             (192, [4], False, 2304)])
def test_fixed_anchors_get_mediapipe_sizes(size: int, strides: list[int], interpolated: bool, count: int) -> None:
    fixed = mediapipe_anchors(size, strides, interpolated=interpolated)
    sized = mediapipe_anchors(size, strides, fixed=False, interpolated=interpolated)
    assert len(fixed) == count and np.all(fixed[:, 2:] == 1)
    np.testing.assert_allclose(anchor_boxes(fixed), anchor_boxes(sized), atol=1e-6)


def test_palm_box_matches_several_fitting_anchors() -> None:
    palm = mediapipe_anchors(192, [8, 16, 16, 16])
    hand = [[0.3, 0.35, 0.62, 0.67]]
    assert np.sum(match_anchors(hand, palm) >= 0) == 10
    assert np.sum(match_anchors(hand, palm, anchor_size=0.1) >= 0) == 1  # tiny boxes: only the forced one


def test_anchor_size_overrides() -> None:
    anchors = mediapipe_anchors(64, [32])[:3]
    np.testing.assert_allclose(anchor_boxes(anchors, 0.2)[0], [0.15, 0.15, 0.35, 0.35])
    np.testing.assert_allclose(anchor_boxes(anchors, (0.2, 0.4))[0], [0.15, 0.05, 0.35, 0.45])
    sizes = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    np.testing.assert_allclose(anchor_boxes(anchors, sizes)[2], [0.25 - 0.25, 0.75 - 0.3, 0.25 + 0.25, 0.75 + 0.3])
    np.testing.assert_allclose(anchor_boxes(ROW)[0], [0.375, 0.0, 0.625, 0.25])  # own sizes
    with pytest.raises(InvalidArgumentError, match="anchor_size"):
        anchor_boxes(anchors, (0.2, -1.0))
    uneven = np.array([[0.25, 0.25, 1, 1], [0.25, 0.25, 1, 1], [0.75, 0.25, 1, 1]])
    with pytest.raises(InvalidArgumentError, match="pass anchor_size"):
        anchor_boxes(uneven)


def test_regression_inverts_mediapipe_decoding() -> None:
    palm = mediapipe_anchors(192, [8, 16, 16, 16])
    gt = np.array([[0.3, 0.35, 0.62, 0.67], [0.05, 0.6, 0.25, 0.9]])
    match = match_anchors(gt, palm)
    target = encode_regression(gt, match, palm, 18, (192, 190, 188, 186))
    assert target.shape == (2016, 19) and target.dtype == np.float32
    positive = np.flatnonzero(match >= 0)
    np.testing.assert_array_equal(target[:, -1], match >= 0)
    assert np.all(target[:, 4:18] == 0) and np.all(target[match < 0] == 0)
    raw, anchor = target[positive].astype(np.float64), palm[positive].astype(np.float64)
    xc, yc = raw[:, 0] / 192 * anchor[:, 2] + anchor[:, 0], raw[:, 1] / 190 * anchor[:, 3] + anchor[:, 1]
    w, h = raw[:, 2] / 188 * anchor[:, 2], raw[:, 3] / 186 * anchor[:, 3]
    decoded = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    np.testing.assert_allclose(decoded, gt[match[positive]], atol=1e-6)
    with pytest.raises(InvalidArgumentError, match="num_coords >= 4"):
        encode_regression(gt, match, palm, 3, (1, 1, 1, 1))


def _toy(count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    images = np.zeros((count, 8, 8, 1), np.float32)
    boxes, labels = [], []
    for i in range(count):
        y, x = rng.integers(0, 5, 2)
        label = int(rng.integers(0, 2))
        images[i, y:y + 4, x:x + 4, 0] = 1.0 if label else -1.0
        boxes.append(np.array([[y / 8, x / 8, (y + 4) / 8, (x + 4) / 8]]))
        labels.append(np.array([label]))
    return images, boxes, labels


def test_dataset_spec_batches_and_content() -> None:
    rng = np.random.default_rng(4)
    anchors = np.concatenate([rng.uniform(0.1, 0.9, (37, 2)), rng.uniform(0.1, 0.4, (37, 2))], axis=1)
    images = np.arange(7, dtype=np.uint8)[:, None, None, None] * np.ones((1, 5, 3, 3), np.uint8)
    boxes = [random_boxes(rng, g) for g in (2, 0, 1, 3, 1, 2, 1)]
    labels = [rng.integers(0, 3, len(b)) for b in boxes]
    labels[3][0] = 2
    ds = ssd_dataset(images, boxes, labels, anchors, batch_size=3, shuffle=False)
    spec = ds.element_spec
    assert spec[0].shape.as_list() == [None, 5, 3, 3] and spec[0].dtype.name == "uint8"
    assert [s.shape.as_list() for s in spec[1]] == [[None, 37, 0], [None, 37, 3]]
    batches = list(ds.as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [3, 3, 1]
    cls = np.concatenate([b[1][1] for b in batches])
    np.testing.assert_array_equal(cls, [encode_targets(b, lab, anchors, 3) for b, lab in zip(boxes, labels)])
    assert cls[1].sum() == 0  # the image without boxes: all background
    shuffled = [np.concatenate([b[0][:, 0, 0, 0] for b in ssd_dataset(images, boxes, labels, anchors, batch_size=3,
                                                                      seed=5).as_numpy_iterator()])
                for _ in range(2)]
    np.testing.assert_array_equal(shuffled[0], shuffled[1])
    assert sorted(shuffled[0]) == list(range(7)) and list(shuffled[0]) != list(range(7))


def test_dataset_with_regression_targets() -> None:
    anchors = mediapipe_anchors(16, [8, 16])
    images, boxes, labels = _toy(5, np.random.default_rng(6))
    ds = ssd_dataset(images, boxes, labels, anchors, regression=True, num_coords=6, scales=(16, 16, 16, 16),
                     num_classes=3, batch_size=5, shuffle=False)
    assert [s.shape.as_list() for s in ds.element_spec[1]] == [[None, len(anchors), 7], [None, len(anchors), 3]]
    reg, cls = next(ds.as_numpy_iterator())[1]
    np.testing.assert_array_equal(reg[..., -1], cls.max(-1))


@pytest.mark.parametrize("kwargs,message", [
    ({"labels": [[0], [3]], "num_classes": 3}, r"labels\[1\] in \[0, 3\), received \[3\]"),
    ({"labels": [[0]]}, "received 2 images, 2 boxes and 1 labels"),
    ({"boxes": [[[0, 0, 1]], [[0, 0, 1, 1]]]}, r"boxes\[0\] of shape \(G, 4\).*received shape \(1, 3\)"),
    ({"labels": [[0, 1], [0]]}, r"labels\[0\] to be 1 integers"),
    ({"labels": [[0.5], [0]]}, r"labels\[0\] to be 1 integers"),
    ({"num_classes": 0}, "num_classes >= 1, received 0"),
    ({"labels": [[], []], "boxes": [[], []]}, "cannot infer num_classes"),
    ({"regression": True}, "needs num_coords and scales"),
    ({"ignore_threshold": 0.6}, r"ignore_threshold in \(0, iou_threshold=0.5\]"),
    ({"iou_threshold": 0.0}, r"iou_threshold in \(0, 1\]"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"anchors": np.ones((3, 2))}, r"anchors of shape \(N, 4\).*received shape \(3, 2\)"),
])
def test_bad_input(kwargs: dict, message: str) -> None:
    args = {"images": np.zeros((2, 4, 4, 3)), "boxes": [[[0, 0, 1, 1]], [[0, 0, 0.5, 0.5]]],
            "labels": [[0], [1]], "anchors": ROW, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        ssd_dataset(args.pop("images"), args.pop("boxes"), args.pop("labels"), args.pop("anchors"), **args)


def test_training_the_classifier_lowers_the_loss() -> None:
    import keras

    from tflite2keras.heads.loss import ssd_classification_loss

    keras.utils.set_random_seed(0)
    anchors = mediapipe_anchors(8, [2])  # 4x4 cells, 2 fixed-size anchors each, in the heads' order
    images, boxes, labels = _toy(48, np.random.default_rng(8))
    inp = keras.Input((8, 8, 1))
    x = keras.layers.MaxPooling2D(2)(keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp))
    regressors = keras.layers.Reshape((32, 5), name="regressors")(keras.layers.Conv2D(10, 1)(x))
    scores = keras.layers.Reshape((32, 2), name="classificators")(keras.layers.Conv2D(4, 3, padding="same")(x))
    model = keras.Model(inp, [regressors, scores])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=ssd_classification_loss(anchors))
    ds = ssd_dataset(images, boxes, labels, anchors, batch_size=8, seed=1)
    assert sum(1 for _ in ds) * 5 == 30  # 30 steps
    with pytest.warns(UserWarning, match="Gradients do not exist"):  # the regressor head gets none
        history = model.fit(ds, epochs=5, verbose=0).history
    losses = history["loss"]
    assert all(np.isfinite(losses)) and history["regressors_loss"] == [0.0] * 5
    assert losses[-1] < 0.5 * losses[0], losses
