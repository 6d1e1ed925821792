"""Draw detections (boxes, score/class labels, keypoints) on an image, for notebooks and checks.

:func:`draw` takes the dict a decoded detector returns (normalized ``(ymin, xmin, ymax, xmax)``
boxes and ``(x, y)`` keypoints, batched) and returns a new PIL image; the input is never
modified. It imports numpy and Pillow only: tensors of any backend are read with ``np.asarray``.

Example:
    >>> import numpy as np
    >>> from tflite2keras.postprocess.drawing import draw
    >>> image = np.zeros((60, 80, 3), np.uint8)
    >>> detections = {"boxes": [[[0.25, 0.25, 0.75, 0.75]]], "scores": [[0.9]]}
    >>> out = draw(image, detections)
    >>> out.size, np.asarray(out)[30, 20].any(), np.asarray(out)[5, 70].any()
    ((80, 60), np.True_, np.False_)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import InvalidArgumentError

#: Outline colours, cycled by class (or by detection when there are no classes).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 64, 64), (64, 255, 64), (64, 128, 255), (255, 200, 0), (255, 64, 255), (0, 230, 230),
    (255, 128, 0), (160, 96, 255),
)


def _to_pil(image: Any, index: int) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")  # always a copy
    array = np.asarray(image)
    if array.ndim == 4:  # a batch: take the same entry as the detections
        array = array[index]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise InvalidArgumentError(f"draw expected an image (H, W, 3) or a PIL image. Received: shape={array.shape}")
    if array.dtype != np.uint8:
        raise InvalidArgumentError(f"draw expected a uint8 image. Received: dtype={array.dtype}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(array[..., :3]), "RGB")


def _entry(detections: Mapping[str, Any], key: str, index: int, rank: int) -> np.ndarray | None:
    """``detections[key]`` for batch entry ``index`` as numpy (unbatched values are accepted too)."""
    if detections.get(key) is None:
        return None
    value = np.asarray(detections[key])
    if value.ndim == rank + 1:
        if not -value.shape[0] <= index < value.shape[0]:
            raise InvalidArgumentError(f"draw: index {index} is out of range for a batch of {value.shape[0]}. "
                                       f"Received: {key} of shape {value.shape}")
        value = value[index]
    if value.ndim != rank:
        raise InvalidArgumentError(f"draw expected {key} with {rank + 1} dimensions (batch first). "
                                   f"Received: shape={value.shape}")
    return value


def draw(image: Any, detections: Mapping[str, Any], *, index: int = 0, score_threshold: float = 0.0,
         labels: Sequence[str] | None = None) -> Image.Image:
    """Draw the boxes, score (and class) labels and keypoints of batch entry ``index``.

    Args:
        image: a uint8 ``(H, W, 3)`` array (a ``(B, H, W, 3)`` batch uses entry ``index``) or a PIL image.
        detections: ``"boxes"`` ``(B, K, 4)`` as normalized ``(ymin, xmin, ymax, xmax)``,
            ``"scores"`` ``(B, K)``, optionally ``"classes"`` ``(B, K)`` and ``"keypoints"``
            ``(B, K, N, 2)`` as normalized ``(x, y)``; numpy arrays, lists or tensors.
        index: the batch entry to draw.
        score_threshold: detections scoring ``<=`` this are skipped; so are zero-score
            (padding) entries whatever the threshold.
        labels: optional class names, indexed by class id.

    Returns:
        A new RGB PIL image (the input is not modified).

    Raises:
        InvalidArgumentError: the image or a detection array has the wrong shape or type.

    Example:
        >>> import numpy as np
        >>> dets = {"boxes": np.zeros((1, 2, 4)), "scores": np.zeros((1, 2))}  # padding only
        >>> out = draw(np.full((8, 8, 3), 7, np.uint8), dets)
        >>> int(np.asarray(out).max())
        7
    """
    if "boxes" not in detections or "scores" not in detections:
        raise InvalidArgumentError(f"draw expected detections with 'boxes' and 'scores'. "
                                   f"Received: keys={sorted(detections)}")
    canvas = _to_pil(image, index)
    boxes, scores = _entry(detections, "boxes", index, 2), _entry(detections, "scores", index, 1)
    classes, keypoints = _entry(detections, "classes", index, 1), _entry(detections, "keypoints", index, 3)
    assert boxes is not None and scores is not None
    if boxes.shape[-1] != 4 or boxes.shape[0] != scores.shape[0]:
        raise InvalidArgumentError(f"draw expected boxes (K, 4) and scores (K,) per batch entry. "
                                   f"Received: boxes {boxes.shape}, scores {scores.shape}")
    width, height = canvas.size
    line = max(1, round(min(width, height) / 200))
    radius = line + 1
    pen = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for k in range(boxes.shape[0]):
        score = float(scores[k])
        if not score > score_threshold or score == 0.0:
            continue
        cls = None if classes is None else int(classes[k])
        colour = PALETTE[(k if cls is None else cls) % len(PALETTE)]
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[k])
        x0, x1 = sorted((round(xmin * width), round(xmax * width)))  # PIL would truncate floats
        y0, y1 = sorted((round(ymin * height), round(ymax * height)))
        pen.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        name = "" if cls is None else (labels[cls] if labels is not None and 0 <= cls < len(labels) else str(cls))
        text = f"{name} {score:.2f}".strip()
        left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
        ty = y0 - (bottom - top) - 2 if y0 - (bottom - top) - 2 >= 0 else y0 + line
        pen.rectangle((x0, ty, x0 + right - left + 2, ty + bottom - top + 2), fill=colour)
        pen.text((x0 + 1 - left, ty + 1 - top), text, fill=(0, 0, 0), font=font)
        if keypoints is not None and k < keypoints.shape[0]:
            for x, y in keypoints[k][:, :2].astype(float):
                cx, cy = x * width, y * height
                pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    return canvas


__all__ = ["PALETTE", "draw"]
