"""Hand-written Keras 3 models of MediaPipe detectors whose TFLite weights load one to one.

Importing this package imports Keras.

Example:
    >>> from tflite2keras.zoo import blazeface, blazepalm
    >>> blazepalm("lite").name, blazeface().name
    ('blazepalm_lite', 'blazeface_short_range')
"""

from __future__ import annotations

from .blazeface import blazeface
from .blazepalm import blazepalm

__all__ = ["blazeface", "blazepalm"]
