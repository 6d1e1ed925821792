"""Layers for TFLite's diagonal and sequence-reversal ops, built from ``keras.ops``.

- :class:`MatrixDiag`: ``MATRIX_DIAG``, the last axis spread onto the diagonal of a square matrix.
- :class:`MatrixSetDiag`: ``MATRIX_SET_DIAG``, the main diagonal of the last two axes replaced.
- :class:`ReverseSequence`: ``REVERSE_SEQUENCE``, a prefix of each row reversed.

All three select values (``where`` / ``take_along_axis``); none multiplies, so infinities and
NaNs off the diagonal or outside the prefix stay where they are.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import MatrixDiag
    >>> np.asarray(MatrixDiag()(np.array([[1.0, 2.0]], "float32"))).tolist()
    [[[1.0, 0.0], [0.0, 2.0]]]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .math import _spec
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class MatrixDiag(keras.layers.Layer):
    """``(..., n)`` -> ``(..., n, n)`` with the input on the main diagonal and zeros elsewhere.

    Example:
        >>> import numpy as np
        >>> tuple(MatrixDiag()(np.zeros((2, 3, 4), "float32")).shape)
        (2, 3, 4, 4)
    """

    def call(self, inputs: Any) -> Any:
        n = inputs.shape[-1]
        row = keras.ops.expand_dims(inputs, -2)
        return keras.ops.where(keras.ops.eye(n, dtype="bool"), row, keras.ops.zeros_like(row))

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec((*inputs.shape, inputs.shape[-1]), inputs.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MatrixSetDiag(keras.layers.Layer):
    """``[x, diagonal]`` -> ``x`` of shape ``(..., m, n)`` with ``x[..., i, i] = diagonal[..., i]``
    for ``i < min(m, n)``.

    Example:
        >>> import numpy as np
        >>> x, d = np.zeros((1, 2, 3), "float32"), np.array([[5.0, 6.0]], "float32")
        >>> np.asarray(MatrixSetDiag()([x, d])).tolist()
        [[[5.0, 0.0, 0.0], [0.0, 6.0, 0.0]]]
    """

    def call(self, inputs: Any) -> Any:
        x, diagonal = inputs
        m, n = x.shape[-2:]
        k = min(m, n)
        if n > k:  # the columns past the diagonal's end are never selected; pad to broadcast
            pads = [(0, 0)] * (len(diagonal.shape) - 1) + [(0, n - k)]
            diagonal = keras.ops.pad(diagonal, pads)
        return keras.ops.where(keras.ops.eye(m, n, dtype="bool"), keras.ops.expand_dims(diagonal, -2), x)

    def compute_output_spec(self, inputs: Any) -> Any:
        return _spec(tuple(inputs[0].shape), inputs[0].dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReverseSequence(keras.layers.Layer):
    """Reverse the first ``lengths[j]`` elements along ``seq_axis`` of each slice ``j`` of ``batch_axis``.

    The lengths are either fixed (``lengths``, one per index of ``batch_axis``, or a single one for
    every index) or the layer's second input (``[x, lengths]``, a vector along the batch axis).

    Example:
        >>> import numpy as np
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 4)
        >>> np.asarray(ReverseSequence(seq_axis=2, batch_axis=1, lengths=[3, 0])(x)).tolist()
        [[[2.0, 1.0, 0.0, 3.0], [4.0, 5.0, 6.0, 7.0]]]
    """

    def __init__(self, seq_axis: int, batch_axis: int, lengths: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seq_axis, self.batch_axis = int(seq_axis), int(batch_axis)
        self.lengths = None if lengths is None else [int(n) for n in lengths]
        if self.seq_axis <= 0 or self.batch_axis < 0 or self.seq_axis == self.batch_axis:
            raise InvalidArgumentError(f"ReverseSequence: seq_axis {self.seq_axis} must be a non-batch axis other "
                                       f"than batch_axis {self.batch_axis}")
        if self.lengths is None and self.batch_axis != 0:
            raise InvalidArgumentError("ReverseSequence: lengths given as an input run along the batch axis (0)")

    def call(self, inputs: Any) -> Any:
        x, lengths = (inputs[0], inputs[1]) if self.lengths is None else (inputs, np.asarray(self.lengths, "int32"))
        rank = len(x.shape)
        steps = x.shape[self.seq_axis]
        lengths = keras.ops.reshape(keras.ops.cast(lengths, "int32"),
                                    [-1 if a == self.batch_axis else 1 for a in range(rank)])
        position = keras.ops.reshape(keras.ops.arange(steps, dtype="int32"),
                                     [steps if a == self.seq_axis else 1 for a in range(rank)])
        source = keras.ops.where(position < lengths, lengths - 1 - position, position)
        return keras.ops.take_along_axis(x, keras.ops.broadcast_to(source, keras.ops.shape(x)), axis=self.seq_axis)

    def compute_output_spec(self, inputs: Any) -> Any:
        x = inputs[0] if self.lengths is None else inputs
        return _spec(tuple(x.shape), x.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seq_axis": self.seq_axis, "batch_axis": self.batch_axis,
                "lengths": self.lengths}


__all__ = ["MatrixDiag", "MatrixSetDiag", "ReverseSequence"]
