"""The contract between the graph walker and the converters: what a converter sees and returns.

A converter is ``converter(ctx, op) -> [Keras tensors]``: one Keras tensor per output of ``op``
(or a single tensor for a one-output op), built from ``ctx.input(op, slot)`` with registered
Keras layers. :class:`ConvertContext` is what it may ask of the walk; the walker
(:class:`tflite2keras.conversion.context.GraphContext`) provides it.

Example:
    >>> from tflite2keras.ops.contract import ConvertContext
    >>> from tflite2keras.tflite.model import Operator
    >>> def convert_identity(ctx: ConvertContext, op: Operator) -> list:
    ...     return [ctx.input(op, 0)]
    >>> sorted(m for m in ConvertContext.__dict__ if m in ("input", "constant", "name"))
    ['constant', 'input', 'name']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

import numpy as np

from ..tflite.model import Operator, TFLiteModel

if TYPE_CHECKING:
    from keras import KerasTensor


class ConvertContext(Protocol):
    """What a converter may ask of the conversion it is part of.

    Attributes:
        tfl: the TFLite model being converted.
        mode: ``"float"``, ``"fake_quant"`` or ``"integer"`` (see :func:`tflite2keras.convert`).
        tensors: TFLite tensor index -> the Keras tensor computed for it so far.
        state: resource variable name -> its current Keras tensor (streaming models).
        state_variables: VAR_HANDLE output tensor -> its resource variable.
    """

    tfl: TFLiteModel
    mode: str
    tensors: dict[int, Any]
    state: dict[str, Any]
    state_variables: dict[int, Any]

    def input(self, op: Operator, slot: int = 0) -> KerasTensor:
        """The Keras tensor that feeds ``op``'s input ``slot``."""
        ...

    def is_constant(self, op: Operator, slot: int) -> bool:
        """True when input ``slot`` is a constant, or shape arithmetic that does not depend on the batch."""
        ...

    def constant(self, op: Operator, slot: int) -> np.ndarray:
        """The value of ``op``'s constant input ``slot``."""
        ...

    def folded_value(self, op: Operator, slot: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Input ``slot`` folded at two batch sizes, or None when it is not shape arithmetic."""
        ...

    def dtype(self, index: int) -> str:
        """The Keras dtype of tensor ``index`` in this conversion's mode."""
        ...

    def activation(self, op: Operator) -> str | None:
        """The Keras name of the op's fused activation, for layers that take ``activation=``."""
        ...

    def activate(self, x: KerasTensor, op: Operator, base: str) -> KerasTensor:
        """Apply the op's fused activation as its own layer."""
        ...

    def name(self, op: Operator, weights: bool = False) -> str:
        """A unique, stable Keras layer name for ``op``."""
        ...

    def suffixed(self, base: str, suffix: str) -> str:
        """A unique name for a helper layer that follows layer ``base``."""
        ...

    def takes_weights(self, layer: Any, op: Operator) -> Any:
        """Record that ``layer`` receives ``op``'s weights; returns the layer."""
        ...


#: ``converter(ctx, op)``: the Keras tensors of ``op``'s outputs (a sequence, or one tensor).
Converter = Callable[[ConvertContext, Operator], Union["Sequence[KerasTensor]", "KerasTensor"]]
