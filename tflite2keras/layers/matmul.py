"""Matrix products over the last two axes with broadcast batch axes: TFLite ``BATCH_MATMUL``.

Attention blocks (ViT, ``MultiHeadAttention``) become ``BATCH_MATMUL`` of two tensors;
a matrix product with a constant becomes one whose right operand is a trainable ``kernel``,
held in the layout TFLite stores it in (``adj_y`` still applies to it).

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import BatchMatMul
    >>> a = np.ones((2, 3, 4, 5), "float32")
    >>> b = np.ones((2, 3, 6, 5), "float32")
    >>> tuple(BatchMatMul(adj_y=True)([a, b]).shape)
    (2, 3, 4, 6)
    >>> tuple(BatchMatMul(kernel_shape=(5, 7))(a).shape)
    (2, 3, 4, 7)
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .math import broadcast_shapes
from .padding import PACKAGE

Shape = tuple[int | None, ...]


def _swap(shape: Shape, adjoint: bool) -> Shape:
    return (*shape[:-2], shape[-1], shape[-2]) if adjoint else tuple(shape)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchMatMul(keras.layers.Layer):
    """``matmul(x, y)`` over the last two axes, the other axes broadcast as numpy does.

    Args:
        adj_x: transpose the last two axes of the left operand first.
        adj_y: transpose the last two axes of the right operand first.
        kernel_shape: when given, the right operand is the layer's trainable variable ``kernel``
            of this shape (rank >= 2) and the layer takes one input; otherwise it takes ``[x, y]``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        >>> np.asarray(BatchMatMul(adj_x=True)([x, x])).shape
        (1, 3, 3)
    """

    def __init__(self, adj_x: bool = False, adj_y: bool = False, kernel_shape: Sequence[int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.adj_x, self.adj_y = bool(adj_x), bool(adj_y)
        self.kernel_shape = None if kernel_shape is None else tuple(int(d) for d in kernel_shape)
        if self.kernel_shape is not None and (len(self.kernel_shape) < 2 or min(self.kernel_shape) < 1):
            raise InvalidArgumentError(f"BatchMatMul: kernel_shape must have rank >= 2 and positive extents. "
                                       f"Received: kernel_shape={kernel_shape}")

    def build(self, input_shape: Any) -> None:
        if self.kernel_shape is not None:
            self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape, initializer="glorot_uniform",
                                          trainable=True)

    def _operands(self, inputs: Any) -> tuple[Any, Any]:
        if self.kernel_shape is not None:
            return inputs, self.kernel
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise InvalidArgumentError("BatchMatMul without kernel_shape takes two inputs [x, y]")
        return inputs[0], inputs[1]

    def call(self, inputs: Any) -> Any:
        x, y = self._operands(inputs)
        if self.adj_x:
            x = keras.ops.swapaxes(x, -1, -2)
        if self.adj_y:
            y = keras.ops.swapaxes(y, -1, -2)
        return keras.ops.matmul(x, y)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if self.kernel_shape is not None:
            shapes = (tuple(input_shape), self.kernel_shape)
        else:
            shapes = (tuple(input_shape[0]), tuple(input_shape[1]))
        if min(len(s) for s in shapes) < 2:
            raise InvalidArgumentError(f"BatchMatMul: both operands need rank >= 2. Received: {shapes}")
        x, y = _swap(shapes[0], self.adj_x), _swap(shapes[1], self.adj_y)
        if None not in (x[-1], y[-2]) and x[-1] != y[-2]:
            raise InvalidArgumentError(f"BatchMatMul: the contracted extents differ ({x[-1]} and {y[-2]}). "
                                       f"Received: shapes {shapes}, adj_x={self.adj_x}, adj_y={self.adj_y}")
        return (*broadcast_shapes(x[:-2], y[:-2]), x[-2], y[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "adj_x": self.adj_x, "adj_y": self.adj_y,
                "kernel_shape": None if self.kernel_shape is None else list(self.kernel_shape)}


__all__ = ["BatchMatMul"]
