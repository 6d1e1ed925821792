"""Tests for :mod:`tflite2keras.tflite.sparse` against TFLite's own DENSIFY kernel.

* Real models: every DENSIFY op of the sparse MediaPipe models, compared bit for bit
  with the interpreter's DENSIFY output.
* Hand-built cases (block maps, traversal orders, DENSE/SPARSE_CSR mixes, uint8 /
  uint16 / int32 index vectors) with dense arrays written out by hand; each case is
  also packed into a one-op ``.tflite`` model, decoded with
  :func:`sparsity_from_flatbuffer` and run through the interpreter, so the hand
  expectations are checked against the runtime as well.
* Randomized round trips (test-side encoder -> runtime and densify).
* Corrupted parameters raise :class:`InvalidModelError` and nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import tracemalloc
from typing import Any, Iterator

import flatbuffers
import numpy as np
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tflite2keras.errors import InvalidModelError
from tflite2keras.tflite.sparse import (
    DimensionMetadata,
    Sparsity,
    densify,
    sparsity_from_flatbuffer,
)

_DENSIFY = 124  # BuiltinOperator.DENSIFY
_TENSOR_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int8): 9}
_NP_TYPES = {code: dtype for dtype, code in _TENSOR_TYPES.items()}
_KIND_DTYPES = {1: "<i4", 2: "<u2", 3: "u1"}  # SparseIndexVector union: Int32/Uint16/Uint8Vector

# A level spec as stored in the flatbuffer: (format, dense_size, segments, indices,
# segments union type, indices union type).
Level = tuple[int, int, Any, Any, int, int]


def _dense(size: int) -> Level:
    return (0, size, None, None, 0, 0)


def _csr(segments: list[int], indices: list[int], seg_kind: int = 3, idx_kind: int = 3) -> Level:
    return (1, 0, segments, indices, seg_kind, idx_kind)


def _sparsity(order: tuple[int, ...], block_map: tuple[int, ...], levels: list[Level]) -> Sparsity:
    metas = tuple(
        DimensionMetadata("DENSE", size)
        if fmt == 0
        else DimensionMetadata("SPARSE_CSR", size, np.asarray(segs), np.asarray(idxs))
        for fmt, size, segs, idxs, _, _ in levels
    )
    return Sparsity(tuple(order), tuple(block_map), metas)


def _reference_interpreter(**source: Any) -> Interpreter:
    # With the default XNNPACK delegate, XNNPACK consumes the sparse fp16 weights
    # itself: the DENSIFY node is delegated and its output tensor is never written
    # (with ai_edge_litert 2.3 it reads back as all zeros, even with
    # experimental_preserve_all_tensors=True). Running the builtin kernels without
    # default delegates makes TFLite's own DENSIFY kernel fill its
    # (kTfLiteArenaRwPersistent) output tensor, which get_tensor then returns.
    interpreter = Interpreter(
        **source,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        data = rng.random(detail["shape"]).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], data)
    interpreter.invoke()
    return interpreter


def _densify_ops(model: Any) -> list[tuple[int, int]]:
    codes = [
        max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
        for i in range(model.OperatorCodesLength())
    ]
    graph = model.Subgraphs(0)
    ops = (graph.Operators(i) for i in range(graph.OperatorsLength()))
    return [(op.Inputs(0), op.Outputs(0)) for op in ops if codes[op.OpcodeIndex()] == _DENSIFY]


def _decode_and_densify(model: Any, tensor_index: int) -> np.ndarray:
    tensor = model.Subgraphs(0).Tensors(tensor_index)
    name = tensor.Name().decode()
    values = model.Buffers(tensor.Buffer()).DataAsNumpy().view(_NP_TYPES[tensor.Type()])
    sparsity = sparsity_from_flatbuffer(tensor.Sparsity(), name)
    return densify(values, tuple(tensor.ShapeAsNumpy()), sparsity, name)


# --------------------------------------------------------------------------- real models


@pytest.mark.parametrize("model_name", ["face_detection_full_range_sparse", "pose_detection"])
def test_real_models_match_tflite_densify(corpus_model: Any, model_name: str) -> None:
    path = corpus_model(model_name)
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    pairs = _densify_ops(model)
    assert len(pairs) >= 30, "the corpus model should hold dozens of sparse weights"
    graph = model.Subgraphs(0)
    sparse = {i for i in range(graph.TensorsLength()) if graph.Tensors(i).Sparsity() is not None}
    assert sparse == {inp for inp, _ in pairs}, "every sparse tensor should feed a DENSIFY"

    start = time.process_time()  # CPU time: a loaded machine must not fail the test, a quadratic decoder must
    ours = {out: _decode_and_densify(model, inp) for inp, out in pairs}
    elapsed = time.process_time() - start
    assert elapsed < 10.0, f"densifying {len(pairs)} tensors took {elapsed:.3f} s of CPU time"

    interpreter = _reference_interpreter(model_path=str(path))
    for inp, out in pairs:
        reference = interpreter.get_tensor(out)
        assert np.any(reference != 0), "the runtime did not write the DENSIFY output"
        assert ours[out].dtype == reference.dtype
        assert np.array_equal(ours[out], reference), graph.Tensors(inp).Name()


# ------------------------------------------------------------------ one-op model builder


def _build_densify_model(
    values: np.ndarray, shape: tuple[int, ...], order: Any, block_map: Any, levels: list[Level]
) -> bytes:
    """A .tflite holding one constant sparse tensor (0) and DENSIFY -> tensor 1."""
    b = flatbuffers.Builder(1024)

    def ints(xs: Any) -> int:
        return b.CreateNumpyVector(np.asarray(xs, dtype="<i4"))

    def table_vector(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    def index_table(xs: Any, kind: int) -> int:
        vec = b.CreateNumpyVector(np.asarray(xs, dtype=_KIND_DTYPES.get(kind, "<i4")))
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(0, vec, 0)
        return b.EndObject()

    metas = []
    for fmt, size, segs, idxs, seg_kind, idx_kind in levels:
        seg_off = None if segs is None else index_table(segs, seg_kind)
        idx_off = None if idxs is None else index_table(idxs, idx_kind)
        b.StartObject(6)  # DimensionMetadata
        b.PrependInt8Slot(0, fmt, 0)
        b.PrependInt32Slot(1, size, 0)
        b.PrependUint8Slot(2, seg_kind, 0)
        if seg_off is not None:
            b.PrependUOffsetTRelativeSlot(3, seg_off, 0)
        b.PrependUint8Slot(4, idx_kind, 0)
        if idx_off is not None:
            b.PrependUOffsetTRelativeSlot(5, idx_off, 0)
        metas.append(b.EndObject())
    dims_off = table_vector(metas)
    order_off = None if order is None else ints(order)
    block_off = ints(block_map) if block_map else None
    b.StartObject(3)  # SparsityParameters
    if order_off is not None:
        b.PrependUOffsetTRelativeSlot(0, order_off, 0)
    if block_off is not None:
        b.PrependUOffsetTRelativeSlot(1, block_off, 0)
    b.PrependUOffsetTRelativeSlot(2, dims_off, 0)
    sparsity_off = b.EndObject()

    tensors = []
    for i, name in enumerate(["sparse_weights", "dense_weights"]):
        name_off, shape_off = b.CreateString(name), ints(shape)
        b.StartObject(7)  # Tensor
        b.PrependUOffsetTRelativeSlot(0, shape_off, 0)
        b.PrependInt8Slot(1, _TENSOR_TYPES[values.dtype], 0)
        b.PrependUint32Slot(2, 1 - i, 0)  # tensor 0 -> buffer 1, tensor 1 -> none
        b.PrependUOffsetTRelativeSlot(3, name_off, 0)
        if i == 0:
            b.PrependUOffsetTRelativeSlot(6, sparsity_off, 0)
        tensors.append(b.EndObject())

    payload = values.astype(values.dtype.newbyteorder("<")).tobytes()
    b.StartVector(1, len(payload), 16)
    b.head -= len(payload)
    b.Bytes[b.head : b.head + len(payload)] = payload
    data_off = b.EndVector()
    buffers = []
    for data in (None, data_off):
        b.StartObject(1)  # Buffer
        if data is not None:
            b.PrependUOffsetTRelativeSlot(0, data, 0)
        buffers.append(b.EndObject())

    op_inputs, op_outputs = ints([0]), ints([1])
    b.StartObject(3)  # Operator
    b.PrependUint32Slot(0, 0, 0)
    b.PrependUOffsetTRelativeSlot(1, op_inputs, 0)
    b.PrependUOffsetTRelativeSlot(2, op_outputs, 0)
    operator = b.EndObject()
    b.StartObject(4)  # OperatorCode
    b.PrependInt8Slot(0, _DENSIFY, 0)
    b.PrependInt32Slot(2, 1, 1)
    b.PrependInt32Slot(3, _DENSIFY, 0)
    opcode = b.EndObject()

    tensors_off, ops_off = table_vector(tensors), table_vector([operator])
    graph_in, graph_out = ints([]), ints([1])
    b.StartObject(4)  # SubGraph
    b.PrependUOffsetTRelativeSlot(0, tensors_off, 0)
    b.PrependUOffsetTRelativeSlot(1, graph_in, 0)
    b.PrependUOffsetTRelativeSlot(2, graph_out, 0)
    b.PrependUOffsetTRelativeSlot(3, ops_off, 0)
    graph = b.EndObject()
    opcodes_off, graphs_off = table_vector([opcode]), table_vector([graph])
    buffers_off = table_vector(buffers)
    b.StartObject(5)  # Model
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes_off, 0)
    b.PrependUOffsetTRelativeSlot(2, graphs_off, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers_off, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


def _sparse_params(content: bytes) -> Any:
    return tflite.Model.GetRootAs(content, 0).Subgraphs(0).Tensors(0).Sparsity()


# ------------------------------------------------------------------------ hand cases

# Each case: (shape, traversal_order, block_map, levels, stored values, expected dense).
HAND_CASES = {
    # 4x4 in 2x2 blocks. Levels: block rows (DENSE 2), block columns (CSR), then the
    # two in-block dims, whose DENSE sizes are the block sizes. Zeros inside a kept
    # block are stored explicitly.
    "block_2x2_rowmajor": (
        (4, 4), (0, 1, 2, 3), (0, 1),
        [_dense(2), _csr([0, 1, 2], [0, 1]), _dense(2), _dense(2)],
        [1, 2, 3, 4, 5, 0, 0, 6],
        [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, 5, 0], [0, 0, 0, 6]],
    ),
    # Same matrix, blocks traversed column-major inside (traversal d3 before d2).
    "block_2x2_inner_colmajor": (
        (4, 4), (0, 1, 3, 2), (0, 1),
        [_dense(2), _csr([0, 1, 2], [0, 1], 2, 1), _dense(2), _dense(2)],
        [1, 3, 2, 4, 5, 0, 0, 6],
        [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, 5, 0], [0, 0, 0, 6]],
    ),
    # Only the column dim is blocked (1x3 blocks): 2 rows x 2 column blocks.
    "block_1x3_on_dim1": (
        (2, 6), (0, 1, 2), (1,),
        [_dense(2), _csr([0, 1, 2], [1, 0], 1, 1), _dense(3)],
        [1, 2, 3, 4, 0, 5],
        [[0, 0, 0, 1, 2, 3], [4, 0, 5, 0, 0, 0]],
    ),
    # Column-major CSC: traversal (d1, d0), columns dense, rows compressed.
    "csc_traversal_1_0": (
        (3, 4), (1, 0), (),
        [_dense(4), _csr([0, 1, 2, 2, 4], [1, 0, 1, 2], 2, 2)],
        [8, 7, 9, 10],
        [[0, 7, 0, 0], [8, 0, 0, 9], [0, 0, 0, 10]],
    ),
    # TFLite does not require sorted indices within a segment (distinct is enough).
    "csr_unsorted_indices": (
        (2, 4), (0, 1), (),
        [_dense(2), _csr([0, 3, 4], [3, 0, 2, 1], 1, 2)],
        [41, 42, 43, 44],
        [[42, 0, 43, 41], [0, 44, 0, 0]],
    ),
    # Doubly compressed (both levels SPARSE_CSR), int32 vectors.
    "dcsr_int32": (
        (3, 5), (0, 1), (),
        [_csr([0, 2], [0, 2], 1, 1), _csr([0, 2, 3], [1, 4, 3], 1, 1)],
        [11, 12, 13],
        [[0, 11, 0, 0, 12], [0, 0, 0, 0, 0], [0, 0, 0, 13, 0]],
    ),
    # The MediaPipe layout: OHWI 1x1 conv kernel, innermost dim compressed.
    "ohwi_inner_csr_uint16_segments": (
        (2, 1, 1, 3), (0, 1, 2, 3), (),
        [_dense(2), _dense(1), _dense(1), _csr([0, 1, 3], [2, 0, 1], 2, 3)],
        [21, 22, 23],
        [[[[0, 0, 21]]], [[[22, 23, 0]]]],
    ),
    # 3-D with a rotated traversal (d2, d0, d1) and a compressed middle level.
    "rank3_traversal_2_0_1": (
        (2, 2, 3), (2, 0, 1), (),
        [_dense(3), _csr([0, 1, 1, 2], [1, 0], 3, 2), _dense(2)],
        [31, 32, 33, 0],
        [[[0, 0, 33], [0, 0, 0]], [[31, 0, 0], [32, 0, 0]]],
    ),
}


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float16, np.int8], ids=lambda d: np.dtype(d).name
)
@pytest.mark.parametrize("case", list(HAND_CASES), ids=str)
def test_hand_cases(case: str, dtype: Any) -> None:
    shape, order, block_map, levels, stored, expected = HAND_CASES[case]
    values, expected = np.asarray(stored, dtype), np.asarray(expected, dtype)

    direct = densify(values, shape, _sparsity(order, block_map, levels), case)
    assert direct.dtype == values.dtype and np.array_equal(direct, expected)

    content = _build_densify_model(values, shape, order, block_map, levels)
    decoded = densify(values, shape, sparsity_from_flatbuffer(_sparse_params(content), case), case)
    assert np.array_equal(decoded, expected)

    runtime = _reference_interpreter(model_content=content).get_tensor(1)
    assert runtime.dtype == values.dtype and np.array_equal(runtime, expected)


def _encode(
    dense: np.ndarray,
    order: tuple[int, ...],
    block_map: tuple[int, ...],
    sizes: list[int],
    formats: list[int],
) -> tuple[np.ndarray, list[Level]]:
    """Brute-force encoder with TFLite's DenseToSparse conventions (test oracle)."""
    n = dense.ndim
    split = [1] * n
    for b, d in enumerate(block_map):
        split[d] = sizes[n + b]

    def element(coords: dict[int, int]) -> Any:
        index = [coords[d] * split[d] for d in range(n)]
        for b, d in enumerate(block_map):
            index[d] += coords[n + b]
        return dense[tuple(index)]

    def nonzero_below(level: int, coords: dict[int, int]) -> bool:
        rest = order[level:]
        leaves = itertools.product(*(range(sizes[e]) for e in rest))
        return any(element({**coords, **dict(zip(rest, c))}) != 0 for c in leaves)

    values: list[Any] = []
    segs: dict[int, list[int]] = {lv: [0] for lv, f in enumerate(formats) if f}
    idxs: dict[int, list[int]] = {lv: [] for lv in segs}

    def visit(level: int, coords: dict[int, int]) -> None:
        if level == len(order):
            values.append(element(coords))
            return
        dim = order[level]
        children = range(sizes[dim])
        if formats[level]:
            children = [c for c in children if nonzero_below(level + 1, {**coords, dim: c})]
            idxs[level].extend(children)
        for c in children:
            visit(level + 1, {**coords, dim: c})
        if formats[level]:
            segs[level].append(len(idxs[level]))

    visit(0, {})
    levels = [
        _csr(segs[lv], idxs[lv], 1, 2) if f else _dense(sizes[order[lv]])
        for lv, f in enumerate(formats)
    ]
    return np.asarray(values, dense.dtype), levels


