"""Pre-processing for camera images: :class:`ImagePreprocess` and its inverse :class:`ProjectToImage`.

The layers live in :mod:`tflite2keras.layers.preprocess`; this module re-exports them
lazily, so ``import tflite2keras.preprocess`` does not import Keras until a layer is used.
Put ``ImagePreprocess`` in front of a converted model to feed it uint8 images of any size,
and ``ProjectToImage`` after its decoder to get boxes and keypoints on the original image.

Example:
    >>> import numpy as np
    >>> from tflite2keras.preprocess import ImagePreprocess, ProjectToImage
    >>> image, transform = ImagePreprocess((128, 128))(np.zeros((1, 37, 61, 3), np.uint8))
    >>> tuple(image.shape), np.asarray(transform).astype(float).round(4).tolist()
    ((1, 128, 128, 3), [[0.1967, 0.0, 0.6066, 1.0]])
    >>> centre = np.array([[[[0.5, 0.5]]]], "float32")  # (x, y) in the model's input
    >>> np.asarray(ProjectToImage()([centre, transform])).astype(float).round(4).tolist()
    [[[[0.5, 0.5]]]]
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = ("ImagePreprocess", "ProjectToImage")


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".layers.preprocess", __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])


__all__ = ["ImagePreprocess", "ProjectToImage"]
