"""The arguments of :func:`tflite2keras.export_tflite`, checked before TensorFlow converts anything.

A wrong ``input_shape`` or representative sample would otherwise surface as a raw TensorFlow
error, or as a misleading one from deep inside the converter ("BytesRequired overflowed").

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3)])
    >>> input_shapes(model, (1, 17, 19, 3))
    [(1, 17, 19, 3)]
    >>> input_shapes(model, (1, 17, 19, 4))
    Traceback (most recent call last):
    ...
    tflite2keras.errors.InvalidArgumentError: input_shape must fit input 0 ('keras_tensor...') of 'sequential...': expected 4 positive sizes agreeing with (None, None, None, 3) (None: any size), received (1, 17, 19, 4)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import InvalidArgumentError


def input_shapes(model: Any, input_shape: Sequence[int | None] | None) -> list[tuple[int, ...]]:
    """The fixed shape (batch first) each input is traced at; ``input_shape`` checked against the model's."""
    inputs = list(model.inputs)
    if input_shape is not None and len(inputs) != 1:
        raise InvalidArgumentError(f"input_shape is for a model with one input; {model.name!r} has {len(inputs)}")
    shapes = []
    for i, tensor in enumerate(inputs):
        free = tuple(tensor.shape)
        shape = [1, *free[1:]]  # traced at batch 1 unless input_shape says otherwise
        if input_shape is not None:
            given = tuple(input_shape)
            if len(given) != len(free) or not all(map(_size_fits, given, free)):
                raise InvalidArgumentError(
                    f"input_shape must fit input {i} ({tensor.name!r}) of {model.name!r}: expected {len(free)} "
                    f"positive sizes agreeing with {free} (None: any size), received {given}")
            shape = [want if d is None else int(d) for d, want in zip(given, free)]
        if any(d is None for d in shape[1:]):
            raise InvalidArgumentError(
                f"input {i} ({tensor.name!r}) of {model.name!r} has free dimensions {free}; pass "
                "input_shape=(1, height, width, channels) to export it at a fixed size")
        shapes.append((1 if shape[0] is None else int(shape[0]), *(int(d) for d in shape[1:])))
    return shapes


def _size_fits(given: Any, want: int | None) -> bool:
    """``given`` (None: the model's own) is a positive size the model's ``want`` (None: any) takes."""
    if given is None:
        return True
    return isinstance(given, (int, np.integer)) and not isinstance(given, bool) and given > 0 and want in (None, given)


def representative_samples(data: Iterable[Any] | Callable[[], Iterable[Any]] | None, model: Any,
             shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """The representative samples as lists of arrays, each checked against its input's shape (any batch)."""
    items = data() if callable(data) else data
    out = [[np.asarray(x) for x in (s if isinstance(s, (list, tuple)) else [s])] for s in items or []]
    if not out:
        raise InvalidArgumentError("representative_data is empty")
    for k, sample in enumerate(out):
        if len(sample) != len(shapes):
            raise InvalidArgumentError(
                f"representative_data sample {k}: expected {len(shapes)} array(s), one per input of "
                f"{model.name!r}, received {len(sample)}")
        for i, (array, shape) in enumerate(zip(sample, shapes)):
            if array.ndim != len(shape) or tuple(array.shape[1:]) != shape[1:] or not array.shape[0]:
                raise InvalidArgumentError(
                    f"representative_data sample {k} input {i}: expected shape (n, {', '.join(map(str, shape[1:]))}) "
                    f"as input {i} ({model.inputs[i].name!r}) is traced at {shape} (any batch n >= 1), "
                    f"received {tuple(array.shape)}")
    return out
