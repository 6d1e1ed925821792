"""SSD post-processing as Keras layers, with the semantics of MediaPipe's calculators.

- :class:`SSDDecode`: ``TensorsToDetectionsCalculator::DecodeBoxes`` plus its score step
  (clip to ``±score_clipping_thresh``, then sigmoid), for every anchor at once.
- :class:`NonMaxSuppression`: ``NonMaxSuppressionCalculator`` with IoU overlap, ``"weighted"``
  (MediaPipe's ``WEIGHTED`` algorithm) or ``"hard"`` (greedy) suppression, to a fixed number
  of detections padded with zeros.

Both are plain ``keras.ops`` (vectorized, batch-aware), trace in ``tf.function`` and
convert to TFLite builtin ops. Anchors come from :func:`tflite2keras.postprocess.anchors`.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import NonMaxSuppression, SSDDecode
    >>> decode = SSDDecode(np.array([[0.5, 0.5, 0.25, 0.25]]), 1.0, 1.0, 1.0, 1.0)
    >>> boxes, scores, _ = decode([np.array([[[0.0, 0.0, 1.0, 2.0]]]), np.zeros((1, 1, 1))])
    >>> np.asarray(boxes).tolist(), np.asarray(scores).tolist()
    ([[[0.25, 0.375, 0.75, 0.625]]], [[[0.5]]])
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]


def _shapes(input_shape: Any, layer: str, counts: tuple[int, ...]) -> list[Shape]:
    shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else []
    if len(shapes) not in counts or not all(isinstance(s, (list, tuple)) for s in shapes):
        raise InvalidArgumentError(f"{layer} expects a list of {' or '.join(map(str, counts))} tensors. "
                                   f"Received: {input_shape}")
    return [tuple(s) for s in shapes]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SSDDecode(keras.layers.Layer):
    """Decode raw SSD outputs against anchors, as MediaPipe's ``TensorsToDetectionsCalculator``.

    Per anchor ``(ax, ay, aw, ah)``: ``x = raw_x / x_scale * aw + ax``, ``y`` likewise,
    ``w = raw_w / w_scale * aw`` (``exp(raw_w / w_scale) * aw`` with
    ``apply_exponential_on_box_size``), ``h`` likewise; keypoint ``k`` reads the pair at
    ``keypoint_coord_offset + k * num_values_per_keypoint`` and is decoded like the center.
    Raw order is ``x, y, w, h`` (keypoints ``x, y``) with ``reverse_output_order``, else
    ``y, x, h, w`` (keypoints ``y, x``). Scores: clipped to ``±score_clipping_thresh`` then
    sigmoid, when ``sigmoid_score`` (MediaPipe clips only then); else passed through.

    Call ``[raw_boxes (B, N, num_coords), raw_scores (B, N, C)]``; returns ``[boxes (B, N, 4)
    as (ymin, xmin, ymax, xmax), scores (B, N, C), keypoints (B, N, K, 2) as (x, y)]``.
    The anchors are a non-trainable weight ``anchors`` (the config holds only ``num_anchors``).

    Args:
        anchors: ``(N, 4)`` rows ``(x_center, y_center, width, height)``.
        x_scale, y_scale, w_scale, h_scale: the calculator's non-zero scales.
        num_keypoints: ``K``.
        box_coord_offset / keypoint_coord_offset / num_values_per_keypoint: raw layout.
        reverse_output_order / apply_exponential_on_box_size / sigmoid_score /
        score_clipping_thresh: as the calculator's options (``None``: no clipping).
    """

    def __init__(self, anchors: Any, x_scale: float, y_scale: float, w_scale: float, h_scale: float,
                 num_keypoints: int = 0, box_coord_offset: int = 0, keypoint_coord_offset: int = 4,
                 num_values_per_keypoint: int = 2, reverse_output_order: bool = True,
                 apply_exponential_on_box_size: bool = False, sigmoid_score: bool = True,
                 score_clipping_thresh: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        grid = np.asarray(anchors, dtype="float32")
        if grid.ndim != 2 or grid.shape[1] != 4 or grid.shape[0] < 1:
            raise InvalidArgumentError(f"SSDDecode expects anchors of shape (N, 4) with N >= 1. "
                                       f"Received: shape={grid.shape}")
        self.scales = tuple(float(s) for s in (x_scale, y_scale, w_scale, h_scale))
        if 0.0 in self.scales:
            raise InvalidArgumentError(f"SSDDecode expects non-zero x/y/w/h scales. Received: {self.scales}")
        self.num_keypoints, self.box_coord_offset = int(num_keypoints), int(box_coord_offset)
        self.keypoint_coord_offset = int(keypoint_coord_offset)
        self.num_values_per_keypoint = int(num_values_per_keypoint)
        layout = (self.num_keypoints, self.box_coord_offset, self.keypoint_coord_offset, self.num_values_per_keypoint)
        if min(layout[:3]) < 0 or layout[3] < 2:
            raise InvalidArgumentError(
                "SSDDecode expects non-negative num_keypoints, box_coord_offset and keypoint_coord_offset and "
                f"num_values_per_keypoint >= 2. Received: {layout}")
        self.reverse_output_order = bool(reverse_output_order)
        self.apply_exponential_on_box_size = bool(apply_exponential_on_box_size)
        self.sigmoid_score = bool(sigmoid_score)
        self.score_clipping_thresh = None if score_clipping_thresh is None else float(score_clipping_thresh)
        self.num_anchors = int(grid.shape[0])
        self.anchors = self.add_weight(name="anchors", shape=grid.shape, initializer="zeros", trainable=False)
        self.anchors.assign(grid)

    @property
    def num_coords(self) -> int:
        """The fewest raw values per anchor this layout reads."""
        keypoints_end = self.keypoint_coord_offset + self.num_keypoints * self.num_values_per_keypoint
        return max(self.box_coord_offset + 4, keypoints_end)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # validates

    def call(self, inputs: Sequence[Any]) -> list[Any]:
        raw, scores = inputs
        x_scale, y_scale, w_scale, h_scale = self.scales
        ax, ay, aw, ah = (self.anchors[:, i] for i in range(4))
        first, second, third, fourth = (raw[..., self.box_coord_offset + i] for i in range(4))
        x, y, w, h = (first, second, third, fourth) if self.reverse_output_order else (second, first, fourth, third)
        x = x / x_scale * aw + ax
        y = y / y_scale * ah + ay
        if self.apply_exponential_on_box_size:
            w, h = ops.exp(w / w_scale) * aw, ops.exp(h / h_scale) * ah
        else:
            w, h = w / w_scale * aw, h / h_scale * ah
        boxes = ops.stack([y - h / 2.0, x - w / 2.0, y + h / 2.0, x + w / 2.0], axis=-1)
        if self.num_keypoints:
            start, size = self.keypoint_coord_offset, self.num_values_per_keypoint
            block = raw[..., start:start + self.num_keypoints * size]
            block = ops.reshape(block, (-1, self.num_anchors, self.num_keypoints, size))
            kx, ky = (block[..., 0], block[..., 1]) if self.reverse_output_order else (block[..., 1], block[..., 0])
            kx = kx / x_scale * aw[:, None] + ax[:, None]
            ky = ky / y_scale * ah[:, None] + ay[:, None]
            keypoints = ops.stack([kx, ky], axis=-1)
        else:
            empty = ops.expand_dims(boxes[..., :0], -1)
            keypoints = ops.concatenate([empty, empty], axis=-1)
        if self.sigmoid_score:
            if self.score_clipping_thresh is not None:
                scores = ops.clip(scores, -self.score_clipping_thresh, self.score_clipping_thresh)
            scores = ops.sigmoid(scores)
        return [boxes, scores, keypoints]

    def compute_output_shape(self, input_shape: Any) -> list[Shape]:
        raw, scores = _shapes(input_shape, "SSDDecode", (2,))
        if len(raw) != 3 or len(scores) != 3 or raw[1] not in (None, self.num_anchors) or scores[1] not in (
                None, self.num_anchors) or (raw[2] is not None and raw[2] < self.num_coords):
            raise InvalidArgumentError(
                f"SSDDecode expects raw boxes (batch, {self.num_anchors}, >={self.num_coords}) and raw scores "
                f"(batch, {self.num_anchors}, classes). Received: {raw} and {scores}")
        return [(raw[0], self.num_anchors, 4), (scores[0], self.num_anchors, scores[2]),
                (raw[0], self.num_anchors, self.num_keypoints, 2)]

    def get_config(self) -> dict[str, Any]:
        x_scale, y_scale, w_scale, h_scale = self.scales
        return {**super().get_config(), "num_anchors": self.num_anchors, "x_scale": x_scale, "y_scale": y_scale,
                "w_scale": w_scale, "h_scale": h_scale, "num_keypoints": self.num_keypoints,
                "box_coord_offset": self.box_coord_offset, "keypoint_coord_offset": self.keypoint_coord_offset,
                "num_values_per_keypoint": self.num_values_per_keypoint,
                "reverse_output_order": self.reverse_output_order,
                "apply_exponential_on_box_size": self.apply_exponential_on_box_size,
                "sigmoid_score": self.sigmoid_score, "score_clipping_thresh": self.score_clipping_thresh}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SSDDecode:
        """Rebuild with zero anchors of the stored count; the weights file restores them."""
        config = dict(config)
        return cls(np.zeros((int(config.pop("num_anchors")), 4), "float32"), **config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NonMaxSuppression(keras.layers.Layer):
    """IoU non-maximum suppression as MediaPipe's ``NonMaxSuppressionCalculator``, batched.

    Candidates are the detections with ``score >= score_threshold`` and non-negative box
    width and height (``TensorsToDetectionsCalculator`` drops the others). Repeatedly, the
    best remaining candidate (lowest index among equal scores) is taken:

    - ``"hard"``: it is output and every remaining candidate with IoU ``> iou_threshold`` is
      removed;
    - ``"weighted"``: its cluster is every remaining candidate (itself included) with IoU
      ``> iou_threshold``; the output box and keypoints are the score-weighted means over the
      cluster, score and class are the best's, and the cluster is removed. An empty cluster
      (a zero-area best box) ends the suppression, as in MediaPipe.

    Call ``[boxes (B, N, 4) as (ymin, xmin, ymax, xmax), scores (B, N), classes (B, N)]``
    plus optionally ``keypoints (B, N, K, 2)``; returns the same list with ``N`` replaced
    by ``max_detections``, in decreasing score, rows past the last detection all zero.

    Args:
        mode: ``"weighted"`` or ``"hard"``.
        iou_threshold: in ``[0, 1]``, MediaPipe's ``min_suppression_threshold``.
        max_detections: ``M >= 1``, the number of output rows.
        score_threshold: the minimal score of a candidate (``None``: any non-NaN score).

    Example:
        >>> import numpy as np
        >>> boxes = np.array([[[0, 0, 1, 1], [0, 0, 1, 0.8], [2, 2, 3, 3]]], "float32")
        >>> scores, classes = np.array([[0.9, 0.6, 0.7]], "float32"), np.zeros((1, 3), "float32")
        >>> out = NonMaxSuppression("weighted", 0.3, max_detections=3)([boxes, scores, classes])
        >>> [np.asarray(o, "float64")[0].round(3).tolist() for o in out[:2]]
        [[[0.0, 0.0, 1.0, 0.92], [2.0, 2.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]], [0.9, 0.7, 0.0]]
    """

    def __init__(self, mode: str = "weighted", iou_threshold: float = 0.3, max_detections: int = 20,
                 score_threshold: float | None = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("weighted", "hard"):
            raise InvalidArgumentError(f"NonMaxSuppression mode must be 'weighted' or 'hard'. Received: {mode!r}")
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise InvalidArgumentError(f"iou_threshold must be in [0, 1]. Received: {iou_threshold}")
        if isinstance(max_detections, bool) or int(max_detections) != max_detections or max_detections < 1:
            raise InvalidArgumentError(f"max_detections must be an integer >= 1. Received: {max_detections}")
        if score_threshold is not None and not np.isfinite(score_threshold):
            raise InvalidArgumentError(f"score_threshold must be finite or None. Received: {score_threshold}")
        self.mode, self.iou_threshold, self.max_detections = mode, float(iou_threshold), int(max_detections)
        self.score_threshold = None if score_threshold is None else float(score_threshold)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # validates

    def call(self, inputs: Sequence[Any]) -> list[Any]:
        boxes, scores, classes, *rest = inputs
        n = boxes.shape[1]
        scores = ops.cast(scores, boxes.dtype)
        # MediaPipe keeps (xmin, ymin, width, height): its maxima are xmin + (xmax - xmin).
        height, width = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
        valid = ops.logical_and(height >= 0, width >= 0)
        scored = scores == scores if self.score_threshold is None else scores >= self.score_threshold  # not NaN
        valid = ops.logical_and(valid, scored)
        boxes = ops.where(valid[..., None], ops.stack([boxes[..., 0], boxes[..., 1], boxes[..., 0] + height,
                                                       boxes[..., 1] + width], axis=-1), 0.0)
        area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
        scores = ops.where(valid, scores, 0.0)
        labels = ops.where(valid, ops.cast(classes, boxes.dtype), 0.0)
        points = ops.where(valid[..., None, None], rest[0], 0.0) if rest else None
        positions = ops.arange(n, dtype="int32")
        active = valid
        out: list[list[Any]] = [[], [], [], []]
        for _ in range(self.max_detections):
            masked = ops.where(active, scores, -np.inf)
            best = ops.max(masked, axis=1, keepdims=True)
            alive = ops.any(active, axis=1, keepdims=True)
            index = ops.min(ops.where(ops.logical_and(active, masked == best), positions, n), axis=1, keepdims=True)
            pick = positions == index
            onehot = ops.cast(pick, boxes.dtype)
            best_box = ops.sum(boxes * onehot[..., None], axis=1)
            overlap = ops.logical_and(active, self._iou(boxes, area, best_box) > self.iou_threshold)
            box, point = best_box, None if points is None else ops.sum(points * onehot[..., None, None], axis=1)
            if self.mode == "weighted":
                weight = ops.where(overlap, scores, 0.0)
                total = ops.sum(weight, axis=1, keepdims=True)
                usable = total != 0
                safe = ops.where(usable, total, 1.0)
                box = ops.where(usable, ops.sum(boxes * weight[..., None], axis=1) / safe, box)
                if points is not None:
                    mean = ops.sum(points * weight[..., None, None], axis=1) / safe[..., None]
                    point = ops.where(usable[..., None], mean, point)
                clustered = ops.any(overlap, axis=1, keepdims=True)
                active = ops.logical_and(ops.logical_and(active, ops.logical_not(overlap)), clustered)
            else:
                active = ops.logical_and(active, ops.logical_not(ops.logical_or(overlap, pick)))
            label = ops.sum(labels * onehot, axis=1)
            out[0].append(ops.where(alive, box, 0.0))
            out[1].append(ops.where(alive[:, 0], best[:, 0], 0.0))
            out[2].append(ops.where(alive[:, 0], label, 0.0))
            if point is not None:
                out[3].append(ops.where(alive[..., None], point, 0.0))
        result = [ops.stack(o, axis=1) for o in out if o]
        result[2] = ops.cast(result[2], classes.dtype)
        return result

    @staticmethod
    def _iou(boxes: Any, area: Any, best: Any) -> Any:
        """IoU of every box with ``best`` (B, 4), 0 where the union is not positive."""
        b = best[:, None, :]
        tall = ops.maximum(ops.minimum(boxes[..., 2], b[..., 2]) - ops.maximum(boxes[..., 0], b[..., 0]), 0.0)
        wide = ops.maximum(ops.minimum(boxes[..., 3], b[..., 3]) - ops.maximum(boxes[..., 1], b[..., 1]), 0.0)
        inter = wide * tall
        union = area + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
        return ops.where(union > 0, inter / ops.where(union > 0, union, 1.0), 0.0)

    def compute_output_shape(self, input_shape: Any) -> list[Shape]:
        shapes = _shapes(input_shape, "NonMaxSuppression", (3, 4))
        boxes, scores, classes = shapes[:3]
        ok = len(boxes) == 3 and boxes[2] == 4 and len(scores) == len(classes) == 2
        ok = ok and (len(shapes) == 3 or (len(shapes[3]) == 4 and shapes[3][3] == 2))
        sizes = {s[1] for s in shapes if len(s) > 1} - {None}
        if not ok or len(sizes) > 1:
            raise InvalidArgumentError(
                "NonMaxSuppression expects boxes (batch, N, 4), scores (batch, N), classes (batch, N) and optional "
                f"keypoints (batch, N, K, 2). Received: {shapes}")
        m = self.max_detections
        out = [(boxes[0], m, 4), (scores[0], m), (classes[0], m)]
        return out + [(shapes[3][0], m, shapes[3][2], 2)] if len(shapes) == 4 else out

    def compute_output_spec(self, inputs: Sequence[Any]) -> list[Any]:
        shapes = self.compute_output_shape([tuple(x.shape) for x in inputs])
        return [keras.KerasTensor(s, dtype=x.dtype) for s, x in zip(shapes, inputs)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode, "iou_threshold": self.iou_threshold,
                "max_detections": self.max_detections, "score_threshold": self.score_threshold}


__all__ = ["NonMaxSuppression", "SSDDecode"]
