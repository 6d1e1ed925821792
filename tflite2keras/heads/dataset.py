"""``ssd_dataset``: a ``tf.data.Dataset`` of images and per-anchor targets for
:func:`tflite2keras.heads.ssd_classification_loss`; the matching is :mod:`tflite2keras.heads.targets`.

Example:
    >>> import numpy as np
    >>> ds = ssd_dataset(np.zeros((1, 4, 4, 3), np.float32), [[[0, 0, 1, 1]]], [[1]], [[0.5, 0.5, 1.0, 1.0]])
    >>> [tuple(s.shape) for s in ds.element_spec[1]]
    [(None, 1, 0), (None, 1, 2)]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from .targets import (
    AnchorSize,
    _anchors,
    _boxes,
    _labels,
    _match,
    _num_classes,
    _one_hot,
    _thresholds,
    anchor_boxes,
    encode_regression,
)


def ssd_dataset(images: Any, boxes: Sequence[Any], labels: Sequence[Any], anchors: Any, *,
                num_classes: int | None = None, iou_threshold: float = 0.5, ignore_threshold: float | None = None,
                anchor_size: AnchorSize = None, batch_size: int = 8, shuffle: bool = True, seed: int = 0,
                regression: bool = False, num_coords: int | None = None, scales: Sequence[float] | None = None) -> Any:
    """A ``tf.data.Dataset`` of ``(images, (regressor_target, class_target))`` batches.

    The targets (see :mod:`tflite2keras.heads.loss`) are encoded once, in numpy: the
    regressor's is ``(N, 0)`` (not trained), or ``(N, num_coords + 1)`` with ``regression``
    (:func:`encode_regression`); the classifier's is ``(N, C)`` (:func:`encode_targets`).

    Args:
        images: ``(S, H, W, 3)`` images already preprocessed for the model (any dtype, kept).
        boxes: per image, ``(G_i, 4)`` normalized (ymin, xmin, ymax, xmax) boxes (ragged).
        labels: per image, ``(G_i,)`` ints in ``[0, num_classes)``.
        anchors: ``(N, 4)`` MediaPipe anchors (x_center, y_center, width, height).
        num_classes: C (default: the largest label + 1).
        iou_threshold: an anchor whose best IoU is at least this is positive, in ``(0, 1]``.
        ignore_threshold: unmatched anchors with IoU at least this (and below
            ``iou_threshold``) are ignored; None: no ignore band.
        anchor_size: anchor box size for matching (see the module docstring).
        batch_size / shuffle / seed: batching, and a reshuffle every epoch from ``seed``.
        regression: also encode box regression targets (needs ``num_coords`` and ``scales``).
        num_coords: R, the regressor's values per anchor (e.g. 18 for the palm detector).
        scales: ``(x_scale, y_scale, w_scale, h_scale)`` (e.g. the input size, 192, for palm).

    Raises:
        InvalidArgumentError: mismatched lengths, boxes not ``(G, 4)``, labels out of range, ...

    Example:
        >>> ds = ssd_dataset(np.zeros((3, 4, 4, 3), np.float32), [[[0, 0, 1, 1]], [], [[0, 0, .5, .5]]],
        ...                  [[0], [], [2]], [[0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 0.5, 0.5]], batch_size=2)
        >>> [tuple(s.shape) for s in ds.element_spec[1]]
        [(None, 2, 0), (None, 2, 3)]
    """
    _thresholds(iou_threshold, ignore_threshold)
    if int(batch_size) < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, received {batch_size!r}")
    if regression and (num_coords is None or scales is None):
        raise InvalidArgumentError(f"regression=True needs num_coords and scales, received num_coords={num_coords!r}"
                                   f", scales={scales!r}")
    images = np.asarray(images)
    if images.ndim < 1 or not 0 < len(images) == len(boxes) == len(labels):
        raise InvalidArgumentError(f"expected images, and as many boxes and labels, received "
                                   f"{len(images) if images.ndim else 0} images, {len(boxes)} boxes and "
                                   f"{len(labels)} labels")
    gts = [_boxes(b, f"boxes[{i}]") for i, b in enumerate(boxes)]
    if num_classes is None:
        found = [np.asarray(lab).reshape(-1) for lab in labels]
        if not any(len(f) for f in found):
            raise InvalidArgumentError("cannot infer num_classes from no labels; pass num_classes")
        num_classes = int(np.concatenate(found).max()) + 1
    num_classes = _num_classes(num_classes)
    labs = [_labels(lab, len(g), num_classes, f"labels[{i}]") for i, (lab, g) in enumerate(zip(labels, gts))]
    anchors = _anchors(anchors)
    abox = anchor_boxes(anchors, anchor_size)
    matches = [_match(g, abox, iou_threshold, ignore_threshold) for g in gts]
    cls = np.stack([_one_hot(m, lab, num_classes) for m, lab in zip(matches, labs)])
    reg = (np.stack([encode_regression(g, m, anchors, int(num_coords), scales) for g, m in zip(gts, matches)])
           if regression else np.zeros((len(gts), len(anchors), 0), np.float32))

    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, (reg, cls)))
    if shuffle:
        ds = ds.shuffle(len(gts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)


__all__ = ["ssd_dataset"]
