"""Building blocks shared by the hand-written BlazePalm and BlazeFace models.

Every helper takes a :class:`Namer`, which gives each layer either a readable name
(``stage2_block1_dw``) or, for weight-bearing layers, the name the layer had in
MediaPipe's original Keras model (``depthwise_conv2d_4``). Layers are created in the
same order in both modes, so the k-th weight-bearing layer of one naming mode is the
k-th of the other.

Example:
    >>> import keras
    >>> from tflite2keras.zoo.blocks import Namer, blaze_block
    >>> namer = Namer("readable")
    >>> x = keras.Input((32, 32, 24))
    >>> y = blaze_block(x, 28, namer, "block1", stride=2, kernel_size=3, activation="relu")
    >>> tuple(y.shape)
    (None, 16, 16, 28)
"""

from __future__ import annotations

from typing import Literal

import keras

from ..errors import InvalidArgumentError
from ..layers import ChannelPadding, PReLU

#: The two layer-naming modes of the zoo models.
NAMING_MODES: tuple[str, ...] = ("readable", "keras")

Activation = Literal["prelu", "relu"]


class Namer:
    """Hand out layer names in ``"readable"`` or ``"keras"`` mode.

    In ``"keras"`` mode, weight-bearing layers are numbered per layer kind the way
    Keras numbered them when MediaPipe built the model (``conv2d``, ``conv2d_1``, ...);
    every other layer keeps its readable name, which never clashes with those.

    Args:
        mode: ``"readable"`` or ``"keras"``.

    Raises:
        InvalidArgumentError: ``mode`` is not one of :data:`NAMING_MODES`.
    """

    def __init__(self, mode: str) -> None:
        if mode not in NAMING_MODES:
            raise InvalidArgumentError(f"names must be one of {NAMING_MODES}, got {mode!r}")
        self.mode = mode
        self._counts: dict[str, int] = {}

    def plain(self, readable: str) -> str:
        """Name a layer without weights: the readable name in both modes."""
        return readable

    def weight(self, readable: str, kind: str) -> str:
        """Name a weight-bearing layer auto-numbered by Keras as ``kind``, ``kind_1``, ..."""
        count = self._counts.get(kind, 0)
        self._counts[kind] = count + 1
        if self.mode == "readable":
            return readable
        return kind if count == 0 else f"{kind}_{count}"

    def fixed(self, readable: str, original: str) -> str:
        """Name a weight-bearing layer that had an explicit name in the original model."""
        return readable if self.mode == "readable" else original


def activate(x: keras.KerasTensor, kind: Activation, namer: Namer, name: str) -> keras.KerasTensor:
    """Apply a PReLU with one slope per channel, or a plain ReLU.

    Args:
        x: input feature map (NHWC).
        kind: ``"prelu"`` (weights shared over height and width) or ``"relu"``.
        namer: the model's :class:`Namer`.
        name: readable layer name.

    Returns:
        The activated feature map.
    """
    if kind == "prelu":
        return PReLU(shared_axes=[1, 2], name=namer.weight(name, "p_re_lu"))(x)
    return keras.layers.ReLU(name=namer.plain(name))(x)


def conv_act(
    x: keras.KerasTensor,
    filters: int,
    namer: Namer,
    prefix: str,
    *,
    kernel_size: int,
    stride: int = 1,
    padding: str = "valid",
    activation: Activation = "prelu",
) -> keras.KerasTensor:
    """A biased ``Conv2D`` followed by an activation (the stem and the FPN laterals).

    Args:
        x: input feature map (NHWC).
        filters: output channels.
        namer: the model's :class:`Namer`.
        prefix: readable prefix; layers are ``{prefix}_conv`` and ``{prefix}_act``.
        kernel_size: square kernel size.
        stride: convolution stride.
        padding: ``"same"`` or ``"valid"`` (TensorFlow semantics).
        activation: ``"prelu"`` or ``"relu"``.

    Returns:
        The activated convolution output.
    """
    conv = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        use_bias=True,
        name=namer.weight(f"{prefix}_conv", "conv2d"),
    )
    return activate(conv(x), activation, namer, f"{prefix}_act")


def blaze_block(
    x: keras.KerasTensor,
    filters: int,
    namer: Namer,
    prefix: str,
    *,
    stride: int = 1,
    kernel_size: int = 5,
    activation: Activation = "prelu",
) -> keras.KerasTensor:
    """A residual BlazeBlock: depthwise conv, 1x1 conv, shortcut add, activation.

    The branch is ``DepthwiseConv2D(kernel_size, stride, "same")`` then a 1x1
    ``Conv2D(filters)``, both biased and linear. The shortcut is the input itself,
    max-pooled 2x2 when ``stride == 2`` and zero-padded on the channel axis when
    ``filters`` exceeds the input channels.

    Args:
        x: input feature map (NHWC) with a known channel count.
        filters: output channels (at least the input channels).
        namer: the model's :class:`Namer`.
        prefix: readable prefix for the block's layers (``{prefix}_dw``, ``_pw``,
            ``_pool``, ``_pad``, ``_add``, ``_act``).
        stride: 1 or 2.
        kernel_size: depthwise kernel size.
        activation: ``"prelu"`` or ``"relu"``.

    Returns:
        The block output, spatially divided by ``stride``, with ``filters`` channels.
    """
    channels = int(x.shape[-1])
    dw = keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="same",
        use_bias=True,
        name=namer.weight(f"{prefix}_dw", "depthwise_conv2d"),
    )
    pw = keras.layers.Conv2D(
        filters, 1, padding="valid", use_bias=True, name=namer.weight(f"{prefix}_pw", "conv2d")
    )
    branch = pw(dw(x))
    shortcut = x
    if stride == 2:
        pool_name = namer.plain(f"{prefix}_pool")
        shortcut = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=pool_name)(shortcut)
    if filters > channels:
        pad = ChannelPadding(pad_after=filters - channels, name=namer.plain(f"{prefix}_pad"))
        shortcut = pad(shortcut)
    y = keras.layers.Add(name=namer.plain(f"{prefix}_add"))([shortcut, branch])
    return activate(y, activation, namer, f"{prefix}_act")


def detection_head(
    x: keras.KerasTensor,
    anchors: int,
    values: int,
    namer: Namer,
    name: str,
    original: str,
) -> keras.KerasTensor:
    """A 1x1 SSD head: ``Conv2D(anchors * values)`` reshaped to ``(batch, H*W*anchors, values)``.

    Args:
        x: input feature map (NHWC).
        anchors: anchors per spatial position.
        values: values per anchor (box coordinates or class scores).
        namer: the model's :class:`Namer`.
        name: readable name of the convolution; its reshape is ``{name}_reshape``.
        original: the convolution's name in MediaPipe's Keras model.

    Returns:
        The flattened per-anchor predictions.
    """
    conv = keras.layers.Conv2D(
        anchors * values, 1, padding="same", use_bias=True, name=namer.fixed(name, original)
    )
    return keras.layers.Reshape((-1, values), name=namer.plain(f"{name}_reshape"))(conv(x))


__all__ = ["NAMING_MODES", "Namer", "activate", "blaze_block", "conv_act", "detection_head"]
