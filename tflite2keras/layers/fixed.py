"""Full-tensor layers for graphs converted with fixed shapes, whose axis 0 is data, not a free batch.

``convert`` keeps axis 0 free where every op allows it. A file whose ops move, fold or broadcast
along axis 0 (a rank-1 waveform framed by a RESHAPE, a TRANSPOSE of axis 0) is converted with its
full input shapes instead, and these layers see the whole tensor, axis 0 included.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import FixedReshape, FixedTranspose
    >>> tuple(FixedReshape([195, 80])(np.zeros((15600,), "float32")).shape)
    (195, 80)
    >>> tuple(FixedTranspose([1, 0, 2])(np.zeros((3, 4, 5), "float32")).shape)
    (4, 3, 5)
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class FixedReshape(keras.layers.Layer):
    """``reshape(x, shape)`` over every axis, axis 0 included; ``shape`` holds positive extents."""

    def __init__(self, shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = [int(d) for d in shape]
        if any(d < 0 for d in self.shape):
            raise InvalidArgumentError(f"FixedReshape: expected a shape of extents >= 0, received {self.shape}")

    def call(self, inputs: Any) -> Any:
        return keras.ops.reshape(inputs, self.shape)

    def compute_output_spec(self, inputs: Any) -> Any:  # the input's dtype: an index tensor stays integer
        shape = tuple(inputs.shape)
        if None not in shape and int(np.prod(shape)) != int(np.prod(self.shape)):
            raise InvalidArgumentError(f"FixedReshape: expected an input of {int(np.prod(self.shape))} elements "
                                       f"for shape {self.shape}, received {shape}")
        return keras.KerasTensor(tuple(self.shape), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": self.shape}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FixedTranspose(keras.layers.Layer):
    """``transpose(x, perm)`` over every axis, axis 0 included."""

    def __init__(self, perm: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.perm = [int(p) for p in perm]
        if sorted(self.perm) != list(range(len(self.perm))):
            raise InvalidArgumentError(f"FixedTranspose: expected a permutation of 0..{len(self.perm) - 1}, "
                                       f"received {self.perm}")

    def call(self, inputs: Any) -> Any:
        return keras.ops.transpose(inputs, self.perm)

    def compute_output_spec(self, inputs: Any) -> Any:
        shape = tuple(inputs.shape)
        if len(shape) != len(self.perm):
            raise InvalidArgumentError(f"FixedTranspose: perm {self.perm} expects rank {len(self.perm)}, "
                                       f"received shape {shape}")
        return keras.KerasTensor(tuple(shape[p] for p in self.perm), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "perm": self.perm}


__all__ = ["FixedReshape", "FixedTranspose"]
