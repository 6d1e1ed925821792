"""ops/matmul.py: BATCH_MATMUL one-op models against the interpreter and numpy; its constant operand
as a trainable kernel, the operands it refuses, and the adjoint lint check."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case
from test_conv3d import edit, ops_of

import tflite2keras as t2k
from tflite2keras.ops.matmul import check_adjoints

RNG = np.random.default_rng(7)
W3 = RNG.uniform(-1, 1, (3, 5, 7)).astype(np.float32)    # (batch 3, K 5, N 7)
W1 = RNG.uniform(-1, 1, (1, 5, 7)).astype(np.float32)    # edited to rank 2: (5, 7)
W1T = RNG.uniform(-1, 1, (1, 1, 7, 5)).astype(np.float32)  # edited to rank 2: (7, 5), with adj_y
W4 = RNG.uniform(-1, 1, (1, 3, 5, 7)).astype(np.float32)


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "batch_matmul": ("BATCH_MATMUL", ((3, 7, 5), (3, 5, 9)), tf.linalg.matmul, np.matmul),
    "batch_matmul_adj_xy": ("BATCH_MATMUL", ((3, 5, 7), (3, 9, 5)),
                            lambda a, b: tf.linalg.matmul(a, b, transpose_a=True, transpose_b=True),
                            lambda a, b: _swap(a) @ _swap(b)),
    "batch_matmul_einsum": ("BATCH_MATMUL", ((3, 7, 5), (3, 9, 5)), lambda a, b: tf.einsum("nhqd,nhkd->nhqk", a, b),
                            lambda a, b: a @ _swap(b)),
    "batch_matmul_const": ("BATCH_MATMUL", ((3, 9, 5),), lambda a: tf.linalg.matmul(a, W3), lambda a: a @ W3),
    "batch_matmul_const_adj_y": ("BATCH_MATMUL", ((3, 9, 5),),
                                 lambda a: tf.linalg.matmul(a, _swap(W3).copy(), transpose_b=True), lambda a: a @ W3),
    "batch_matmul_const_rank4": ("BATCH_MATMUL", ((3, 9, 5),), lambda a: tf.linalg.matmul(a, W4), lambda a: a @ W4),
    "batch_matmul_const_rank2": ("BATCH_MATMUL", ((9, 5),), lambda a: tf.linalg.matmul(a, W1), lambda a: a @ W1[0]),
    "batch_matmul_const_rank2_adj_y": ("BATCH_MATMUL", ((3, 9, 5),),
                                       lambda a: tf.linalg.matmul(a, W1T, transpose_b=True),
                                       lambda a: a @ _swap(W1T[0, 0])),
}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"batch_matmul_adj_xy": "BatchMatMul", "batch_matmul_const": "BatchMatMul"}


def _reshape_constant(shape: list[int]) -> Callable[[dict[str, Any]], None]:
    """Give the BATCH_MATMUL's constant operand ``shape`` (same size): a rank-2 right operand."""
    def change(doc: dict[str, Any]) -> None:
        tensor = doc["subgraphs"][0]["tensors"][ops_of(doc, "BATCH_MATMUL")[0]["inputs"][1]]
        tensor["shape"] = shape
        tensor.pop("shape_signature", None)
    return change


#: Cases whose file is edited after conversion (shapes the TF converter does not write).
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "batch_matmul_const_rank2": _reshape_constant([5, 7]),
    "batch_matmul_const_rank2_adj_y": _reshape_constant([7, 5]),
}


def case_data(name: str, function_to_tflite: Any) -> bytes:
    case = CASES[name]
    data = function_to_tflite(case[2], *case[1])
    return edit(data, EDITS[name]) if name in EDITS else data


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    data = case_data(name, function_to_tflite)
    check_case(CASES[name], data, tmp_path, RELOAD.get(name), (1, 3))


def test_batch_matmul_const_is_a_trainable_weight(function_to_tflite: Any) -> None:
    model = t2k.convert(case_data("batch_matmul_const_adj_y", function_to_tflite))
    layer = next(la for la in model.layers if type(la).__name__ == "BatchMatMul")
    assert [v.name for v in layer.trainable_weights] == ["kernel"] and layer.adj_y
    np.testing.assert_array_equal(layer.kernel.numpy(), _swap(W3))


@pytest.mark.parametrize("shapes, function, match", [
    (((5, 9),), lambda a: tf.linalg.matmul(W1[0].T.copy(), a), "constant left operand"),
    (((9, 5),), lambda a: tf.linalg.matmul(a, W3), "spans the batch axis"),
], ids=["const_lhs", "const_spans_batch"])
def test_batch_matmul_unsupported(shapes: Any, function: Any, match: str, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, *shapes)
    assert "BATCH_MATMUL" in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\(BATCH_MATMUL\).*{match}"):
        t2k.convert(data)


def test_adjoint_checks(function_to_tflite: Any) -> None:
    tfl = t2k.read(case_data("batch_matmul_adj_xy", function_to_tflite))
    (op,) = tfl.operators
    assert list(check_adjoints(op, SimpleNamespace(adj_x=True, adj_y=True), tfl)) == []
    assert list(check_adjoints(op, SimpleNamespace(adj_x=False, adj_y=True), tfl)) == \
        [("adj_x, adj_y", (False, True), (True, True))]