@pytest.mark.parametrize("seed", range(24))
def test_random_round_trip_against_runtime(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.choice([2, 4, 6], size=int(rng.integers(1, 4))))
    n = len(shape)
    blocked = rng.choice(n, size=int(rng.integers(0, min(n, 2) + 1)), replace=False)
    block_map = tuple(sorted(int(d) for d in blocked))
    block_sizes = [int(rng.choice([s for s in (1, 2, 3) if shape[d] % s == 0])) for d in block_map]
    split = dict(zip(block_map, block_sizes))
    sizes = [shape[d] // split.get(d, 1) for d in range(n)] + block_sizes
    order = tuple(int(d) for d in rng.permutation(n))
    order += tuple(n + int(b) for b in rng.permutation(len(block_map)))
    formats = [int(rng.integers(0, 2)) if order[lv] < n else 0 for lv in range(len(order))]
    dtype = [np.float32, np.float16, np.int8][seed % 3]
    dense = (rng.integers(-9, 10, size=shape) * (rng.random(shape) < 0.35)).astype(dtype)

    values, levels = _encode(dense, order, block_map, sizes, formats)
    ours = densify(values, shape, _sparsity(order, block_map, levels), f"seed{seed}")
    assert ours.dtype == dense.dtype and np.array_equal(ours, dense)
    content = _build_densify_model(values, shape, order, block_map, levels)
    assert np.array_equal(_reference_interpreter(model_content=content).get_tensor(1), dense)


# ------------------------------------------------------------------------ corruption

_BASE = HAND_CASES["block_2x2_rowmajor"]


def _mutated(**changes: Any) -> tuple[np.ndarray, tuple[int, ...], Sparsity]:
    shape, order, block_map, levels, stored, _ = _BASE
    levels = [list(level) for level in levels]
    for (lv, field), value in changes.get("levels", {}).items():
        levels[lv][field] = value
    order, block_map = changes.get("order", order), changes.get("block_map", block_map)
    sparsity = _sparsity(order, block_map, [tuple(lv) for lv in levels])
    values = np.asarray(changes.get("values", stored), np.float32)
    return values, changes.get("shape", shape), sparsity


CORRUPTIONS = {
    "index_out_of_range": _mutated(levels={(1, 3): [0, 2]}),
    "negative_index": _mutated(levels={(1, 3): [0, -1]}),
    "segments_not_monotonic": _mutated(levels={(1, 2): [0, 2, 1]}),
    "segments_not_from_zero": _mutated(levels={(1, 2): [1, 1, 2]}),
    "segments_wrong_length": _mutated(levels={(1, 2): [0, 1, 2, 2]}),
    "segments_end_mismatch": _mutated(levels={(1, 2): [0, 1, 1]}),
    "duplicate_index": _mutated(levels={(1, 2): [0, 2, 2], (1, 3): [1, 1]}),
    "too_few_values": _mutated(values=[1, 2, 3, 4, 5, 0, 0]),
    "too_many_values": _mutated(values=[1, 2, 3, 4, 5, 0, 0, 6, 7]),
    "traversal_order_too_short": _mutated(order=(0, 1, 2)),
    "traversal_order_not_permutation": _mutated(order=(0, 0, 2, 3)),
    "traversal_block_dim_first": _mutated(order=(2, 1, 0, 3)),
    "dense_size_mismatch": _mutated(levels={(0, 1): 3}),
    "block_size_not_dividing": _mutated(levels={(2, 1): 3}),
    "block_size_zero": _mutated(levels={(2, 1): 0}),
    "block_map_out_of_range": _mutated(block_map=(0, 2)),
    "block_map_repeated": _mutated(block_map=(0, 0)),
    "sparse_block_level": _mutated(levels={(3, 0): 1, (3, 2): [0, 2], (3, 3): [0, 1]}),
    "shape_rank_mismatch": _mutated(shape=(4, 4, 1)),
    "negative_shape": _mutated(shape=(4, -4)),
    "float_traversal_order": _mutated(order=(0.0, 1, 2, 3)),
    "float_indices": _mutated(levels={(1, 3): [0.0, 1.0]}),
    "two_dim_indices": _mutated(levels={(1, 3): [[0, 1]]}),
    # TFLite reads block b's size from dim_metadata[traversal_order[n + b]]; with a
    # cyclic in-block order and unequal block sizes that is the wrong level (the
    # runtime then writes out of bounds), so this layout must be refused.
    "cyclic_block_order_unequal_blocks": (
        np.zeros(48, np.float32), (2, 4, 6),
        _sparsity((0, 1, 2, 4, 5, 3), (0, 1, 2), [_dense(s) for s in (2, 2, 2, 2, 3, 1)]),
    ),
    "unknown_format": (
        np.zeros(16, np.float32), (4, 4),
        Sparsity((0, 1), (), (DimensionMetadata("COO", 4), DimensionMetadata("DENSE", 4))),
    ),
    "csr_without_arrays": (
        np.zeros(0, np.float32), (4,), Sparsity((0,), (), (DimensionMetadata("SPARSE_CSR", 4),))
    ),
    "huge_dense_shape": (
        np.zeros(3, np.float32), (2**16, 2**16, 2),
        _sparsity((0, 1, 2), (), [_dense(2**16), _dense(2**16), _dense(2)]),
    ),
    # 2**31 elements is allowed, but the 3 values contradict the all-DENSE levels:
    # this must be noticed before anything of dense size is allocated.
    "huge_dense_levels_few_values": (
        np.zeros(3, np.float32), (2**15, 2**16),
        _sparsity((0, 1), (), [_dense(2**15), _dense(2**16)]),
    ),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS), ids=str)
