"""Anchor matching in numpy: per-anchor class and box targets of an SSD detector.

Boxes are ``(ymin, xmin, ymax, xmax)`` corners normalized to [0, 1]; anchors are
MediaPipe's ``(x_center, y_center, width, height)`` rows. An anchor is matched to the
ground-truth box it overlaps most when that IoU is ``>= iou_threshold``; then every box
also takes its best anchor (lowest anchor index on ties) even below the threshold, as in
SSD. Anchors matching nothing are background; with ``ignore_threshold`` the unmatched
ones with IoU in ``[ignore_threshold, iou_threshold)`` are ignored by the loss.

Anchor boxes for matching: MediaPipe's palm, face and pose detectors use fixed-size
anchors (width = height = 1), boxes as large as the image. Those get, by default, the
sizes MediaPipe's ``SsdAnchorsCalculator`` gives without ``fixed_anchor_size``, with the
scales all three configs share (0.1484375 to 0.75, aspect ratio 1). The anchors are read
as row-major grids, ``m`` per cell: with every ``m`` even, each layer has its scale
``s_i`` and ``sqrt(s_i * s_{i+1})``, else ``m`` layers of one. For the 2016 palm anchors
this is 0.148 and 0.228 on the 24x24 grid, 0.349 to 0.866 on the 12x12 one: a hand box
of side 0.32 matches 10 anchors (with boxes of side 2 cells, only its forced one).
``anchor_size`` overrides it.

Example:
    >>> import numpy as np
    >>> anchors = np.array([[0.25, 0.25, 0.5, 0.5], [0.75, 0.75, 0.5, 0.5]], np.float32)
    >>> encode_targets([[0.5, 0.5, 1.0, 1.0]], [1], anchors, num_classes=2)
    array([[0., 0.],
           [0., 1.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError

#: MediaPipe's SSD scale schedule (palm, face and pose detection configs).
MIN_SCALE, MAX_SCALE = 0.1484375, 0.75
#: Matches of :func:`match_anchors` that are not a box index.
BACKGROUND, IGNORE = -1, -2
_ATOL = 1e-6
#: ``anchor_size``: None, a side, an ``(h, w)`` pair or an ``(N, 2)`` array of them.
AnchorSize = float | Sequence[float] | np.ndarray | None


def box_iou(a: Any, b: Any) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Args:
        a: ``(N, 4)`` corners; b: ``(M, 4)`` corners, in the same coordinate order
            (``(ymin, xmin, ymax, xmax)`` here).

    Returns:
        ``(N, M)`` float64; 0 where the union is empty.

    Example:
        >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]]).round(4)
        array([[0.1429, 1.    ]])
    """
    a, b = _boxes(a, "a"), _boxes(b, "b")
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def anchor_boxes(anchors: Any, anchor_size: AnchorSize = None) -> np.ndarray:
    """The ``(N, 4)`` corner boxes that anchors are matched with (see the module docstring).

    Args:
        anchors: ``(N, 4)`` rows of (x_center, y_center, width, height).
        anchor_size: None (the anchors' own size, or for fixed-size anchors MediaPipe's
            scale schedule), a side for every anchor, an ``(h, w)`` pair, or ``(N, 2)``.

    Raises:
        InvalidArgumentError: bad shapes, a size <= 0, or a fixed-size layout that cannot be read.

    Example:
        >>> anchor_boxes([[0.5, 0.5, 1.0, 1.0]], anchor_size=(0.2, 0.4)).round(2)
        array([[0.4, 0.3, 0.6, 0.7]])
    """
    anchors = _anchors(anchors)
    if anchor_size is None:
        fixed = np.allclose(anchors[:, 2:], 1.0, rtol=0.0, atol=_ATOL)
        size = np.repeat(_mediapipe_scales(anchors)[:, None], 2, axis=1) if fixed else anchors[:, [3, 2]]
    else:
        size = np.asarray(anchor_size, np.float64)
        if size.shape not in ((), (2,), (len(anchors), 2)) or not np.all(size > 0):
            raise InvalidArgumentError(f"anchor_size must be a positive side, (h, w) or ({len(anchors)}, 2), "
                                       f"received {anchor_size!r}")
        size = np.broadcast_to(size, (len(anchors), 2))
    center = anchors[:, [1, 0]]
    return np.concatenate([center - size / 2, center + size / 2], axis=1)


