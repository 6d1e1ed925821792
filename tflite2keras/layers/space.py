"""Moving spatial blocks into the batch axis and back: TFLite ``SPACE_TO_BATCH_ND`` / ``BATCH_TO_SPACE_ND``.

Both change the batch axis, by a factor ``prod(block_shape)``. That is exact at any batch in
Keras, where the batch is None: a reshape with ``-1`` and a transpose. As in TF, the block
offset is the outer part of the new batch index and the old batch the inner part:
``SpaceToBatch`` sends ``x[n, i * bh + a, j * bw + b]`` (after padding) to
``y[(a * bw + b) * N + n, i, j]``, and ``BatchToSpace`` inverts that, then crops.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import BatchToSpace, SpaceToBatch
    >>> x = np.arange(2 * 4 * 6 * 1, dtype="float32").reshape(2, 4, 6, 1)
    >>> y = SpaceToBatch([2, 3], [[0, 0], [0, 0]])(x)
    >>> tuple(y.shape)
    (12, 2, 2, 1)
    >>> bool(np.array_equal(np.asarray(BatchToSpace([2, 3], [[0, 0], [0, 0]])(y)), x))
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]


def _pairs(values: Sequence[Sequence[int]], count: int, what: str, layer: str) -> list[list[int]]:
    pairs = [[int(a), int(b)] for a, b in values]
    if len(pairs) != count or min((v for p in pairs for v in p), default=0) < 0:
        raise InvalidArgumentError(f"{layer}: {what} must be {count} pairs of non-negative integers. "
                                   f"Received: {what}={values}")
    return pairs


class _Blocks(keras.layers.Layer):
    """Base: a block shape over the first ``len(block_shape)`` axes after the batch, and a pair per axis."""

    PAIRS = "paddings"

    def __init__(self, block_shape: Sequence[int], pairs: Sequence[Sequence[int]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_shape = [int(b) for b in block_shape]
        if not self.block_shape or min(self.block_shape) < 1:
            raise InvalidArgumentError(f"{type(self).__name__}: block_shape must be positive integers. "
                                       f"Received: block_shape={list(block_shape)}")
        self.pairs = _pairs(pairs, len(self.block_shape), self.PAIRS, type(self).__name__)

    def _spatial(self, input_shape: Shape) -> list[int]:
        m = len(self.block_shape)
        spatial = list(input_shape[1:1 + m])
        if len(input_shape) < m + 2 or None in spatial:
            raise InvalidArgumentError(f"{type(self).__name__}: needs an input of rank >= {m + 2} with known "
                                       f"extents on axes 1..{m}. Received: input shape {tuple(input_shape)}")
        return [int(d) for d in spatial]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_shape": self.block_shape, self.PAIRS: self.pairs}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpaceToBatch(_Blocks):
    """Zero-pad axes ``1..M`` by ``paddings``, then move ``block_shape`` blocks into the batch axis.

    Args:
        block_shape: M block extents.
        paddings: M (before, after) pairs; each padded extent must be divisible by its block.

    Example:
        >>> import numpy as np
        >>> tuple(SpaceToBatch([2], [[1, 0]])(np.zeros((3, 5, 4), "float32")).shape)
        (6, 3, 4)
    """

    def __init__(self, block_shape: Sequence[int], paddings: Sequence[Sequence[int]], **kwargs: Any) -> None:
        super().__init__(block_shape, paddings, **kwargs)

    def _padded(self, input_shape: Shape) -> list[int]:
        padded = [d + a + b for d, (a, b) in zip(self._spatial(input_shape), self.pairs)]
        if any(d % b for d, b in zip(padded, self.block_shape)):
            raise InvalidArgumentError(f"SpaceToBatch: padded extents {padded} are not divisible by block_shape "
                                       f"{self.block_shape}. Received: input shape {tuple(input_shape)}")
        return padded

    def call(self, inputs: Any) -> Any:
        m, rest = len(self.block_shape), tuple(inputs.shape[1 + len(self.block_shape):])
        padded = self._padded(tuple(inputs.shape))
        x = keras.ops.pad(inputs, [(0, 0), *map(tuple, self.pairs)] + [(0, 0)] * len(rest))
        split = [v for d, b in zip(padded, self.block_shape) for v in (d // b, b)]
        x = keras.ops.reshape(x, (-1, *split, *rest))
        blocks, cells = list(range(2, 2 * m + 1, 2)), list(range(1, 2 * m, 2))
        x = keras.ops.transpose(x, (*blocks, 0, *cells, *range(2 * m + 1, 2 * m + 1 + len(rest))))
        return keras.ops.reshape(x, (-1, *split[::2], *rest))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        padded = self._padded(tuple(input_shape))
        n = input_shape[0]
        return (None if n is None else n * math.prod(self.block_shape),
                *(d // b for d, b in zip(padded, self.block_shape)), *input_shape[1 + len(self.block_shape):])


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchToSpace(_Blocks):
    """Move ``prod(block_shape)`` batch groups into axes ``1..M``, then crop them by ``crops``.

    The batch must be divisible by ``prod(block_shape)``.

    Args:
        block_shape: M block extents.
        crops: M (before, after) pairs cropped from the enlarged axes.

    Example:
        >>> import numpy as np
        >>> tuple(BatchToSpace([2, 3], [[0, 1], [2, 0]])(np.zeros((6, 4, 5, 2), "float32")).shape)
        (1, 7, 13, 2)
    """

    PAIRS = "crops"

    def __init__(self, block_shape: Sequence[int], crops: Sequence[Sequence[int]], **kwargs: Any) -> None:
        super().__init__(block_shape, crops, **kwargs)

    def _sizes(self, input_shape: Shape) -> list[int]:
        sizes = [d * b - a - c for d, b, (a, c) in zip(self._spatial(input_shape), self.block_shape, self.pairs)]
        if min(sizes) < 0:
            raise InvalidArgumentError(f"BatchToSpace: crops {self.pairs} exceed the enlarged extents. "
                                       f"Received: input shape {tuple(input_shape)}")
        return sizes

    def call(self, inputs: Any) -> Any:
        m = len(self.block_shape)
        spatial, rest = self._spatial(tuple(inputs.shape)), tuple(inputs.shape[1 + m:])
        x = keras.ops.reshape(inputs, (*self.block_shape, -1, *spatial, *rest))
        interleaved = [a for i in range(m) for a in (m + 1 + i, i)]
        x = keras.ops.transpose(x, (m, *interleaved, *range(2 * m + 1, 2 * m + 1 + len(rest))))
        x = keras.ops.reshape(x, (-1, *(d * b for d, b in zip(spatial, self.block_shape)), *rest))
        sizes = self._sizes(tuple(inputs.shape))
        return x[(slice(None), *(slice(a, a + n) for (a, _), n in zip(self.pairs, sizes)))]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, block = input_shape[0], math.prod(self.block_shape)
        if n is not None and n % block:
            raise InvalidArgumentError(f"BatchToSpace: the batch {n} is not divisible by prod(block_shape) = {block}")
        return (None if n is None else n // block, *self._sizes(tuple(input_shape)),
                *input_shape[1 + len(self.block_shape):])


__all__ = ["BatchToSpace", "SpaceToBatch"]
