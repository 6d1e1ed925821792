"""SSD anchors and decoding options of MediaPipe's detector graphs (numpy only).

:func:`anchors` generates the anchor grid exactly as MediaPipe's ``SsdAnchorsCalculator``
(non-multiscale path), in float32 with the calculator's rounding. :data:`PRESETS` holds the
``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator`` and ``NonMaxSuppressionCalculator``
options of the palm, face (short/full range) and pose detection graphs.

Example:
    >>> from tflite2keras import postprocess
    >>> grid = postprocess.anchors("face_detection_short_range")
    >>> grid.shape, grid[0].tolist()
    ((896, 4), [0.03125, 0.03125, 1.0, 1.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError

_F = np.float32


@dataclass(frozen=True)
class AnchorOptions:
    """``SsdAnchorsCalculatorOptions`` (defaults as in the proto; multiscale generation not supported).

    ``strides`` are always needed: consecutive layers with equal stride are merged into one
    grid. ``feature_map_height``/``feature_map_width``, when given, replace the grid sizes
    ``ceil(input_size / stride)``; each merged group uses the size of its first layer.
    """

    input_size_height: int
    input_size_width: int
    min_scale: float
    max_scale: float
    num_layers: int
    strides: tuple[int, ...]
    aspect_ratios: tuple[float, ...] = ()
    feature_map_height: tuple[int, ...] = ()
    feature_map_width: tuple[int, ...] = ()
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    reduce_boxes_in_lowest_layer: bool = False
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = False

    def __post_init__(self) -> None:
        for name in ("strides", "aspect_ratios", "feature_map_height", "feature_map_width"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.num_layers < 1 or len(self.strides) != self.num_layers:
            raise InvalidArgumentError(
                f"AnchorOptions needs num_layers >= 1 and one stride per layer. "
                f"Received: num_layers={self.num_layers}, strides={self.strides}")
        if any(s < 1 for s in self.strides):
            raise InvalidArgumentError(f"strides must be positive. Received: strides={self.strides}")
        if self.feature_map_height or self.feature_map_width:
            sizes = self.feature_map_height + self.feature_map_width
            if not len(self.feature_map_height) == len(self.feature_map_width) == self.num_layers or min(sizes) < 1:
                raise InvalidArgumentError(
                    f"feature_map_height and feature_map_width need {self.num_layers} positive sizes each. "
                    f"Received: {self.feature_map_height} and {self.feature_map_width}")
        elif self.input_size_height < 1 or self.input_size_width < 1:
            raise InvalidArgumentError(
                f"input sizes must be positive. Received: {self.input_size_height}x{self.input_size_width}")
        if any(r <= 0 for r in self.aspect_ratios):
            raise InvalidArgumentError(f"aspect_ratios must be positive. Received: {self.aspect_ratios}")


@dataclass(frozen=True)
class DecodeOptions:
    """``TensorsToDetectionsCalculatorOptions`` plus the graph's ``NonMaxSuppressionCalculatorOptions``."""

    num_classes: int
    num_boxes: int
    num_coords: int
    x_scale: float
    y_scale: float
    w_scale: float
    h_scale: float
    box_coord_offset: int = 0
    keypoint_coord_offset: int = 4
    num_keypoints: int = 0
    num_values_per_keypoint: int = 2
    reverse_output_order: bool = True
    apply_exponential_on_box_size: bool = False
    sigmoid_score: bool = True
    score_clipping_thresh: float | None = None
    min_score_thresh: float | None = None
    min_suppression_threshold: float = 0.3
    overlap_type: str = "INTERSECTION_OVER_UNION"
    algorithm: str = "WEIGHTED"

    def __post_init__(self) -> None:
        end = self.keypoint_coord_offset + self.num_keypoints * self.num_values_per_keypoint
        if (self.box_coord_offset < 0 or self.box_coord_offset + 4 > self.num_coords or end > self.num_coords
                or self.num_values_per_keypoint < 2):
            raise InvalidArgumentError(
                f"num_coords={self.num_coords} must hold the box at box_coord_offset={self.box_coord_offset} "
                f"and {self.num_keypoints} keypoints of {self.num_values_per_keypoint} (>= 2) values at "
                f"keypoint_coord_offset={self.keypoint_coord_offset}")
        if 0.0 in (self.x_scale, self.y_scale, self.w_scale, self.h_scale):
            raise InvalidArgumentError("x_scale, y_scale, w_scale and h_scale must be non-zero")
        if self.algorithm not in ("WEIGHTED", "DEFAULT") or self.overlap_type != "INTERSECTION_OVER_UNION":
            raise InvalidArgumentError(
                f"expected algorithm WEIGHTED or DEFAULT and overlap_type INTERSECTION_OVER_UNION. "
                f"Received: {self.algorithm}, {self.overlap_type}")