def test_corrupt_parameters_raise_invalid_model_error(case: str) -> None:
    values, shape, sparsity = CORRUPTIONS[case]
    with _small_and_quick():
        with pytest.raises(InvalidModelError, match="bad_tensor"):
            densify(values, shape, sparsity, "bad_tensor")


@contextlib.contextmanager
def _small_and_quick(cpu_seconds: float = 10.0, megabytes: int = 64) -> Iterator[None]:
    """The block must refuse a corrupt tensor before allocating anything of its dense size (numpy's
    allocations are traced) and without looping over it (CPU time, generous, never wall-clock)."""
    tracemalloc.start()
    start = time.process_time()
    try:
        yield
    finally:
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < megabytes * 2**20, f"{peak / 2**20:.1f} MiB allocated"
    assert elapsed < cpu_seconds, f"{elapsed:.2f} s of CPU time"


FLATBUFFER_CORRUPTIONS = {
    "segments_union_none": [_dense(2), _csr([0, 1, 2], [0, 1], 0, 3), _dense(2), _dense(2)],
    "indices_union_unknown": [_dense(2), _csr([0, 1, 2], [0, 1], 3, 7), _dense(2), _dense(2)],
    "segments_missing": [_dense(2), (1, 0, None, [0, 1], 3, 3), _dense(2), _dense(2)],
    "indices_missing": [_dense(2), (1, 0, [0, 1, 2], None, 3, 3), _dense(2), _dense(2)],
    "unknown_format_code": [_dense(2), (5, 2, None, None, 0, 0), _dense(2), _dense(2)],
    "negative_dense_size": [_dense(-2), _csr([0, 1, 2], [0, 1]), _dense(2), _dense(2)],
    "negative_int32_index": [_dense(2), _csr([0, 1, 2], [0, -1], 1, 1), _dense(2), _dense(2)],
}


