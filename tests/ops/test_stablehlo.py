"""ops/stablehlo.py: files whose element-wise ops are renamed to their StableHLO forms, against the interpreter."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case

import tflite2keras as t2k

SHAPE = (7, 9, 5)
#: id -> (StableHLO opcode, input shapes, TF function writing the TFLite op it replaces, numpy reference).
CASES: dict[str, Case] = {
    "add": ("STABLEHLO_ADD", (SHAPE, SHAPE), lambda x, y: x + y, np.add),
    "multiply": ("STABLEHLO_MULTIPLY", (SHAPE, SHAPE), lambda x, y: x * y, np.multiply),
    "maximum": ("STABLEHLO_MAXIMUM", (SHAPE, SHAPE), tf.maximum, np.maximum),
    "minimum": ("STABLEHLO_MINIMUM", (SHAPE, SHAPE), tf.minimum, np.minimum),
    "add_int": ("STABLEHLO_ADD", ((SHAPE, "int32"), (SHAPE, "int32")), lambda x, y: x + y, np.add),
}
#: The TFLite builtin each StableHLO op replaces in the test file.
BUILTIN = {"STABLEHLO_ADD": "ADD", "STABLEHLO_MULTIPLY": "MUL", "STABLEHLO_MAXIMUM": "MAXIMUM",
           "STABLEHLO_MINIMUM": "MINIMUM"}


def renamed(data: bytes, builtin: str, stablehlo: str) -> bytes:
    """The file with every ``builtin`` op written as ``stablehlo`` (no options), through the JSON editor."""
    doc = json.loads(t2k.to_json(data))
    for code in doc["operator_codes"]:
        if code.get("builtin_code") == builtin:
            code["builtin_code"], code["deprecated_builtin_code"] = stablehlo, "PLACEHOLDER_FOR_GREATER_OP_CODES"
    for op in doc["subgraphs"][0]["operators"]:
        if op["opcode"] == builtin:
            op["opcode"] = stablehlo
            op.pop("builtin_options", None)
    return t2k.from_json(json.dumps(doc))


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    data = renamed(function_to_tflite(case[2], *case[1]), BUILTIN[case[0]], case[0])
    check_case(case, data, tmp_path, "Add" if name == "add" else None)


def test_a_constant_operand_raises(function_to_tflite: Any) -> None:
    data = renamed(function_to_tflite(lambda x: tf.maximum(x, np.ones(SHAPE, np.float32)[None]), SHAPE),
                   "MAXIMUM", "STABLEHLO_MAXIMUM")
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(STABLEHLO_MAXIMUM\) needs two tensors of one shape"):
        t2k.convert(data)