@dataclass(frozen=True)
class Preset:
    """A MediaPipe detector: input size ``(height, width)``, anchor and decoding options, and the
    input range of its graph's ``ImageToTensorCalculator`` (``output_tensor_float_range``)."""

    name: str
    input_size: tuple[int, int]
    anchors: AnchorOptions
    decode: DecodeOptions
    scale: str = "[-1,1]"

    @property
    def nms_iou_threshold(self) -> float:
        """The graph's NMS ``min_suppression_threshold``."""
        return self.decode.min_suppression_threshold

    @property
    def min_score_thresh(self) -> float | None:
        """The graph's ``min_score_thresh`` of ``TensorsToDetectionsCalculator``."""
        return self.decode.min_score_thresh


def _preset(name: str, size: int, strides: tuple[int, ...], interpolated: float, num_boxes: int,
            num_keypoints: int, min_score: float, scale: str) -> Preset:
    grid = AnchorOptions(size, size, 0.1484375, 0.75, len(strides), strides, aspect_ratios=(1.0,),
                         interpolated_scale_aspect_ratio=interpolated, fixed_anchor_size=True)
    decode = DecodeOptions(1, num_boxes, 4 + 2 * num_keypoints, *(float(size),) * 4, num_keypoints=num_keypoints,
                           score_clipping_thresh=100.0, min_score_thresh=min_score)
    return Preset(name, (size, size), grid, decode, scale)


#: The detector graphs of ``mediapipe/modules/{palm,face,pose}_detection``.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("palm_detection", 192, (8, 16, 16, 16), 1.0, 2016, 7, 0.5, "[0,1]"),
    _preset("face_detection_short_range", 128, (8, 16, 16, 16), 1.0, 896, 6, 0.5, "[-1,1]"),
    _preset("face_detection_full_range", 192, (4,), 0.0, 2304, 6, 0.6, "[-1,1]"),
    _preset("pose_detection", 224, (8, 16, 32, 32, 32), 1.0, 2254, 4, 0.5, "[-1,1]"),
)}


