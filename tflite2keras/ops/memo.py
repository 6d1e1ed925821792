"""Analyses of a file that several verbs need, worked out once per file: a cache beside the model.

The parsed file (:class:`~tflite2keras.tflite.model.TFLiteModel`) does not change, so folded shape
arithmetic and pattern matches are computed once and kept while the model lives; the key says
what else a result depends on (the registry's generation, the rule table).

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> tfl, calls = read(tiny.tflite()), []
    >>> _ = [per_model(tfl, "demo", 1, lambda: calls.append(1)) for _ in range(3)]
    >>> len(calls)
    1
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Hashable

from ..tflite.model import TFLiteModel

_MEMO: weakref.WeakKeyDictionary[TFLiteModel, dict[str, tuple[Hashable, Any]]] = weakref.WeakKeyDictionary()


def per_model(tfl: TFLiteModel, name: str, key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()`` for ``tfl``, once per ``(name, key)``; a new ``key`` replaces the old result."""
    entries = _MEMO.setdefault(tfl, {})
    if name not in entries or entries[name][0] != key:
        entries[name] = (key, compute())
    return entries[name][1]