@pytest.mark.parametrize("case", list(FLATBUFFER_CORRUPTIONS), ids=str)
def test_corrupt_flatbuffer_raises_invalid_model_error(case: str) -> None:
    values = np.zeros(8, np.float32)
    levels = FLATBUFFER_CORRUPTIONS[case]
    content = _build_densify_model(values, (4, 4), (0, 1, 2, 3), (0, 1), levels)
    with pytest.raises(InvalidModelError, match="bad_tensor"):
        sparsity_from_flatbuffer(_sparse_params(content), "bad_tensor")


def test_missing_traversal_order_raises_invalid_model_error() -> None:
    values = np.zeros(16, np.float32)
    content = _build_densify_model(values, (4, 4), None, (), [_dense(4), _dense(4)])
    with pytest.raises(InvalidModelError, match="traversal_order"):
        sparsity_from_flatbuffer(_sparse_params(content), "bad_tensor")


def test_random_corruptions_only_raise_invalid_model_error() -> None:
    rng = np.random.default_rng(1234)
    shape, order, block_map, levels, stored, expected = HAND_CASES["dcsr_int32"]
    for _ in range(500):
        mutated = [list(level) for level in levels]
        for level in mutated:
            for field in (2, 3):
                arr = np.asarray(level[field], np.int64)
                if rng.random() < 0.5 and arr.size:
                    arr[rng.integers(arr.size)] = rng.integers(-3, 8)
                if rng.random() < 0.2:
                    arr = np.append(arr, rng.integers(-3, 8))
                level[field] = arr
        values = np.asarray(stored[: int(rng.integers(2, 4))], np.float32)
        try:
            sparsity = _sparsity(order, block_map, [tuple(lv) for lv in mutated])
            dense = densify(values, shape, sparsity, "fuzz")
        except InvalidModelError:
            continue
        assert dense.shape == shape and np.count_nonzero(dense) == np.count_nonzero(values)
