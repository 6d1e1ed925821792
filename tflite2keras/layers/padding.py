"""Channel padding, as TFLite's PAD does on the channel axis for BlazeBlock shortcuts.

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


__all__ = ["ChannelPadding"]
