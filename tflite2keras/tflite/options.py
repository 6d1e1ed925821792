"""Decode an operator's builtin options table into a dict of named, readable fields.

The ``tflite`` package generates one class per options table (``Conv2DOptions`` ...).
Rather than hand-writing a decoder per op, this module calls every scalar and vector
accessor of the table and turns CamelCase names into snake_case, with enum values
(padding, fused activation) given as their names.

Example:
    >>> from tflite2keras.tflite.options import snake_case
    >>> snake_case("DilationHFactor")
    'dilation_h_factor'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, Callable

import tflite

#: Accessors whose integer value is an enum, and the enum class that names it.
_ENUM_FIELDS: dict[str, type] = {
    "Padding": tflite.Padding,
    "FusedActivationFunction": tflite.ActivationFunctionType,
    "WeightsFormat": tflite.FullyConnectedOptionsWeightsFormat,
    "CombinerType": tflite.CombinerType,
    "Type": tflite.LSHProjectionType,
    "KernelType": tflite.LSTMKernelType,
    "MirrorPadMode": tflite.MirrorPadMode,
    "InType": tflite.TensorType,
    "OutType": tflite.TensorType,
    "OutputType": tflite.TensorType,
    "IdxOutType": tflite.TensorType,
    "QuantizedBiasType": tflite.TensorType,
}
_SKIP = {"Init", "GetRootAs"}


def snake_case(name: str) -> str:
    """Turn a flatbuffer accessor name into a Python field name."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z][a-z])", r"_\1\2", name).lower()


@lru_cache(maxsize=None)
def _enum_names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


@lru_cache(maxsize=None)
def _union_classes(union: type) -> dict[int, type | None]:
    """Union type value -> the tflite options class, for BuiltinOptions(2)."""
    out: dict[int, type | None] = {}
    for name, value in vars(union).items():
        if name.startswith("_") or not isinstance(value, int):
            continue
        out[value] = getattr(tflite, name, None) if isinstance(getattr(tflite, name, None), type) else None
    return out


@lru_cache(maxsize=None)
def _accessors(cls: type) -> tuple[tuple[str, str], ...]:
    """(accessor, kind) pairs of an options class; kind is 'scalar' or 'vector'."""
    names = {n for n in dir(cls) if n[:1].isupper() and not n.startswith("GetRootAs")}
    pairs: list[tuple[str, str]] = []
    for name in sorted(names):
        if name in _SKIP or "BufferHasIdentifier" in name:
            continue
        if name.endswith(("AsNumpy", "Length", "IsNone")):
            continue
        kind = "vector" if f"{name}Length" in names else "scalar"
        pairs.append((name, kind))
    return tuple(pairs)


def decode(union_type: int, table: Any, union: type = tflite.BuiltinOptions) -> tuple[str, dict[str, Any]]:
    """Decode one options union member.

    Args:
        union_type: the operator's ``BuiltinOptionsType()``.
        table: the operator's ``BuiltinOptions()`` (a flatbuffer Table) or None.
        union: ``tflite.BuiltinOptions`` or ``tflite.BuiltinOptions2``.

    Returns:
        The options table's class name (or "" when there is none) and its fields.
    """
    cls = _union_classes(union).get(union_type)
    if cls is None or table is None:
        return "", {}
    options = cls()
    options.Init(table.Bytes, table.Pos)
    fields: dict[str, Any] = {}
    for accessor, kind in _accessors(cls):
        if kind == "vector":
            length = getattr(options, f"{accessor}Length")()
            if not 0 <= length <= len(table.Bytes) // 4:
                raise ValueError(f"{cls.__name__}.{accessor} claims {length} elements")
            items = (getattr(options, accessor)(i) for i in range(length))
            fields[snake_case(accessor)] = tuple(v if isinstance(v, float) else int(v) for v in items)
            continue
        value = getattr(options, accessor)()
        if accessor in _ENUM_FIELDS:
            value = _enum_names(_ENUM_FIELDS[accessor]).get(value, value)
        elif isinstance(value, (bool, int, float)):
            pass
        elif isinstance(value, bytes):  # a string field (VarHandleOptions' shared_name)
            value = value.decode("utf-8", "replace")
        else:  # nested tables are rare in vision ops; keep them out of the readable dict
            continue
        fields[snake_case(accessor)] = value
    return cls.__name__, fields


def kind_name(union_type: int, union: type = tflite.BuiltinOptions) -> str:
    """The class name of an options union member (``"Conv2DOptions"``), or ``"<type N>"``.

    Example:
        >>> kind_name(tflite.BuiltinOptions.Pool2DOptions), kind_name(250)
        ('Pool2DOptions', '<type 250>')
    """
    cls = _union_classes(union).get(union_type)
    return cls.__name__ if cls is not None else f"<type {union_type}>"


@lru_cache(maxsize=None)
def has_fields(name: str) -> bool:
    """True when the options class ``name`` has fields (``ExpOptions`` has none).

    Example:
        >>> has_fields("Conv2DOptions"), has_fields("ExpOptions")
        (True, False)
    """
    cls = getattr(tflite, name, None)
    return isinstance(cls, type) and bool(_accessors(cls))


class LazyOptions(Mapping[str, Any]):
    """An operator's options, decoded from the flatbuffer on first access.

    Most uses of a model (``transplant``, ``constant``) never look at options, so
    ``read()`` does not pay for decoding them. A corrupt options table raises
    :class:`~tflite2keras.errors.InvalidModelError` when first read.
    """

    __slots__ = ("_decode", "_fields", "_what", "kinds")

    def __init__(self, decode: Callable[[], dict[str, Any]], what: str, kinds: tuple[str, ...] = ()) -> None:
        self._decode: Callable[[], dict[str, Any]] | None = decode
        self._fields: dict[str, Any] = {}
        self._what = what
        #: the class names of the options tables the op carries (``("Conv2DOptions",)``), known
        #: without decoding them; an unknown union type is ``"<type N>"``.
        self.kinds = kinds

    def _get(self) -> dict[str, Any]:
        if self._decode is not None:
            from ..errors import InvalidModelError

            try:
                self._fields = self._decode()
            except Exception as err:  # the flatbuffer runtime raises many types on corrupt data
                raise InvalidModelError(f"{self._what}: corrupt options ({type(err).__name__}: {err})") from err
            self._decode = None
        return self._fields

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())
