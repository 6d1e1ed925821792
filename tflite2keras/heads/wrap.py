"""``heads.classifier``: wrap a classifier so that it takes raw pixels and returns probabilities."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from .replace import require_batch


def classifier(model: Any, *, mean: float | Sequence[float], std: float | Sequence[float],
               softmax: bool = True, name: str | None = None) -> Any:
    """Wrap a classifier with its input normalization in front and a softmax at the end.

    The result takes raw pixels (as the model's input shape, any dtype) and computes
    ``model((x - mean) / std)``, then ``softmax`` over the last axis. Both are standard
    Keras layers (``Normalization``, ``Softmax``): the wrapper saves in safe mode and
    exports to TFLite as SUB/MUL and SOFTMAX, so the shipped file takes pixels and
    returns probabilities.

    Args:
        model: a Keras model with one input and one output of logits.
        mean / std: per-channel (or scalar) statistics in the units of the raw input,
            e.g. ``mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)`` for
            ImageNet models fed 0-255 pixels.
        softmax: append a softmax (False when the model already ends in one).
        name: the wrapper's name (default: the model's, with ``_classifier``).

    Returns:
        A functional ``keras.Model``.

    Raises:
        InvalidArgumentError: the model has several inputs or outputs, ``std`` has a zero, or the
            model has fixed shapes (``model.fixed_shape``: its axis 0 is data, not a batch).

    Example:
        >>> import keras
        >>> logits = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
        >>> wrapped = classifier(logits, mean=127.5, std=127.5)
        >>> round(float(keras.ops.sum(wrapped(np.full((1, 4, 4, 3), 255.0, "float32")))), 5)
        1.0
    """
    import keras

    require_batch(model, "heads.classifier")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InvalidArgumentError(f"classifier wraps a model with one input and one output; {model.name!r} has "
                                   f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")
    channels = model.inputs[0].shape[-1]
    mean_v, std_v = (np.broadcast_to(np.asarray(v, np.float32), (channels,)) for v in (mean, std))
    if not np.all(np.abs(std_v) > 0):
        raise InvalidArgumentError(f"std must be non-zero, received {std!r}")
    pixels = keras.Input(model.inputs[0].shape[1:], name="pixels")
    x = keras.layers.Normalization(mean=mean_v, variance=np.square(std_v), name="normalize")(pixels)
    y = model(x)
    if softmax:
        y = keras.layers.Softmax(name="probabilities")(y)
    return keras.Model(pixels, y, name=name or f"{model.name}_classifier")
