"""Score helpers of the detector wrapper: the best class per anchor, and empty rows kept zero.

Example:
    >>> import numpy as np
    >>> score, label = BestClass()(np.array([[[0.1, 0.7, 0.2], [0.9, 0.0, 0.3]]], "float32"))
    >>> np.asarray(score).tolist(), np.asarray(label).tolist()
    ([[0.699999988079071, 0.8999999761581421]], [[1.0, 0.0]])
"""

from __future__ import annotations

from typing import Any

import keras

from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class BestClass(keras.layers.Layer):
    """``scores (B, N, C)`` -> ``[max over C (B, N), argmax over C as float (B, N)]``.

    The class index is returned as a float so that it can ride through NMS and TFLite
    outputs with the boxes; ties go to the lowest class, as ``argmax``.
    """

    def call(self, scores: Any) -> list[Any]:
        best = keras.ops.max(scores, axis=-1)
        # The first index reaching the maximum; TF's keras.ops.argmax traces to a bitwise op
        # (for signed zeros) that TFLite's builtins lack.
        index = keras.ops.arange(scores.shape[-1], dtype=self.compute_dtype)
        ties = keras.ops.where(scores == best[..., None], index, float(scores.shape[-1]))
        return [best, keras.ops.min(ties, axis=-1)]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> list[tuple[int | None, ...]]:
        return [tuple(input_shape[:-1])] * 2


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroEmptyRows(keras.layers.Layer):
    """``[scores (B, M), *values (B, M, ...)]`` -> the values, zero where the score is 0.

    NMS pads its output with zero rows; mapping those back to the original image would
    move them off zero, so the detector zeroes them again after the mapping.
    """

    def call(self, inputs: list[Any]) -> list[Any]:
        scores, *values = inputs
        keep = keras.ops.cast(scores > 0, self.compute_dtype)
        return [v * keras.ops.expand_dims(keep, tuple(range(2, len(v.shape)))) for v in values]

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> list[tuple[int | None, ...]]:
        return [tuple(s) for s in input_shape[1:]]


__all__ = ["BestClass", "ZeroEmptyRows"]
