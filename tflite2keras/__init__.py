"""tflite2keras: turn TFLite models back into trainable Keras 3 models with their exact weights.

With a MediaPipe palm detector and the zoo's hand-written Keras BlazePalm::

    import tflite2keras as t2k
    model = t2k.zoo.blazepalm("lite")
    print(t2k.transplant(model, "palm_detection_lite.tflite"))   # every weight, its tensor and rule
    print(t2k.verify(model, "palm_detection_lite.tflite"))       # max error per output vs the interpreter

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
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

from . import errors, ops
from .conversion import streaming
from .conversion.convert import convert, load
from .conversion.quantized import quantized_io
from .errors import (
    InvalidArgumentError,
    InvalidModelError,
    MappingError,
    ShapeMismatchError,
    Tflite2KerasError,
    UnsupportedOpError,
    VerificationError,
)
from .ops.registry import register_op
from .tflite.model import Operator, Source, Tensor, TFLiteModel
from .tflite.reader import read
from .verification.lint import Finding, lint
from .verification.verify import VerifyReport, verify
from .weights.mapping import MappingTable
from .weights.transplant import TransplantReport, transplant
from .writer.export import ExportReport, export_tflite
from .writer.flatjson import from_json, to_json
from .writer.rewrite import RewriteReport, rewrite_custom_ops
from .writer.truncation import (
    truncate,  # the module is not named truncate: the function owns that name
)

__version__ = "0.1.0"

# Submodules that import Keras (or fetch files), loaded on first attribute access, and the short
# names of modules that moved into the package's stages (``t2k.tiny`` is ``tflite2keras.testdata.tiny``).
_LAZY: dict[str, str] = {"zoo": "zoo", "layers": "layers", "heads": "heads", "postprocess": "postprocess",
                         "preprocess": "preprocess", "corpus": "testdata.corpus", "tiny": "testdata.tiny",
                         "suite": "testdata.suite", "suite_diff": "testdata.diff",
                         "suite_quantized": "testdata.quantized_suite", "registry": "ops.registry",
                         "graphview": "tflite.graphview"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tflite2keras' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name]}", __name__)
    globals()[name] = module
    return module


__all__ = [
    "ExportReport", "Finding", "RewriteReport", "rewrite_custom_ops", "InvalidArgumentError", "InvalidModelError", "MappingError", "MappingTable", "Operator", "ShapeMismatchError",
    "Source", "Tensor", "TFLiteModel", "Tflite2KerasError", "TransplantReport", "UnsupportedOpError",
    "VerificationError", "VerifyReport", "convert", "errors", "graphview", "ops", "export_tflite", "from_json", "to_json", "heads", "layers", "lint", "load",
    "postprocess", "preprocess", "quantized_io", "read", "register_op", "registry", "streaming", "suite", "suite_diff", "suite_quantized", "tiny", "transplant",
    "truncate", "verify", "zoo",
]
