"""tflite2keras: turn TFLite models back into trainable Keras 3 models with their exact weights.

With a MediaPipe palm detector and the zoo's hand-written Keras BlazePalm::

    import tflite2keras as t2k
    model = t2k.zoo.blazepalm("lite")
    print(t2k.transplant(model, "palm_detection_lite.tflite"))   # every weight, its tensor and rule
    print(t2k.verify(model, "palm_detection_lite.tflite"))       # max error per output vs the interpreter

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras import tiny
    >>> model = tiny.keras_model(seed=1)                         # a Keras model; tiny.tflite() is its TFLite twin
    >>> t2k.transplant(model, tiny.tflite()).rules
    {'name': 4}
    >>> t2k.verify(model, tiny.tflite(), samples=2).ok
    True

Importing the package does not import TensorFlow; the Keras-facing functions load it on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors, streaming
from .errors import (
    InvalidArgumentError,
    InvalidModelError,
    MappingError,
    ShapeMismatchError,
    Tflite2KerasError,
    UnsupportedOpError,
    VerificationError,
)
from .convert import convert, load
from .export import ExportReport, export_tflite
from .flatjson import from_json, to_json
from .lint import Finding, lint
from .mapping import MappingTable
from .model import Operator, Source, Tensor, TFLiteModel
from .quantized import quantized_io
from .reader import read
from .registry import register_op
from .rewrite import RewriteReport, rewrite_custom_ops
from .truncation import truncate  # the module is not named truncate: the function owns that name
from .transplant import TransplantReport, transplant
from .verify import VerifyReport, verify

__version__ = "0.1.0"

# Submodules that import Keras (or fetch files): loaded on first attribute access.
_LAZY: dict[str, str | None] = {"zoo": None, "layers": None, "corpus": None, "tiny": None, "heads": None,
                                "postprocess": None, "preprocess": None, "suite": None, "suite_diff": None,
                                "suite_quantized": None}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tflite2keras' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "ExportReport", "Finding", "RewriteReport", "rewrite_custom_ops", "InvalidArgumentError", "InvalidModelError", "MappingError", "MappingTable", "Operator", "ShapeMismatchError",
    "Source", "Tensor", "TFLiteModel", "Tflite2KerasError", "TransplantReport", "UnsupportedOpError",
    "VerificationError", "VerifyReport", "convert", "errors", "export_tflite", "from_json", "to_json", "heads", "layers", "lint", "load",
    "postprocess", "preprocess", "quantized_io", "read", "register_op", "registry", "streaming", "suite", "suite_diff", "suite_quantized", "tiny", "transplant",
    "truncate", "verify", "zoo",
]
