"""A ``.tflite`` file as JSON and back: every table and field of the schema, buffers as numbers.

:func:`to_json` and :func:`from_json` are in :mod:`.document`; the schema's fields and enums in
:mod:`.fields`; buffers and external data in :mod:`.buffers`.

Example:
    >>> from tflite2keras.writer.flatjson import from_json, to_json
    >>> from tflite2keras.testdata import tiny
    >>> from_json(to_json(tiny.tflite())) == tiny.tflite()
    True
"""

from .document import from_json, to_json

__all__ = ["from_json", "to_json"]