def preset(name_or_preset: str | Preset) -> Preset:
    """The :class:`Preset` of a name in :data:`PRESETS` (a :class:`Preset` is returned as is)."""
    if isinstance(name_or_preset, Preset):
        return name_or_preset
    if name_or_preset not in PRESETS:
        raise InvalidArgumentError(
            f"unknown preset {name_or_preset!r}; expected one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name_or_preset]


def _scale(options: AnchorOptions, index: int) -> np.float32:
    """``CalculateScale``: float32 operands, the interpolation itself in double."""
    lo, hi, count = _F(options.min_scale), _F(options.max_scale), len(options.strides)
    if count == 1:
        return _F((lo + hi) * _F(0.5))
    return _F(float(lo) + float(_F(hi - lo)) * index / (count - 1.0))


def _group_shapes(options: AnchorOptions, first: int, last: int) -> tuple[list[np.float32], list[np.float32]]:
    """Aspect ratios and scales of the anchors per cell for layers ``first..last`` (one stride)."""
    ratios: list[np.float32] = []
    scales: list[np.float32] = []
    for layer in range(first, last + 1):
        scale = _scale(options, layer)
        if layer == 0 and options.reduce_boxes_in_lowest_layer:
            ratios += [_F(1.0), _F(2.0), _F(0.5)]
            scales += [_F(0.1), scale, scale]
            continue
        ratios += [_F(r) for r in options.aspect_ratios]
        scales += [scale] * len(options.aspect_ratios)
        if options.interpolated_scale_aspect_ratio > 0.0:
            following = _F(1.0) if layer == len(options.strides) - 1 else _scale(options, layer + 1)
            scales.append(_F(np.sqrt(_F(scale * following))))
            ratios.append(_F(options.interpolated_scale_aspect_ratio))
    return ratios, scales


def anchors(options: str | Preset | AnchorOptions) -> np.ndarray:
    """The anchors of ``SsdAnchorsCalculator``, rows ``(x_center, y_center, width, height)``.

    Order: layer groups (consecutive equal strides) in turn; in a group row ``y``, column
    ``x``, then the group's anchors per cell (each layer's aspect ratios then its
    interpolated anchor).

    Args:
        options: a preset name, a :class:`Preset` or an :class:`AnchorOptions`.

    Returns:
        ``(N, 4)`` float32, normalized to the input size.

    Example:
        >>> grid = anchors(AnchorOptions(16, 8, 0.2, 0.8, 1, (8,), aspect_ratios=(1.0,)))
        >>> grid[:, :2].tolist()  # 1 column x 2 rows of cells, 2 anchors per cell
        [[0.5, 0.25], [0.5, 0.25], [0.5, 0.75], [0.5, 0.75]]
        >>> [round(float(w), 4) for w in grid[:2, 2]]  # scale 0.5, then the interpolated sqrt(0.5 * 1.0)
        [0.5, 0.7071]
    """
    if not isinstance(options, AnchorOptions):
        options = preset(options).anchors
    rows: list[np.ndarray] = []
    first = 0
    while first < options.num_layers:
        last = first
        while last + 1 < options.num_layers and options.strides[last + 1] == options.strides[first]:
            last += 1
        ratios, scales = _group_shapes(options, first, last)
        roots = [_F(np.sqrt(r)) for r in ratios]
        heights = np.array([s / q for s, q in zip(scales, roots)], _F)
        widths = np.array([s * q for s, q in zip(scales, roots)], _F)
        if options.fixed_anchor_size:
            heights, widths = np.ones_like(heights), np.ones_like(widths)
        if options.feature_map_height:
            rows_, cols = options.feature_map_height[first], options.feature_map_width[first]
        else:
            stride = options.strides[first]
            rows_ = math.ceil(options.input_size_height / stride)
            cols = math.ceil(options.input_size_width / stride)
        ys = (np.arange(rows_, dtype=_F) + _F(options.anchor_offset_y)) / _F(rows_)
        xs = (np.arange(cols, dtype=_F) + _F(options.anchor_offset_x)) / _F(cols)
        y, x, k = np.meshgrid(ys, xs, np.arange(len(ratios)), indexing="ij")
        rows.append(np.stack([x, y, widths[k], heights[k]], axis=-1).reshape(-1, 4))
        first = last + 1
    return np.concatenate(rows).astype(_F) if rows else np.zeros((0, 4), _F)


def decoder(name_or_preset: str | Preset, **overrides: Any) -> Any:
    """A :class:`~tflite2keras.layers.SSDDecode` configured for a preset (imports Keras).

    ``overrides`` replace constructor arguments (e.g. ``name=``).

    Example:
        >>> layer = decoder("pose_detection")
        >>> layer.num_anchors, layer.num_keypoints
        (2254, 4)
    """
    from ..layers.detection import SSDDecode

    p = preset(name_or_preset)
    d = p.decode
    kwargs: dict[str, Any] = dict(
        x_scale=d.x_scale, y_scale=d.y_scale, w_scale=d.w_scale, h_scale=d.h_scale, num_keypoints=d.num_keypoints,
        box_coord_offset=d.box_coord_offset, keypoint_coord_offset=d.keypoint_coord_offset,
        num_values_per_keypoint=d.num_values_per_keypoint, reverse_output_order=d.reverse_output_order,
        apply_exponential_on_box_size=d.apply_exponential_on_box_size, sigmoid_score=d.sigmoid_score,
        score_clipping_thresh=d.score_clipping_thresh, name=f"{p.name}_decode")
    return SSDDecode(anchors(p), **{**kwargs, **overrides})


def suppressor(name_or_preset: str | Preset, max_detections: int, **overrides: Any) -> Any:
    """A :class:`~tflite2keras.layers.NonMaxSuppression` with a preset's NMS options (imports Keras).

    ``overrides`` replace constructor arguments (e.g. ``mode="hard"``).

    Example:
        >>> layer = suppressor("palm_detection", max_detections=2)
        >>> layer.mode, layer.iou_threshold, layer.score_threshold
        ('weighted', 0.3, 0.5)
    """
    from ..layers.detection import NonMaxSuppression

    p = preset(name_or_preset)
    kwargs: dict[str, Any] = dict(
        mode="weighted" if p.decode.algorithm == "WEIGHTED" else "hard", iou_threshold=p.nms_iou_threshold,
        max_detections=max_detections, score_threshold=p.min_score_thresh, name=f"{p.name}_nms")
    return NonMaxSuppression(**{**kwargs, **overrides})


__all__ = ["AnchorOptions", "DecodeOptions", "PRESETS", "Preset", "anchors", "decoder", "preset", "suppressor"]
