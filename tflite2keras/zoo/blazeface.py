"""BlazeFace, MediaPipe's short-range face detector, as a hand-written Keras 3 model.

The layers match ``face_detection_short_range.tflite`` from the mediapipe 0.10.14
wheel op for op, so its weights load one to one:

* stem: 5x5 stride-2 convolution + ReLU (128 -> 64);
* sixteen 3x3 BlazeBlocks with ReLU over four resolutions (64, 32, 16 and 8 pixels),
  whose shortcuts are zero-padded on the channel axis wherever the width grows;
* SSD heads on the last 16x16 features (stride 8, 2 anchors) and on the final 8x8
  features (stride 16, 6 anchors), concatenated stride 8 first.

The outputs come in the TFLite order: regressors ``(batch, 896, 16)`` then
classificators ``(batch, 896, 1)``.

Example:
    >>> from tflite2keras.zoo import blazeface
    >>> model = blazeface()
    >>> [tuple(t.shape) for t in model.outputs]
    [(None, 896, 16), (None, 896, 1)]
"""

from __future__ import annotations

import keras

from ..errors import InvalidArgumentError
from .blocks import Namer, blaze_block, conv_act, detection_head

#: Values regressed per anchor: box (4) plus six (x, y) face keypoints.
REGRESSOR_VALUES = 16
KERNEL_SIZE = 3

#: Per variant: input size, stem channels and the BlazeBlocks of each stage as
#: ``(filters, ...)``; every stage after the first opens with a stride-2 block.
VARIANTS: dict[str, tuple[int, int, tuple[tuple[int, ...], ...]]] = {
    "short_range": (
        128,
        24,
        (
            (24, 28),
            (32, 36, 42),
            (48, 56, 64, 72, 80, 88),
            (96, 96, 96, 96, 96),
        ),
    ),
}


def blazeface(variant: str = "short_range", names: str = "readable") -> keras.Model:
    """Build MediaPipe's BlazeFace detector as a functional Keras model (weights untrained).

    Args:
        variant: ``"short_range"`` (``face_detection_short_range.tflite``).
        names: ``"readable"`` for descriptive layer names (``stage3_block2_dw``,
            ``head8_classifier``), or ``"keras"`` to give every weight-bearing layer its
            name in MediaPipe's original Keras model (``depthwise_conv2d_4``,
            ``classificator_8``). Both modes create the same layers in the same order.

    Returns:
        A model from a ``(batch, 128, 128, 3)`` image to ``[regressors, classificators]``
        of shapes ``(batch, 896, 16)`` and ``(batch, 896, 1)``.

    Raises:
        InvalidArgumentError: unknown ``variant`` or ``names``.

    Example:
        >>> model = blazeface(names="keras")
        >>> model.get_layer("classificator_16").filters
        6
    """
    if variant not in VARIANTS:
        raise InvalidArgumentError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    namer = Namer(names)
    size, stem_filters, stages = VARIANTS[variant]

    image = keras.Input((size, size, 3), name="image")
    x = conv_act(
        image, stem_filters, namer, "stem",
        kernel_size=5, stride=2, padding="same", activation="relu",
    )
    features = []
    for stage, widths in enumerate(stages, start=1):
        for k, filters in enumerate(widths):
            stride = 2 if stage > 1 and k == 0 else 1
            prefix = f"stage{stage}_block{k + 1}"
            x = blaze_block(
                x, filters, namer, prefix, stride=stride, kernel_size=KERNEL_SIZE, activation="relu"
            )
        features.append(x)
    stride8, stride16 = features[-2:]

    # MediaPipe created both classifiers before both regressors.
    values = REGRESSOR_VALUES
    classes8 = detection_head(stride8, 2, 1, namer, "head8_classifier", "classificator_8")
    classes16 = detection_head(stride16, 6, 1, namer, "head16_classifier", "classificator_16")
    boxes8 = detection_head(stride8, 2, values, namer, "head8_regressor", "regressor_8")
    boxes16 = detection_head(stride16, 6, values, namer, "head16_regressor", "regressor_16")

    concat = keras.layers.Concatenate
    regressors = concat(axis=1, name=namer.plain("regressors"))([boxes8, boxes16])
    classificators = concat(axis=1, name=namer.plain("classificators"))([classes8, classes16])
    return keras.Model(image, [regressors, classificators], name=f"blazeface_{variant}")


__all__ = ["VARIANTS", "blazeface"]
