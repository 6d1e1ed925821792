"""A reshape that may change the batch axis, for RESHAPE targets such as ``[-1, 4]``.

``keras.layers.Reshape`` keeps the batch axis; TFLite's RESHAPE may fold it into another axis
(``(batch, 6, 4) -> (batch * 6, 4)``) or split it out again. The target holds exactly one -1,
which takes the batch-dependent extent, so the layer is exact at any batch.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import BatchReshape
    >>> tuple(BatchReshape([-1, 4])(np.zeros((3, 6, 4), "float32")).shape)
    (18, 4)
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchReshape(keras.layers.Layer):
    """``reshape(x, target)`` over all axes, batch included; ``target`` has one -1."""

    def __init__(self, target: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = [int(d) for d in target]
        if self.target.count(-1) != 1 or any(d < -1 or d == 0 for d in self.target):
            raise InvalidArgumentError(f"BatchReshape: target {self.target} must hold positive extents "
                                       "and exactly one -1 (the extent that follows the batch)")

    def call(self, inputs: Any) -> Any:
        return keras.ops.reshape(inputs, self.target)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        known = input_shape[1:]
        if input_shape[0] is not None and None not in known:
            size = int(np.prod(input_shape))
            fixed = -int(np.prod(self.target))
            return tuple(size // fixed if d == -1 else d for d in self.target)
        return tuple(None if d == -1 else d for d in self.target)

    def compute_output_spec(self, inputs: Any) -> Any:  # the input's dtype: an index tensor stays integer
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target": self.target}


__all__ = ["BatchReshape"]
