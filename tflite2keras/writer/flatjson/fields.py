"""TFLite's schema as ``ai_edge_litert``'s generated object API sees it, and a JSON codec over it.

The generated Python keeps the types only in comments and accessor bodies, so
:func:`fields` reads them from the module's source once: each ``XxxT`` class's fields
in declaration order, with their kind (scalar, vector, string, table, list of tables,
union), number type and, from a table here, the enum that names their values.
:func:`encode` turns an object-API instance into JSON-ready values; :func:`decode`
turns them back, raising :class:`InvalidModelError` that names the JSON path.

Example:
    >>> from tflite2keras.writer.flatjson.fields import schema, encode, decode
    >>> options = schema.Conv2DOptionsT()
    >>> options.strideW = options.strideH = 2
    >>> encoded = encode(options, member=True)   # a union member: defaults are written too
    >>> encoded["stride_w"], encoded["padding"]
    (2, 'SAME')
    >>> decode({"stride_w": 3, "padding": "VALID"}, schema.Conv2DOptionsT, "options").strideW
    3
"""

from __future__ import annotations

import base64
import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any

from ai_edge_litert import schema_py_generated as schema

from ...errors import InvalidModelError

#: Flags name of the generated accessors -> (Python kind, lowest, highest).
NUMBERS: dict[str, tuple[type, float, float]] = {
    "Bool": (bool, 0, 1), "Int8": (int, -2**7, 2**7 - 1), "Uint8": (int, 0, 2**8 - 1),
    "Int16": (int, -2**15, 2**15 - 1), "Uint16": (int, 0, 2**16 - 1), "Int32": (int, -2**31, 2**31 - 1),
    "Uint32": (int, 0, 2**32 - 1), "Int64": (int, -2**63, 2**63 - 1), "Uint64": (int, 0, 2**64 - 1),
    "Float32": (float, -float("inf"), float("inf")), "Float64": (float, -float("inf"), float("inf")),
}
_TENSOR_TYPES = {"type", "quantizedBiasType", "outType", "outputType", "idxOutType", "inDataType",
                 "outDataType", "keyDtype", "valueDtype"}
_ENUMS = {
    "padding": "Padding", "fusedActivationFunction": "ActivationFunctionType", "combiner": "CombinerType",
    "kernelType": "LSTMKernelType", "mode": "MirrorPadMode", "weightsFormat": "FullyConnectedOptionsWeightsFormat",
    "format": "DimensionType", "reduceFunction": "ReduceWindowFunction", "algorithm": "RngAlgorithm",
    "comparisonDirection": "StablehloComparisonDirection", "compareType": "StablehloComparisonType",
    "customOptionsFormat": "CustomOptionsFormat", "compositeAttributesFormat": "CustomOptionsFormat",
    "builtinCode": "BuiltinOperator", "deprecatedBuiltinCode": "BuiltinOperator",
    "precisionConfig": "StablehloPrecisionConfig", **{name: "TensorType" for name in _TENSOR_TYPES},
}
_OVERRIDES = {("LSHProjectionOptionsT", "type"): ("projection_type", "LSHProjectionType")}
#: Scalars written even at their default value.
_ALWAYS = {("TensorT", "type"), ("TensorT", "buffer"), ("OperatorT", "opcodeIndex"), ("OperatorCodeT", "version"),
           ("OperatorCodeT", "builtinCode")}
#: uint8 vectors longer than this are written as ``{"base64": ...}``.
SMALL = 16


@dataclass(frozen=True)
class Field:
    """One field of an object-API class: ``attr`` in Python, ``name`` in JSON."""

    attr: str
    name: str
    kind: str  # scalar | vector | string | table | tables | union
    number: str | None = None
    enum: Any = None  # the enum class (scalars, vectors) or the union's type enum
    table: Any = None  # the T class of a table, a list of tables
    type_attr: str | None = None  # the attribute holding a union's type
    default: Any = None


