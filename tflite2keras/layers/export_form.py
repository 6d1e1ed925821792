"""The export form of our layers: the ops TFLite's converter lowers to the op the file had.

Some layers compute their op with other arithmetic in Keras, because it runs faster there
(PReLU in three passes) or avoids a backend bug (channel padding by concatenation). Traced
for TFLite, that arithmetic would come back as other ops: MINIMUM/MUL/ADD for PRELU, a
constant-folded ``alpha - 1`` that float16 storage rounds, TILE for PAD. Inside
:func:`export_form` such layers emit the form TFLite's converter recognizes instead.
:func:`tflite2keras.export_tflite` traces the model inside it.

Example:
    >>> from tflite2keras.layers.export_form import export_form, exporting
    >>> with export_form():
    ...     exporting()
    True
    >>> exporting()
    False
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_EXPORTING: contextvars.ContextVar[bool] = contextvars.ContextVar("tflite2keras_export_form", default=False)


@contextlib.contextmanager
def export_form() -> Iterator[None]:
    """Within this block, layers trace to the ops their TFLite op lowers from."""
    token = _EXPORTING.set(True)
    try:
        yield
    finally:
        _EXPORTING.reset(token)


def exporting() -> bool:
    """True inside :func:`export_form`."""
    return _EXPORTING.get()


__all__ = ["export_form", "exporting"]
