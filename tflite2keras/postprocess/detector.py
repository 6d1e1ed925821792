"""``ssd_detector``: a detector that takes uint8 images of any size and returns detections.

It chains, inside one Keras model, MediaPipe's pre-processing (letterbox to the model's
input, scale to its range), the detector, box and keypoint decoding over the preset's
anchors, the best class per anchor, non-maximum suppression padded to a fixed number of
detections, and the mapping back to the original image's normalized coordinates. Every
step is a registered layer built from ``keras.ops``: the model saves in safe mode and
exports to TFLite with builtin ops only.

Example:
    >>> import numpy as np, tflite2keras as t2k
    >>> from tflite2keras import postprocess
    >>> detector = postprocess.ssd_detector(t2k.zoo.blazeface(), preset="face_detection_short_range",
    ...                                     max_detections=3)
    >>> out = detector(np.zeros((2, 90, 160, 3), np.uint8))
    >>> {k: tuple(v.shape) for k, v in sorted(out.items())}
    {'boxes': (2, 3, 4), 'classes': (2, 3), 'keypoints': (2, 3, 6, 2), 'scores': (2, 3)}
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InvalidArgumentError, ShapeMismatchError
from .anchors import Preset, decoder, suppressor
from .anchors import preset as find_preset


def ssd_detector(model: Any, preset: str | Preset = "palm_detection", *, max_detections: int = 10,
                 score_threshold: float | None = None, nms: str = "weighted", iou_threshold: float | None = None,
                 scale: str | None = None, outputs: str | int | Sequence[str | int] | None = None,
                 name: str | None = None) -> Any:
    """Wrap an SSD detector with MediaPipe's pre- and post-processing.

    Args:
        model: the detector (``t2k.convert`` of the file, a zoo model, or one with new
            classes from :func:`tflite2keras.heads.replace_classifier`).
        preset: a name in :data:`~tflite2keras.postprocess.PRESETS` or a :class:`Preset`.
        max_detections: rows of the output; unused rows have score 0.
        score_threshold: the lowest score kept (default: the preset's ``min_score_thresh``).
        nms: ``"weighted"`` (MediaPipe's blending) or ``"hard"``.
        iou_threshold: NMS overlap threshold (default: the preset's).
        scale: the model's input range, ``"[0,1]"`` or ``"[-1,1]"`` (default: the preset's ``scale``).
        outputs: the classification output, if the names and shapes do not tell.
        name: the model's name.

    Returns:
        A ``keras.Model`` from uint8 images ``(batch, height, width, 3)`` of any size to a dict:
        ``"boxes"`` ``(batch, K, 4)`` as (ymin, xmin, ymax, xmax), ``"scores"`` ``(batch, K)``,
        ``"classes"`` ``(batch, K)`` (float class indices) and ``"keypoints"``
        ``(batch, K, N, 2)`` as (x, y), all normalized to the original image.

    Raises:
        InvalidArgumentError: an unknown preset, ``nms`` or ``scale``; calling the detector
            with images that are not uint8 of shape ``(batch, height, width, 3)``.
        ShapeMismatchError: the preset's anchors do not match the model's outputs.
    """
    import keras

    from ..heads import classification_outputs
    from ..layers.models import ImageModel
    from ..layers.preprocess import ImagePreprocess, ProjectToImage
    from ..layers.scores import BestClass, ZeroEmptyRows

    p = find_preset(preset)
    if nms not in ("weighted", "hard"):
        raise InvalidArgumentError(f"nms must be 'weighted' or 'hard', received {nms!r}")
    scale = scale or p.scale
    classes_at = classification_outputs(model, outputs)[0]
    if len(model.outputs) != 2:
        raise InvalidArgumentError(f"an SSD detector has two outputs (regressors, scores); {model.name!r} has "
                                   f"{len(model.outputs)}")
    decode = decoder(p)
    shapes = [tuple(t.shape) for t in model.outputs]
    raw_shape, score_shape = shapes[1 - classes_at], shapes[classes_at]
    if raw_shape[1] != decode.num_anchors or score_shape[1] != decode.num_anchors or raw_shape[-1] < decode.num_coords:
        raise ShapeMismatchError(
            f"preset {p.name!r} has {decode.num_anchors} anchors of {decode.num_coords} values; {model.name!r} "
            f"outputs regressors {raw_shape} and scores {score_shape}")
    overrides: dict[str, Any] = {"mode": nms}
    if score_threshold is not None:
        overrides["score_threshold"] = score_threshold
    if iou_threshold is not None:
        overrides["iou_threshold"] = iou_threshold
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    pixels, transform = ImagePreprocess(p.input_size, mode="letterbox", scale=scale, name="preprocess")(image)
    raw = model(pixels)
    boxes, scores, keypoints = decode([raw[1 - classes_at], raw[classes_at]])
    best, label = BestClass(name="best_class")(scores)
    boxes, best, label, keypoints = suppressor(p, max_detections, **overrides)([boxes, best, label, keypoints])
    boxes, keypoints = ProjectToImage(name="to_image")([boxes, keypoints, transform])
    boxes, keypoints = ZeroEmptyRows(name="zero_empty_rows")([best, boxes, keypoints])
    return ImageModel(image, {"boxes": boxes, "scores": best, "classes": label, "keypoints": keypoints},
                       name=name or f"{model.name}_detector")
