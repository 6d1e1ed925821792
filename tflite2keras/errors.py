"""One exception family for everything tflite2keras raises on bad input.

Every class derives from :class:`Tflite2KerasError`, and most also derive from the
builtin that fits, so ``except ValueError`` keeps working in user code.

Example:
    >>> import tflite2keras as t2k
    >>> try:
    ...     t2k.read(b"not a model")
    ... except t2k.errors.InvalidModelError as err:
    ...     print(type(err).__name__)
    InvalidModelError
"""

from __future__ import annotations


class Tflite2KerasError(Exception):
    """Base class of every error raised by tflite2keras."""


class InvalidModelError(Tflite2KerasError, ValueError):
    """The bytes are not a readable TFLite flatbuffer (truncated, bad offsets, ...)."""


class UnsupportedOpError(Tflite2KerasError, NotImplementedError):
    """An operator, layer type or tensor encoding has no registered handling."""


class BatchAxisError(UnsupportedOpError):
    """A converter refuses an op because axis 0 cannot stay a free batch there (it moves, folds or
    broadcasts along it): ``convert`` then converts the file again with fixed shapes."""


class MappingError(Tflite2KerasError, KeyError):
    """Keras weights and TFLite tensors could not be paired one to one."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ShapeMismatchError(Tflite2KerasError, ValueError):
    """A TFLite tensor, after its layout change, does not fit the Keras variable."""


class InvalidArgumentError(Tflite2KerasError, ValueError):
    """A function was called with an argument it cannot use (an unknown variant, ...)."""


class VerificationError(Tflite2KerasError, RuntimeError):
    """The reference interpreter could not be run on the model."""


__all__ = [
    "BatchAxisError",
    "InvalidArgumentError",
    "InvalidModelError",
    "MappingError",
    "ShapeMismatchError",
    "Tflite2KerasError",
    "UnsupportedOpError",
    "VerificationError",
]