def _mediapipe_scales(anchors: np.ndarray) -> np.ndarray:
    x, y = anchors[:, 0], anchors[:, 1]
    dx, dy = np.diff(x), np.diff(y)
    new_cell = np.r_[True, (np.abs(dx) > _ATOL) | (np.abs(dy) > _ATOL)]
    new_block = np.r_[True, (dy < -_ATOL) | ((np.abs(dy) <= _ATOL) & (dx < -_ATOL))]
    starts = np.flatnonzero(new_cell)
    per_cell = np.diff(np.r_[starts, len(anchors)])
    block_of_cell = np.cumsum(new_block[starts]) - 1
    counts = []
    for block in range(block_of_cell[-1] + 1):
        m = np.unique(per_cell[block_of_cell == block])
        if len(m) != 1:
            raise InvalidArgumentError(f"cannot read fixed-size anchors as grids with a constant number of anchors "
                                       f"per cell (block {block} has {m.tolist()}); pass anchor_size")
        counts.append((int(m[0]), int(np.sum(block_of_cell == block))))
    per_layer = 2 if all(m % 2 == 0 for m, _ in counts) else 1  # 2: a scale and an interpolated one
    layers = sum(m // per_layer for m, _ in counts)
    scale = [*([(MIN_SCALE + MAX_SCALE) / 2] if layers == 1 else np.linspace(MIN_SCALE, MAX_SCALE, layers)), 1.0]
    sizes, first = [], 0
    for m, cells in counts:
        ids, first = range(first, first + m // per_layer), first + m // per_layer
        cell = [v for i in ids for v in ([scale[i], np.sqrt(scale[i] * scale[i + 1])][:per_layer])]
        sizes.append(np.tile(cell, cells))
    return np.concatenate(sizes)


def match_anchors(boxes_i: Any, anchors: Any, *, iou_threshold: float = 0.5, ignore_threshold: float | None = None,
                  anchor_size: AnchorSize = None) -> np.ndarray:
    """Match one image's ground-truth boxes to the anchors.

    Returns:
        ``(N,)`` int64: the matched box's index, ``BACKGROUND`` (-1) or ``IGNORE`` (-2).

    Example:
        >>> anchors = [[0.25, 0.5, 0.5, 1.0], [0.75, 0.5, 0.5, 1.0], [0.5, 0.5, 0.2, 0.2]]
        >>> match_anchors([[0.0, 0.5, 1.0, 1.0], [0.45, 0.45, 0.55, 0.55]], anchors)
        array([-1,  0,  1])
    """
    _thresholds(iou_threshold, ignore_threshold)
    return _match(_boxes(boxes_i, "boxes_i"), anchor_boxes(anchors, anchor_size), iou_threshold, ignore_threshold)


def _match(gt: np.ndarray, abox: np.ndarray, iou_threshold: float, ignore_threshold: float | None) -> np.ndarray:
    match = np.full(len(abox), BACKGROUND, np.int64)
    if len(gt) == 0:
        return match
    iou = box_iou(abox, gt)
    best_gt = iou.argmax(axis=1)
    best = iou[np.arange(len(abox)), best_gt]
    if ignore_threshold is not None:
        match[(best >= ignore_threshold) & (best < iou_threshold)] = IGNORE
    match[best >= iou_threshold] = best_gt[best >= iou_threshold]
    best_anchor = iou.argmax(axis=0)  # the lowest anchor index on ties
    forced = iou[best_anchor, np.arange(len(gt))]
    # Boxes sharing a best anchor: the highest IoU, then the lowest box index, is written last.
    for g in np.lexsort((-np.arange(len(gt)), forced)):
        if forced[g] > 0:
            match[best_anchor[g]] = g
    return match


def encode_targets(boxes_i: Any, labels_i: Any, anchors: Any, num_classes: int, *, iou_threshold: float = 0.5,
                   ignore_threshold: float | None = None, anchor_size: AnchorSize = None) -> np.ndarray:
    """The class target of one image: ``(N, C)`` float32, one-hot, 0 background, -1 ignored.

    Args:
        boxes_i: ``(G, 4)`` boxes (ymin, xmin, ymax, xmax), normalized; G may be 0.
        labels_i: ``(G,)`` ints in ``[0, num_classes)``.
        anchors: ``(N, 4)`` (x_center, y_center, width, height).
        num_classes: C, the classifier's scores per anchor.
        iou_threshold / ignore_threshold / anchor_size: as in :func:`ssd_dataset`.

    Raises:
        InvalidArgumentError: bad shapes, labels out of range or thresholds out of order.

    Example:
        >>> encode_targets(np.zeros((0, 4)), [], [[0.5, 0.5, 0.2, 0.2]], num_classes=3)
        array([[0., 0., 0.]], dtype=float32)
    """
    _thresholds(iou_threshold, ignore_threshold)
    num_classes = _num_classes(num_classes)
    gt = _boxes(boxes_i, "boxes_i")
    match = _match(gt, anchor_boxes(anchors, anchor_size), iou_threshold, ignore_threshold)
    return _one_hot(match, _labels(labels_i, len(gt), num_classes, "labels_i"), num_classes)


def _one_hot(match: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    target = np.zeros((len(match), num_classes), np.float32)
    target[match == IGNORE] = -1.0
    positive = np.flatnonzero(match >= 0)
    target[positive, labels[match[positive]]] = 1.0
    return target


def encode_regression(boxes_i: Any, match: np.ndarray, anchors: Any, num_coords: int,
                      scales: Sequence[float]) -> np.ndarray:
    """The regressor target of one image: ``(N, num_coords + 1)`` float32.

    Inverts MediaPipe's box decoding (``reverse_output_order``, linear sizes) on the
    *given* anchors: ``x = (xc - ax) / aw * x_scale``, ``y = (yc - ay) / ah * y_scale``,
    ``w = bw / aw * w_scale``, ``h = bh / ah * h_scale``. Keypoint columns stay 0 (the loss
    reads only the 4 box values); the last column is 1 on positive anchors.

    Args:
        boxes_i: ``(G, 4)`` boxes; match: from :func:`match_anchors`.
        anchors: ``(N, 4)``; num_coords: R, the regressor's values (>= 4).
        scales: ``(x_scale, y_scale, w_scale, h_scale)`` as in MediaPipe's decoding options.

    Example:
        >>> encode_regression([[0.4, 0.2, 0.6, 0.6]], np.array([0]), [[0.5, 0.5, 1.0, 1.0]], 5, (10, 10, 10, 10))
        array([[-1.,  0.,  4.,  2.,  0.,  1.]], dtype=float32)
    """
    gt, anchors = _boxes(boxes_i, "boxes_i"), _anchors(anchors)
    scale = np.asarray(scales, np.float64)
    if int(num_coords) < 4 or scale.shape != (4,) or not np.all(scale > 0) or np.shape(match) != (len(anchors),):
        raise InvalidArgumentError(f"expected num_coords >= 4, 4 positive scales (x, y, w, h) and {len(anchors)} "
                                   f"matches, received num_coords={num_coords!r}, scales={scales!r}, "
                                   f"{np.shape(match)} matches")
    target = np.zeros((len(anchors), int(num_coords) + 1), np.float32)
    positive = np.flatnonzero(np.asarray(match) >= 0)
    box, anchor = gt[np.asarray(match)[positive]], anchors[positive]
    center, size = (box[:, [1, 0]] + box[:, [3, 2]]) / 2, box[:, [3, 2]] - box[:, [1, 0]]
    target[positive, :2] = (center - anchor[:, :2]) / anchor[:, 2:] * scale[:2]
    target[positive, 2:4] = size / anchor[:, 2:] * scale[2:]
    target[positive, -1] = 1.0
    return target


def _anchors(anchors: Any) -> np.ndarray:
    arr = np.asarray(anchors, np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4 or len(arr) < 1 or not np.all(arr[:, 2:] > 0):
        raise InvalidArgumentError(f"expected anchors of shape (N, 4) (x_center, y_center, width > 0, height > 0), "
                                   f"received shape {arr.shape}")
    return arr


def _boxes(boxes: Any, what: str) -> np.ndarray:
    arr = np.asarray(boxes, np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidArgumentError(f"expected {what} of shape (G, 4) (ymin, xmin, ymax, xmax), received shape "
                                   f"{arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr[:, 2:] <= arr[:, :2]):
        raise InvalidArgumentError(f"expected {what} with ymin < ymax and xmin < xmax, received {arr.tolist()}")
    return arr


def _labels(labels: Any, count: int, num_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(labels).reshape(-1) if np.size(labels) else np.zeros(0, np.int64)
    numeric = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr) & (arr == np.round(arr))))
    if np.ndim(labels) > 1 or len(arr) != count or not numeric:
        raise InvalidArgumentError(f"expected {what} to be {count} integers (one per box), received {labels!r}")
    if np.any((arr < 0) | (arr >= num_classes)):
        raise InvalidArgumentError(f"expected {what} in [0, {num_classes}), received {arr.tolist()}")
    return arr.astype(np.int64)


def _num_classes(num_classes: Any) -> int:
    if int(num_classes) != num_classes or int(num_classes) < 1:
        raise InvalidArgumentError(f"expected num_classes >= 1, received {num_classes!r}")
    return int(num_classes)


def _thresholds(iou_threshold: float, ignore_threshold: float | None) -> None:
    if not 0.0 < iou_threshold <= 1.0:
        raise InvalidArgumentError(f"expected iou_threshold in (0, 1], received {iou_threshold!r}")
    if ignore_threshold is not None and not 0.0 < ignore_threshold <= iou_threshold:
        raise InvalidArgumentError(f"expected ignore_threshold in (0, iou_threshold={iou_threshold}], received "
                                   f"{ignore_threshold!r}")


__all__ = ["AnchorSize", "BACKGROUND", "IGNORE", "anchor_boxes", "box_iou", "encode_regression", "encode_targets",
           "match_anchors"]
