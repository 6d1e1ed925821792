"""A ``.tflite`` file as editable JSON and back: ``flatc -t`` / ``flatc -b`` without flatc.

:func:`to_json` writes every table of TFLite's schema with the schema's field names
(``stride_w``, ``fused_activation_function`` ...), enum values by name (``"SAME"``,
``"RELU"``, ``"FLOAT32"``, ``"CONV_2D"``), each builtin options union as
``{"type": "Conv2DOptions", ...}`` and, for readability, each operator's ``opcode``
name. Buffers use the dtype of the tensors that read them: up to 16 values as an
editable number list, ``{"dtype": "INT32", "data": [1, 2]}``, larger ones as
``{"dtype": "FLOAT32", "shape": [4, 3, 3, 3], "base64": "..."}`` (without ``dtype``
when no tensor or disagreeing tensors read them: raw bytes). Buffers stored after the
flatbuffer (models over 2 GB) carry ``"external": true`` and stay external.
:func:`from_json` validates the JSON against the schema and packs it with the
generated object API of ``ai_edge_litert.schema_py_generated``.

The one name that differs from ``schema.fbs``: ``LSHProjectionOptions.type`` is
``projection_type``, since ``type`` names the union member.

Example:
    >>> import json
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.writer.flatjson import from_json, to_json
    >>> doc = json.loads(to_json(tiny.tflite()))
    >>> conv = doc["subgraphs"][0]["operators"][0]
    >>> conv["opcode"], conv["builtin_options"]["type"], conv["builtin_options"]["padding"]
    ('CONV_2D', 'Conv2DOptions', 'SAME')
    >>> doc["subgraphs"][0]["tensors"][0]["name"] = "picture"
    >>> t2k.read(from_json(json.dumps(doc))).tensor(0).name
    'picture'
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..._files import write_atomically
from ...errors import InvalidModelError
from ...tflite.model import Source
from ...tflite.reader import read
from ...tflite.schema import unpack
from .buffers import buffer_uses, decode_buffer, encode_buffer, pack
from .fields import (
    Field,
    check_keys,
    decode,
    encode,
    encode_bytes,
    enum_names,
    fail,
    fields,
    schema,
)


def to_json(src: Source, dst: str | os.PathLike[str] | None = None) -> str:
    """The model as JSON text (see the module docstring for the format).

    Args:
        src: a ``.tflite`` path, its bytes, or a :class:`~tflite2keras.TFLiteModel`.
        dst: if given, the text is also written there (atomically).

    Returns:
        The JSON text; :func:`from_json` turns it back into the model.

    Raises:
        InvalidModelError: ``src`` is not a readable TFLite model.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> to_json(tiny.tflite()).count('"opcode": "CONV_2D"')
        2
    """
    data = read(src).data
    model = unpack(data)
    buffers, model.buffers = model.buffers or [], None
    doc = encode(model)
    codes = [_opcode_name(code) for code in model.operatorCodes or []]
    for graph, graph_doc in zip(model.subgraphs or [], doc.get("subgraphs", [])):
        ops = graph_doc.get("operators", [])
        for i, (op, op_doc) in enumerate(zip(graph.operators or [], ops)):
            if op.largeCustomOptionsOffset > 1:
                start, size = op.largeCustomOptionsOffset, op.largeCustomOptionsSize
                op_doc.pop("large_custom_options_offset"), op_doc.pop("large_custom_options_size", None)
                op_doc.update(custom_options=encode_bytes(data[start:start + size]), large_custom_options=True)
            name = codes[op.opcodeIndex] if op.opcodeIndex < len(codes) else None
            ops[i] = {"opcode": name, **op_doc} if name is not None else op_doc
    uses = buffer_uses(model)
    doc["buffers"] = [encode_buffer(b, data, uses.get(i, set())) for i, b in enumerate(buffers)]
    text = _dump(_ordered(doc, model)) + "\n"
    if dst is not None:
        write_atomically(os.fspath(dst), text.encode("utf-8"))
    return text


def from_json(text: str | bytes, dst: str | os.PathLike[str] | None = None) -> bytes:
    """The ``.tflite`` bytes of a model written by :func:`to_json` (and perhaps edited).

    Args:
        text: the JSON text.
        dst: if given, the model is also written there (atomically).

    Returns:
        The flatbuffer, with external buffers (``"external": true``) appended after it.

    Raises:
        InvalidModelError: the text is not JSON (or is nested too deeply to parse), or does
            not fit TFLite's schema; the message names the JSON path
            (``subgraphs[0].operators[3].builtin_options.stride_w``) and what was expected there.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> import tflite2keras as t2k
        >>> [op.opcode for op in t2k.read(from_json(to_json(tiny.tflite()))).operators]
        ['CONV_2D', 'MAX_POOL_2D', 'CONV_2D']
    """
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f" at line {err.lineno} column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
        raise InvalidModelError(f"invalid TFLite JSON: not JSON text{where} ({err}); truncated?") from err
    except RecursionError as err:  # the json module recurses once per nesting level
        raise InvalidModelError("invalid TFLite JSON: nested too deeply to parse (TFLite's schema nests "
                                "about ten levels)") from err
    doc = dict(check_keys(doc, {f.name for f in _fields()}, "", "Model"))
    buffers = doc.pop("buffers", None)
    if buffers is not None and not isinstance(buffers, list):
        raise fail("buffers", "a list", buffers)
    opcodes, large = _strip_operators(doc)
    model = decode(doc, schema.ModelT, "")
    blobs: list[tuple[Any, str, str, bytes]] = []
    for g, i in large:
        op = model.subgraphs[g].operators[i]
        blobs.append((op, "largeCustomOptionsOffset", "largeCustomOptionsSize", bytes(op.customOptions or [])))
        op.customOptions = None
    model.buffers = []
    for i, value in enumerate(buffers or []):
        buffer, raw, external = schema.BufferT(), *decode_buffer(value, f"buffers[{i}]")
        if external and raw:
            blobs.append((buffer, "offset", "size", raw))
        elif raw is not None:
            buffer.data = np.frombuffer(raw, np.uint8)
        model.buffers.append(buffer)
    _check_indices(model, opcodes)
    data = pack(model, blobs)
    if dst is not None:
        write_atomically(os.fspath(dst), data)
    return data


def _fields() -> tuple[Field, ...]:
    return fields(schema.ModelT)


def _opcode_name(code: Any) -> str:
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.customCode or b"").decode("utf-8", "surrogateescape")
    return enum_names(schema.BuiltinOperator).get(builtin, str(builtin))


def _strip_operators(doc: dict[str, Any]) -> tuple[list[str], list[tuple[int, int]]]:
    """Take the informational ``opcode`` and the ``large_custom_options`` flag out of the operators."""
    codes = doc.get("operator_codes")
    opcodes = [_opcode_name(decode(c, schema.OperatorCodeT, f"operator_codes[{i}]")) for i, c in enumerate(codes)] \
        if isinstance(codes, list) else []
    flagged: list[tuple[int, int]] = []
    graphs = doc.get("subgraphs")
    for g, graph in enumerate(graphs if isinstance(graphs, list) else []):
        ops = graph.get("operators") if isinstance(graph, dict) else None
        for i, op in enumerate(ops if isinstance(ops, list) else []):
            if not isinstance(op, dict):
                continue
            op = ops[i] = dict(op)
            where = f"subgraphs[{g}].operators[{i}]"
            if "opcode" in op:
                name, index = op.pop("opcode"), op.get("opcode_index", 0)
                if isinstance(index, int) and 0 <= index < len(opcodes) and name != opcodes[index]:
                    raise fail(f"{where}.opcode", f"{opcodes[index]!r}, the name of operator_codes[{index}] "
                               "(edit opcode_index or operator_codes to change the op)", name)
            if op.pop("large_custom_options", False) is True:
                flagged.append((g, i))
    return opcodes, flagged


def _check_indices(model: Any, opcodes: list[str]) -> None:
    def check(value: int, low: int, high: int, path: str, what: str) -> None:
        if not low <= value < high:
            raise fail(path, f"{what} in [{low}, {high})", value)

    buffers, graphs = len(model.buffers), model.subgraphs or []
    for g, graph in enumerate(graphs):
        tensors, where = len(graph.tensors or []), f"subgraphs[{g}]"
        for t, tensor in enumerate(graph.tensors or []):
            check(tensor.buffer, 0, buffers, f"{where}.tensors[{t}].buffer", "a buffer index")
        for key in ("inputs", "outputs"):
            for i, t in enumerate(getattr(graph, key) or []):
                check(t, 0, tensors, f"{where}.{key}[{i}]", "a tensor index")
        for o, op in enumerate(graph.operators or []):
            check(op.opcodeIndex, 0, len(model.operatorCodes or []), f"{where}.operators[{o}].opcode_index",
                  "an operator_codes index")
            for key in ("inputs", "outputs", "intermediates"):
                for i, t in enumerate(getattr(op, key) or []):
                    check(t, -1, tensors, f"{where}.operators[{o}].{key}[{i}]", "a tensor index (-1: absent)")
    for m, entry in enumerate(model.metadata or []):
        check(entry.buffer, 0, buffers, f"metadata[{m}].buffer", "a buffer index")
    for s, sig in enumerate(model.signatureDefs or []):
        check(sig.subgraphIndex, 0, len(graphs), f"signature_defs[{s}].subgraph_index", "a subgraph index")
        tensors = len(graphs[sig.subgraphIndex].tensors or [])
        for key in ("inputs", "outputs"):
            for i, entry in enumerate(getattr(sig, key) or []):
                check(entry.tensorIndex, 0, tensors, f"signature_defs[{s}].{key}[{i}].tensor_index", "a tensor index")


def _ordered(doc: dict[str, Any], model: Any) -> dict[str, Any]:
    order = [f.name for f in _fields()]
    return {key: doc[key] for key in sorted(doc, key=order.index)}


def _dump(value: Any, indent: str = "") -> str:
    """JSON with objects and lists of objects on several lines, short values and number lists on one."""
    flat = json.dumps(value)
    if len(flat) <= 100 or not isinstance(value, (dict, list)) or not value:
        return flat
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return flat
    inner = indent + " "
    items = ([f"{inner}{json.dumps(k)}: {_dump(v, inner)}" for k, v in value.items()] if isinstance(value, dict)
             else [inner + _dump(v, inner) for v in value])
    brackets = "{}" if isinstance(value, dict) else "[]"
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + indent + brackets[1]


__all__ = ["from_json", "to_json"]
