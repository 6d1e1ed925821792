"""BlazePalm, MediaPipe's palm detector, as a hand-written Keras 3 model.

The layers match ``palm_detection_lite.tflite`` and ``palm_detection_full.tflite``
from the mediapipe 0.10.14 wheel op for op, so their weights load one to one:

* stem: 5x5 stride-2 convolution + PReLU (192 -> 96);
* backbone: five stages of 5x5 BlazeBlocks with PReLU at 96, 48, 24, 12 and 6 pixels,
  each stage after the first opening with a stride-2 block;
* a two-level top-down FPN: bilinear 2x upsampling (half-pixel centers), 1x1 conv +
  PReLU, added to the backbone's last 12x12 (then 24x24) features, followed by two
  BlazeBlocks;
* SSD heads at stride 16 (12x12, 6 anchors) and stride 8 (24x24, 2 anchors), whose
  outputs are concatenated stride 8 first.

The outputs come in the TFLite order: regressors ``(batch, 2016, 18)`` then
classificators ``(batch, 2016, num_classes)``.

Example:
    >>> from tflite2keras.zoo import blazepalm
    >>> model = blazepalm("lite")
    >>> [tuple(t.shape) for t in model.outputs]
    [(None, 2016, 18), (None, 2016, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from ..errors import InvalidArgumentError
from .blocks import Namer, blaze_block, conv_act, detection_head

INPUT_SIZE = 192
#: Values regressed per anchor: box (4) plus seven (x, y) hand keypoints.
REGRESSOR_VALUES = 18
KERNEL_SIZE = 5


@dataclass(frozen=True)
class _Variant:
    """Depth of one BlazePalm variant."""

    stem_blocks: int  # BlazeBlocks at 96x96 after the stem
    stage_blocks: int  # BlazeBlocks in each of the four downsampling stages


VARIANTS: dict[str, _Variant] = {
    "lite": _Variant(stem_blocks=3, stage_blocks=4),
    "full": _Variant(stem_blocks=4, stage_blocks=5),
}

#: Channels of the five backbone stages (96, 48, 24, 12 and 6 pixels).
_STAGE_FILTERS = (32, 64, 128, 256, 256)


def _stage(
    x: keras.KerasTensor, filters: int, blocks: int, stage: int, namer: Namer, first_stride: int
) -> keras.KerasTensor:
    """Run ``blocks`` BlazeBlocks ``stage{stage}_block{k}``, the first one with ``first_stride``."""
    for k in range(blocks):
        stride = first_stride if k == 0 else 1
        prefix = f"stage{stage}_block{k + 1}"
        x = blaze_block(x, filters, namer, prefix, stride=stride, kernel_size=KERNEL_SIZE)
    return x


def _fpn_level(
    x: keras.KerasTensor, skip: keras.KerasTensor, filters: int, level: int, namer: Namer
) -> keras.KerasTensor:
    """Upsample ``x`` 2x, project it to ``filters`` channels and refine its sum with ``skip``."""
    prefix = f"fpn{level}"
    # TFLite's RESIZE_BILINEAR here has half_pixel_centers=True, align_corners=False: the
    # semantics of tf.image.resize, which UpSampling2D(interpolation="bilinear") uses.
    upsample_name = namer.plain(f"{prefix}_upsample")
    up = keras.layers.UpSampling2D(2, interpolation="bilinear", name=upsample_name)(x)
    lateral = conv_act(up, filters, namer, f"{prefix}_lateral", kernel_size=1)
    y = keras.layers.Add(name=namer.plain(f"{prefix}_add"))([skip, lateral])
    for k in range(2):
        y = blaze_block(y, filters, namer, f"{prefix}_block{k + 1}", kernel_size=KERNEL_SIZE)
    return y


def _heads(
    x: keras.KerasTensor, level: int, anchors: int, num_classes: int, namer: Namer
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Classifier then regressor head of one pyramid level (MediaPipe's creation order)."""
    head, original = f"head{level}", f"palm_{level}_NO_PRUNING"
    classes = detection_head(
        x, anchors, num_classes, namer, f"{head}_classifier", f"classifier_{original}"
    )
    boxes = detection_head(
        x, anchors, REGRESSOR_VALUES, namer, f"{head}_regressor", f"regressor_{original}"
    )
    return classes, boxes


def blazepalm(variant: str = "lite", num_classes: int = 1, names: str = "readable") -> keras.Model:
    """Build MediaPipe's BlazePalm detector as a functional Keras model (weights untrained).

    Args:
        variant: ``"lite"`` (``palm_detection_lite.tflite``) or ``"full"``
            (``palm_detection_full.tflite``).
        num_classes: scores per anchor; values above 1 widen only the two classifier
            convolutions (``anchors * num_classes`` channels).
        names: ``"readable"`` for descriptive layer names (``stage2_block1_dw``,
            ``head16_classifier``), or ``"keras"`` to give every weight-bearing layer its
            name in MediaPipe's original Keras model (``depthwise_conv2d_3``,
            ``classifier_palm_16_NO_PRUNING``). Both modes create the same layers in the
            same order.

    Returns:
        A model from a ``(batch, 192, 192, 3)`` image to ``[regressors, classificators]``
        of shapes ``(batch, 2016, 18)`` and ``(batch, 2016, num_classes)``.

    Raises:
        InvalidArgumentError: unknown ``variant`` or ``names``, or ``num_classes`` below 1.

    Example:
        >>> model = blazepalm("full", num_classes=3)
        >>> model.output_shape
        [(None, 2016, 18), (None, 2016, 3)]
    """
    if variant not in VARIANTS:
        raise InvalidArgumentError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InvalidArgumentError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    namer = Namer(names)
    config = VARIANTS[variant]

    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = conv_act(image, _STAGE_FILTERS[0], namer, "stem", kernel_size=5, stride=2, padding="same")
    x = _stage(x, _STAGE_FILTERS[0], config.stem_blocks, 1, namer, first_stride=1)
    features = []
    for stage, filters in enumerate(_STAGE_FILTERS[1:], start=2):
        x = _stage(x, filters, config.stage_blocks, stage, namer, first_stride=2)
        features.append(x)
    stride8, stride16, stride32 = features[1:]

    x = _fpn_level(stride32, stride16, _STAGE_FILTERS[3], 16, namer)
    classes16, boxes16 = _heads(x, 16, 6, num_classes, namer)
    x = _fpn_level(x, stride8, _STAGE_FILTERS[2], 8, namer)
    classes8, boxes8 = _heads(x, 8, 2, num_classes, namer)

    concat = keras.layers.Concatenate
    regressors = concat(axis=1, name=namer.plain("regressors"))([boxes8, boxes16])
    classificators = concat(axis=1, name=namer.plain("classificators"))([classes8, classes16])
    return keras.Model(image, [regressors, classificators], name=f"blazepalm_{variant}")


__all__ = ["VARIANTS", "blazepalm"]
