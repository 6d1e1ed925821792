"""Padding layers for TFLite's PAD, PADV2 and MIRROR_PAD.

- :class:`ChannelPadding`: zeros on the channel axis, as TFLite's PAD does for BlazeBlock shortcuts.
- :class:`Pad`: any non-batch axes, with a constant (``PAD``/``PADV2``) or mirrored (``MIRROR_PAD``:
  ``reflect`` leaves the edge out, ``symmetric`` repeats it).

Example:
    >>> import keras
    >>> from tflite2keras.layers import ChannelPadding
    >>> layer = ChannelPadding(pad_after=3)
    >>> tuple(layer(keras.ops.zeros((1, 4, 4, 5))).shape)
    (1, 4, 4, 8)
"""

from __future__ import annotations

from typing import Any

import keras

from ..errors import InvalidArgumentError
from .export_form import exporting

PACKAGE = "tflite2keras"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelPadding(keras.layers.Layer):
    """Zero-pad the last (channel) axis, as TFLite's PAD does for BlazeBlock shortcuts.

    Args:
        pad_before: zeros inserted before the existing channels.
        pad_after: zeros appended after the existing channels.
    """

    def __init__(self, pad_after: int, pad_before: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pad_before = int(pad_before)
        self.pad_after = int(pad_after)

    def call(self, inputs: Any) -> Any:
        if exporting():  # one PAD op in TFLite
            pads = [(0, 0)] * (len(inputs.shape) - 1) + [(self.pad_before, self.pad_after)]
            return keras.ops.pad(inputs, pads)
        # Concatenating zeros, not ops.pad: TF 2.21's oneDNN fuses conv + bias + add with a
        # channel pad of the conv's input and crashes in predict().
        zero = keras.ops.zeros_like(inputs[..., :1])
        parts = [inputs]
        if self.pad_before:
            parts.insert(0, keras.ops.repeat(zero, self.pad_before, axis=-1))
        if self.pad_after:
            parts.append(keras.ops.repeat(zero, self.pad_after, axis=-1))
        return keras.ops.concatenate(parts, axis=-1) if len(parts) > 1 else inputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = input_shape[-1]
        extra = self.pad_before + self.pad_after
        return (*input_shape[:-1], None if channels is None else channels + extra)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pad_before": self.pad_before, "pad_after": self.pad_after}


#: Pad modes, as ``keras.ops.pad`` names them.
PAD_MODES = ("constant", "reflect", "symmetric")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Pad(keras.layers.Layer):
    """Pad the non-batch axes: ``paddings[k] = (before, after)`` for axis ``k + 1``.

    Args:
        paddings: one ``(before, after)`` pair of non-negative counts per non-batch axis.
        mode: one of :data:`PAD_MODES`. ``reflect`` mirrors about the edge element (TFLite's
            ``REFLECT``), ``symmetric`` mirrors including it (``SYMMETRIC``).
        constant_value: the fill value of ``constant`` mode (cast to the input's dtype).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0, 3.0]], "float32")
        >>> np.asarray(Pad([(2, 1)], "reflect")(x)).tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
        >>> np.asarray(Pad([(1, 0)], constant_value=-1.5)(x)).tolist()
        [[-1.5, 1.0, 2.0, 3.0]]
    """

    def __init__(self, paddings: Any, mode: str = "constant", constant_value: float | int | bool = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paddings = [[int(before), int(after)] for before, after in paddings]
        self.mode = str(mode).lower()
        self.constant_value = constant_value.item() if hasattr(constant_value, "item") else constant_value
        if self.mode not in PAD_MODES:
            raise InvalidArgumentError(f"Pad: unknown mode {mode!r}; expected one of {list(PAD_MODES)}")
        if any(p < 0 for pair in self.paddings for p in pair):
            raise InvalidArgumentError(f"Pad: paddings {self.paddings} must be non-negative")

    def call(self, inputs: Any) -> Any:
        pads = [(0, 0)] + [tuple(pair) for pair in self.paddings]
        if self.mode == "constant":
            value = keras.ops.convert_to_tensor(self.constant_value, dtype=inputs.dtype)
            return keras.ops.pad(inputs, pads, constant_values=value)
        return keras.ops.pad(inputs, pads, mode=self.mode)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        rest = [None if d is None else d + before + after for d, (before, after) in zip(input_shape[1:], self.paddings)]
        return (input_shape[0], *rest)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "paddings": self.paddings, "mode": self.mode,
                "constant_value": self.constant_value}


__all__ = ["ChannelPadding", "Pad"]
