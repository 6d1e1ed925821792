"""``ImageModel``: a functional model whose image input is checked before Keras casts it.

A functional Keras model converts each input to its ``Input``'s dtype, so float images fed
to a uint8 model would be truncated silently. ``ImageModel`` raises instead.

Example:
    >>> import keras, numpy as np
    >>> image = keras.Input((None, None, 3), dtype="uint8")
    >>> model = ImageModel(image, keras.layers.Rescaling(1 / 255)(image), name="demo")
    >>> tuple(model(np.zeros((1, 2, 2, 3), np.uint8)).shape)
    (1, 2, 2, 3)
    >>> model(np.zeros((1, 2, 2, 3), np.float32))
    Traceback (most recent call last):
    tflite2keras.errors.InvalidArgumentError: ImageModel 'demo' expected uint8 images (batch, height, width, 3). Received: float32 of shape (1, 2, 2, 3)
"""

from __future__ import annotations

from typing import Any

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageModel(keras.Model):
    """A functional model from one uint8 image batch ``(batch, height, width, channels)``."""

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        want = self.inputs[0]
        dtype = keras.backend.standardize_dtype(getattr(inputs, "dtype", type(inputs)))
        shape = tuple(getattr(inputs, "shape", ()))
        fits = len(shape) == len(want.shape) and all(w is None or w == s for w, s in zip(want.shape[1:], shape[1:]))
        if dtype != keras.backend.standardize_dtype(want.dtype) or not fits:
            raise InvalidArgumentError(
                f"ImageModel {self.name!r} expected {want.dtype} images (batch, height, width, "
                f"{want.shape[-1]}). Received: {dtype} of shape {shape}")
        return super().__call__(inputs, *args, **kwargs)


__all__ = ["ImageModel"]