def snake(attr: str) -> str:
    """``strideW`` -> ``stride_w``, the schema's spelling."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", attr).lower()


@functools.lru_cache(maxsize=1)
def _source_facts() -> tuple[dict[tuple[str, str], str], dict[str, list[tuple[str, str]]], dict[tuple[str, str], tuple[str, str]]]:
    numbers: dict[tuple[str, str], str] = {}
    comments: dict[str, list[tuple[str, str]]] = {}
    unions: dict[tuple[str, str], tuple[str, str]] = {}
    cls = method = None
    for line in inspect.getsource(schema).splitlines():
        if m := re.match(r"class (\w+)\(object\):", line):
            cls, method = m[1], None
        elif m := re.match(r"    def (\w+)\(self(?:, j)?\):", line):
            method = m[1]
        elif cls and (m := re.match(r"        self\.(\w+) = \w+  # type: (.*)$", line)):
            comments.setdefault(cls, []).append((m[1], m[2]))
        elif cls and (m := re.match(r"\s+self\.(\w+) = (\w+)Creator\(self\.(\w+),", line)):
            unions[(cls, m[1])] = (m[2], m[3])
        elif cls and method and (m := re.search(r"number_types\.(?!UOffsetT|VOffsetT|SOffsetT)(\w+)Flags", line)):
            numbers.setdefault((cls, method), m[1])
    return numbers, comments, unions


@functools.lru_cache(maxsize=None)
def fields(cls: type) -> tuple[Field, ...]:
    """The fields of object-API class ``cls`` (e.g. ``schema.TensorT``), union type attributes excluded."""
    numbers, comments, unions = _source_facts()
    name, table = cls.__name__, cls.__name__[:-1]
    defaults = vars(cls())
    union_types = {type_attr for (c, _), (_, type_attr) in unions.items() if c == name}
    out = []
    for attr, comment in comments.get(name, []):
        if attr in union_types:
            continue
        json_name, enum_name = _OVERRIDES.get((name, attr), (snake(attr), _ENUMS.get(attr)))
        number = numbers.get((table, attr[0].upper() + attr[1:]))
        if (name, attr) in unions:
            enum, type_attr = unions[(name, attr)]
            out.append(Field(attr, json_name, "union", enum=getattr(schema, enum), type_attr=type_attr))
        elif comment in ("int", "float", "bool"):
            enum = getattr(schema, enum_name) if enum_name and comment == "int" else None
            out.append(Field(attr, json_name, "scalar", number, enum, default=defaults[attr]))
        elif comment == "Optional[str]":
            out.append(Field(attr, json_name, "string"))
        elif m := re.fullmatch(r"Optional\[List\[(int|float|bool)\]\]", comment):
            enum = getattr(schema, enum_name) if attr == "precisionConfig" else None
            out.append(Field(attr, json_name, "vector", number, enum))
        elif m := re.fullmatch(r"Optional\[List\[(\w+T)\]\]", comment):
            out.append(Field(attr, json_name, "tables", table=getattr(schema, m[1])))
        elif m := re.fullmatch(r"Optional\[(\w+T)\]", comment):
            out.append(Field(attr, json_name, "table", table=getattr(schema, m[1])))
        else:  # pragma: no cover - a schema newer than this code
            raise NotImplementedError(f"{name}.{attr}: unknown field type {comment!r}")
    return tuple(out)


@functools.lru_cache(maxsize=None)
def enum_names(enum: type) -> dict[int, str]:
    """Value -> name of a generated enum class (the first name of a value)."""
    names: dict[int, str] = {}
    for key, value in vars(enum).items():
        if not key.startswith("_") and isinstance(value, int):
            names.setdefault(value, key)
    return names


def _name(enum: Any, value: int) -> str | int:
    return enum_names(enum).get(int(value), int(value))


def encode_bytes(data: Any) -> list[int] | dict[str, str]:
    """A uint8 vector: a number list up to :data:`SMALL` bytes, else ``{"base64": ...}``."""
    raw = bytes(bytearray(data))
    return list(raw) if len(raw) <= SMALL else {"base64": base64.b64encode(raw).decode("ascii")}


def encode(obj: Any, member: bool = False) -> dict[str, Any]:
    """JSON-ready dict of an object-API instance; defaults are left out except in union members."""
    out: dict[str, Any] = {}
    for f in fields(type(obj)):
        value = getattr(obj, f.attr)
        if value is None or (f.kind == "scalar" and not member and value == f.default
                             and (type(obj).__name__, f.attr) not in _ALWAYS):
            continue
        if f.kind == "scalar":
            out[f.name] = _name(f.enum, value) if f.enum else (float(value) if f.number and f.number.startswith("Float") else value)
        elif f.kind == "vector":
            items = [v.item() if hasattr(v, "item") else v for v in value]
            out[f.name] = ([_name(f.enum, v) for v in items] if f.enum else
                           encode_bytes(items) if f.number == "Uint8" else items)
        elif f.kind == "string":
            out[f.name] = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
        elif f.kind == "table":
            out[f.name] = encode(value)
        elif f.kind == "tables":
            out[f.name] = [encode(v) for v in value]
        else:  # union
            out[f.name] = {"type": _name(f.enum, getattr(obj, f.type_attr)), **encode(value, member=True)}
    return out


def fail(path: str, expected: str, value: Any) -> InvalidModelError:
    """The error for ``value`` at JSON ``path`` where ``expected`` was expected."""
    path = path or "the top level"
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return InvalidModelError(f"invalid TFLite JSON at {path}: expected {expected}, received {shown[:80]} "
                             f"({type(value).__name__})")


def number(value: Any, f: Field, path: str) -> int | float | bool:
    kind, low, high = NUMBERS.get(f.number or "Int32", NUMBERS["Int32"])
    if f.enum is not None and isinstance(value, str):
        values = {name: v for v, name in enum_names(f.enum).items()}
        if value not in values:
            choices = ", ".join(list(values)[:12])
            raise fail(path, f"a {f.enum.__name__} name ({choices}{', ...' if len(values) > 12 else ''})", value)
        return values[value]
    if kind is bool:
        if not isinstance(value, bool):
            raise fail(path, "true or false", value)
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(path, f"a number ({f.number.lower()})", value)
        return float(value)
    what = f"a {f.enum.__name__} name or " if f.enum is not None else "an "
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(path, f"{what}integer in {f.number.lower()}'s range [{low}, {high}]", value)
    return value


def decode_bytes(value: Any, path: str) -> list[int]:
    """Inverse of :func:`encode_bytes`."""
    if isinstance(value, dict):
        if set(value) != {"base64"} or not isinstance(value["base64"], str):
            raise fail(path, 'a list of bytes or {"base64": "..."}', value)
        try:
            return list(base64.b64decode(value["base64"], validate=True))
        except ValueError as err:
            raise fail(join(path, "base64"), f"base64 text ({err})", value["base64"]) from err
    if not isinstance(value, list):
        raise fail(path, 'a list of bytes or {"base64": "..."}', value)
    byte = Field("", "", "scalar", "Uint8")
    return [number(v, byte, f"{path}[{i}]") for i, v in enumerate(value)]


def check_keys(value: Any, allowed: set[str], path: str, what: str) -> dict[str, Any]:
    """``value`` as a dict whose keys are all in ``allowed``."""
    if not isinstance(value, dict):
        raise fail(path, f"an object ({what})", value)
    for key in value:
        if key not in allowed:
            raise InvalidModelError(f"invalid TFLite JSON at {join(path, key) or '$'}: unknown field of {what}; "
                                    f"expected one of {', '.join(sorted(allowed))}")
    return value


def decode(value: Any, cls: type, path: str) -> Any:
    """An instance of object-API class ``cls`` from its JSON dict (see :func:`encode`)."""
    known = {f.name: f for f in fields(cls)}
    check_keys(value, set(known), path, cls.__name__[:-1])
    obj = cls()
    for key, item in value.items():
        f, where = known[key], join(path, key)
        if f.kind == "scalar":
            setattr(obj, f.attr, number(item, f, where))
        elif f.kind == "vector" and f.number == "Uint8" and f.enum is None:
            setattr(obj, f.attr, decode_bytes(item, where))
        elif f.kind in ("vector", "tables"):
            if not isinstance(item, list):
                raise fail(where, "a list", item)
            setattr(obj, f.attr, [number(v, f, f"{where}[{i}]") if f.kind == "vector" else
                                  decode(v, f.table, f"{where}[{i}]") for i, v in enumerate(item)])
        elif f.kind == "string":
            if not isinstance(item, str):
                raise fail(where, "a string", item)
            setattr(obj, f.attr, item.encode("utf-8", "surrogateescape"))
        elif f.kind == "table":
            setattr(obj, f.attr, decode(item, f.table, where))
        elif item is not None:  # union
            if not isinstance(item, dict):
                raise fail(where, f'an object {{"type": <{f.enum.__name__} name>, ...}}', item)
            body = dict(item)
            kind = number(body.pop("type", None), Field("", "", "scalar", "Uint8", f.enum), join(where, "type"))
            member = getattr(schema, enum_names(f.enum).get(kind, "") + "T", None)
            if kind == 0 or member is None:
                raise fail(join(where, "type"), f"a {f.enum.__name__} member name", item.get("type"))
            setattr(obj, f.type_attr, kind)
            setattr(obj, f.attr, decode(body, member, where))
    return obj


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` at the root."""
    return f"{path}.{key}" if path else key


__all__ = ["Field", "NUMBERS", "SMALL", "check_keys", "decode", "decode_bytes", "encode", "encode_bytes",
           "enum_names", "fail", "fields", "join", "number", "schema", "snake"]
