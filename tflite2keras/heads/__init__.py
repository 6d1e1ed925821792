"""Fine-tune detectors and classifiers: new class heads, frozen backbones, classifier-only losses.

- :func:`replace_classifier`: a detector with a new number of classes, everything else bit-identical.
- :func:`freeze_backbone`: only the heads train.
- :func:`ssd_classification_loss` and :func:`ssd_dataset`: train the classifiers on boxes and labels.
- :func:`classifier`: a classifier with normalization fused in front and softmax at the end.

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras import heads
    >>> model = heads.replace_classifier(t2k.zoo.blazepalm("lite"), num_classes=7)
    >>> model.output_shape
    [(None, 2016, 18), (None, 2016, 7)]
    >>> print(heads.freeze_backbone(model).trainable[0][:2])
    ('head8_classifier', 'Conv2D')
"""

from __future__ import annotations

import importlib
from typing import Any

from .replace import (
    FreezeReport,
    Head,
    classification_outputs,
    find_head,
    freeze_backbone,
    replace_classifier,
)

_LAZY = {"classifier": "wrap", "ssd_classification_loss": "loss", "SSDClassificationLoss": "loss",
         "ssd_dataset": "dataset", "encode_targets": "targets", "box_iou": "targets", "match_anchors": "targets",
         "anchor_boxes": "targets", "encode_regression": "targets"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tflite2keras.heads' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["FreezeReport", "Head", "classification_outputs", "find_head", "freeze_backbone",
           "replace_classifier", *_LAZY]
