"""Post-processing of MediaPipe's SSD detectors: anchors, box decoding and NMS.

Importing this package imports numpy only; the Keras layers :class:`SSDDecode` and
:class:`NonMaxSuppression` (from :mod:`tflite2keras.layers.detection`) load on first use.

Example:
    >>> from tflite2keras import postprocess
    >>> postprocess.anchors("palm_detection").shape
    (2016, 4)
    >>> postprocess.PRESETS["pose_detection"].input_size
    (224, 224)
"""

from __future__ import annotations

from typing import Any

from .anchors import (
    PRESETS,
    AnchorOptions,
    DecodeOptions,
    Preset,
    anchors,
    decoder,
    preset,
    suppressor,
)

_LAYERS = ("NonMaxSuppression", "SSDDecode")
_LAZY = {"ssd_detector": "detector", "draw": "drawing"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name not in _LAYERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..layers import detection

    return getattr(detection, name)


__all__ = ["AnchorOptions", "DecodeOptions", "NonMaxSuppression", "PRESETS", "Preset", "SSDDecode", "anchors",
           "decoder", "draw", "preset", "ssd_detector", "suppressor"]
