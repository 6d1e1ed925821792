"""Fuzz :func:`tflite2keras.read` and ``TFLiteModel.constant()`` with corrupted real models.

Each case mutates a real ``.tflite`` file deterministically (seeded): truncations,
bit flips, zeroed runs, random 4-byte overwrites in the flatbuffer's tables (the
first bytes and the region after the weight buffers), and targeted overwrites of
fields found through the ``tflite`` bindings: vtable entries and table offsets,
vector lengths, tensor shapes, types, buffer indices, quantization parameters,
sparsity metadata, operator opcode indices and tensor indices. Values are
random, huge, negative, off by one, or indices that are valid but wrong.

For every mutant, ``read()`` then ``constant()`` on every tensor, ``is_constant``,
``source_of``, ``str`` and ``_repr_html_`` must either succeed or raise a
:class:`Tflite2KerasError`. Anything else (IndexError, struct.error, numpy errors
and warnings, RecursionError, MemoryError) fails the test with the mutation that
caused it, and so does a case that uses more CPU time than its budget.

880 mutants in all (360 + 110 + 130 + 80 from four corpus models, 200 from a converted
int8 model with per-channel quantization); about 20 s.

``convert`` is fuzzed too, with 1000 mutants of three small corpus models that each change what
one op means: a field of its builtin options (a stride of 0, an enum out of range, an axis of
2**31 - 1), its options type, or its opcode. Every one reads; ``convert`` must build a model (and
run it once, as it always does) or raise a :class:`Tflite2KerasError`, within the same CPU budget
per case; about 80 CPU s. And with 320 mutants of tensor shapes (a dimension, a rank, the order of
the dimensions; a constant keeps its number of elements) of the tiny model and two corpus models, under
the same rule: the interpreter's Prepare checks of ranks and shapes (:mod:`tflite2keras.ops.prepare_shapes`)
or the converters' output checks refuse the inconsistent ones; about 15 CPU s.
"""

from __future__ import annotations

import contextlib
import random
import signal
import struct
import time
import traceback
import warnings
from collections import Counter
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pytest
import tflite

from tflite2keras import read
from tflite2keras.errors import Tflite2KerasError

#: CPU seconds one mutant may take. Process CPU time, not wall time: on a loaded machine a
#: case waits for a core without using its budget, so the bound does not make CI flaky.
CASE_BUDGET_S = 5.0
# (corpus model, number of mutants): the smallest model, the fp16 palm detector, the
# sparse model (sparsity metadata) and a model with a custom op.
_CORPUS_CASES = [
    ("hand_recrop", 360),
    ("palm_detection_lite", 110),
    ("face_detection_full_range_sparse", 130),
    ("selfie_segmentation", 80),
]

Slot = tuple[str, int, int]  # (what, byte position, size in bytes)


# -- where the interesting bytes are -------------------------------------------------------
class _Slots:
    """Byte positions of flatbuffer fields, found through the ``tflite`` bindings."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.slots: list[Slot] = []
        self.rewires: list[tuple[str, int, int, int]] = []  # slots with the value to write
        self.grow: list[tuple[str, int, int, int]] = []
        root = tflite.Model.GetRootAs(data, 0)
        self.slots.append(("root table offset", 0, 4))
        self._table(root._tab, "model")
        for f, label in ((1, "operator_codes"), (2, "subgraphs"), (4, "buffers"), (6, "metadata")):
            self._vector(root._tab, f, f"model.{label}")
        for i in range(root.OperatorCodesLength()):
            code = root.OperatorCodes(i)
            self._table(code._tab, f"opcode {i}")
            self._scalar(code._tab, 0, f"opcode {i}.deprecated_builtin_code", 1)
            self._scalar(code._tab, 3, f"opcode {i}.builtin_code", 4)
        for i in range(root.BuffersLength()):
            buf = root.Buffers(i)
            self._table(buf._tab, f"buffer {i}")
            self._vector(buf._tab, 0, f"buffer {i}.data", elements=False)
        graph = root.Subgraphs(0)
        self._table(graph._tab, "subgraph 0")
        for f, label in ((0, "tensors"), (1, "inputs"), (2, "outputs"), (3, "operators")):
            self._vector(graph._tab, f, f"subgraph.{label}", elements=label in ("inputs", "outputs"))
        for i in range(graph.TensorsLength()):
            self._tensor(graph.Tensors(i), i)
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            what = f"op {i}"
            self._table(op._tab, what)
            self._scalar(op._tab, 0, f"{what}.opcode_index", 4)
            self._vector(op._tab, 1, f"{what}.inputs")
            # Valid but wrong: read the op's own output, or a later op's (a cycle through DEQUANTIZE).
            start, n = op._tab.Vector(op._tab.Offset(6)), op.InputsLength()
            later = [int(graph.Operators(j).Outputs(0)) for j in range(i, min(i + 3, graph.OperatorsLength()))]
            self.rewires += [(f"{what}.inputs[{k}] <- output of op {i + d}", start + 4 * k, 4, t)
                             for k in range(min(n, 3)) for d, t in enumerate(later)]
            self._vector(op._tab, 2, f"{what}.outputs")
            self._scalar(op._tab, 3, f"{what}.builtin_options_type", 1)
            self._scalar(op._tab, 4, f"{what}.builtin_options offset", 4)
            self._vector(op._tab, 5, f"{what}.custom_options", elements=False)
            table = op.BuiltinOptions()
            if table is not None:
                self._table(table, f"{what} options")
                self.slots += [(f"{what} options field", table.Pos + 4 * k, 4) for k in range(1, 4)]

        # Positions after the last weight buffer and before the first hold the tables.
        spans = sorted(self._buffer_span(root.Buffers(i)) for i in range(root.BuffersLength()))
        spans = [s for s in spans if s[1]]
        self.head = (0, spans[0][0] if spans else len(data))
        tail_start = max((s + n for s, n in spans), default=0)
        self.tail = (tail_start, len(data))

    @staticmethod
    def _buffer_span(buf: Any) -> tuple[int, int]:
        o = buf._tab.Offset(4)
        return (buf._tab.Vector(o), buf._tab.VectorLen(o)) if o else (0, 0)

    def _scalar(self, tab: Any, field: int, what: str, size: int) -> None:
        o = tab.Offset(4 + 2 * field)
        if o:
            self.slots.append((what, tab.Pos + o, size))

    def _vector(self, tab: Any, field: int, what: str, elements: bool = True) -> None:
        o = tab.Offset(4 + 2 * field)
        if not o:
            return
        self.slots.append((f"{what} offset", tab.Pos + o, 4))
        start, n = tab.Vector(o), tab.VectorLen(o)
        self.slots.append((f"{what} length", start - 4, 4))
        if elements:
            self.slots += [(f"{what}[{k}]", start + 4 * k, 4) for k in range(min(n, 6))]

    def _table(self, tab: Any, what: str) -> None:
        """The table's vtable offset and the vtable's entries (uint16 field offsets)."""
        self.slots.append((f"{what} vtable offset", tab.Pos, 4))
        vtable = tab.Pos - struct.unpack_from("<i", self.data, tab.Pos)[0]
        size = struct.unpack_from("<H", self.data, vtable)[0]
        self.slots += [(f"{what} vtable[{k}]", vtable + 2 * k, 2) for k in range(min(size // 2, 12))]

    def _tensor(self, tensor: Any, i: int) -> None:
        what = f"tensor {i}"
        tab = tensor._tab
        self._table(tab, what)
        self._vector(tab, 0, f"{what}.shape")
        self._scalar(tab, 1, f"{what}.type", 1)
        self._scalar(tab, 2, f"{what}.buffer", 4)
        self._scalar(tab, 3, f"{what}.name offset", 4)
        quant = tensor.Quantization()
        if quant is not None:
            self._table(quant._tab, f"{what}.quantization")
            self._vector(quant._tab, 2, f"{what}.scale")
            self._vector(quant._tab, 3, f"{what}.zero_point")
            self._scalar(quant._tab, 6, f"{what}.quantized_dimension", 4)
        sparsity = tensor.Sparsity()
        if sparsity is not None:
            # A larger extent stays consistent with the CSR indices: the dense tensor would grow to gigabytes.
            start = tab.Vector(tab.Offset(4))
            self.grow += [(f"{what}.shape[{k}] (sparse)", start + 4 * k, 4, 2**24)
                             for k in range(tensor.ShapeLength())]
            self._table(sparsity._tab, f"{what}.sparsity")
            self._vector(sparsity._tab, 0, f"{what}.traversal_order")
            self._vector(sparsity._tab, 1, f"{what}.block_map")
            self._vector(sparsity._tab, 2, f"{what}.dim_metadata", elements=False)
            for level in range(sparsity.DimMetadataLength()):
                meta = sparsity.DimMetadata(level)
                where = f"{what}.dim_metadata[{level}]"
                self._scalar(meta._tab, 0, f"{where}.format", 1)
                self._scalar(meta._tab, 1, f"{where}.dense_size", 4)
                for field, name in ((2, "segments_type"), (4, "indices_type")):
                    self._scalar(meta._tab, field, f"{where}.{name}", 1)
                for field, name in ((3, "segments"), (5, "indices")):
                    self._scalar(meta._tab, field, f"{where}.{name} offset", 4)
                    vec = getattr(meta, "ArraySegments" if name == "segments" else "ArrayIndices")()
                    if vec is not None:
                        values = tflite.Int32Vector()
                        values.Init(vec.Bytes, vec.Pos)
                        self._vector(values._tab, 0, f"{where}.{name}")


# -- mutations -----------------------------------------------------------------------------
def _values(rng: random.Random, data: bytes, old: int, num_tensors: int) -> int:
    return rng.choice([
        0, 1, -1, 2, 3, 7, 255, 65535, 2**31 - 1, -2**31, 2**24, 2**20 + 4, -rng.randrange(1, 2**31),
        rng.randrange(-2**31, 2**31), rng.randrange(num_tensors + 1), rng.randrange(num_tensors + 1),
        num_tensors, len(data) // 4, len(data), len(data) - 4, old + 1, old - 1, old * 2, old + 4,
        0x7F800000, 0x7FC00000, 0x7F7FFFFF,  # inf, nan, float32 max as bit patterns
    ])


def _overwrite(data: bytes, pos: int, size: int, value: int) -> bytes:
    out = bytearray(data)
    out[pos:pos + size] = (value & (2 ** (8 * size) - 1)).to_bytes(size, "little")
    return bytes(out)


def _mutants(data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    found = _Slots(data)
    num_tensors = tflite.Model.GetRootAs(data, 0).Subgraphs(0).TensorsLength()

    def table_position() -> int:  # in the tables, or in the first 4 KB
        lo, hi = rng.choice([found.head, found.tail, found.tail, (0, min(4096, len(data)))])
        return rng.randrange(lo, max(lo + 1, hi - 4))

    for _ in range(count):
        kind = rng.choices(["slot", "rewire", "grow", "int32", "flip", "zero", "truncate"],
                           weights=[40, 5, 3, 20, 15, 10, 10])[0]
        targeted = {"rewire": found.rewires, "grow": found.grow}.get(kind)
        if targeted:
            what, pos, size, value = rng.choice(targeted)
            yield f"set {what} (byte {pos}) to {value}", _overwrite(data, pos, size, value)
        elif kind in ("slot", "rewire", "grow"):
            what, pos, size = rng.choice(found.slots)
            old = int.from_bytes(data[pos:pos + size], "little", signed=size == 4)
            value = _values(rng, data, old, num_tensors)
            yield f"set {what} (byte {pos}) from {old} to {value}", _overwrite(data, pos, size, value)
        elif kind == "int32":
            pos = table_position() & ~3
            value = _values(rng, data, struct.unpack_from("<i", data, pos)[0], num_tensors)
            yield f"write int32 {value} at byte {pos}", _overwrite(data, pos, 4, value)
        elif kind == "flip":
            out, flips = bytearray(data), []
            for _ in range(rng.randint(1, 4)):
                pos, bit = table_position(), rng.randrange(8)
                out[pos] ^= 1 << bit
                flips.append(f"{pos}.{bit}")
            yield f"flip bits {', '.join(flips)}", bytes(out)
        elif kind == "zero":
            pos, length = table_position(), rng.choice([1, 2, 4, 8, 16, 64, 256])
            out = bytearray(data)
            out[pos:pos + length] = bytes(len(out[pos:pos + length]))
            yield f"zero {length} bytes at {pos}", bytes(out)
        else:
            cut = rng.choice([rng.randrange(len(data)), len(data) - rng.randrange(1, 64), rng.randrange(64)])
            yield f"truncate to {cut} of {len(data)} bytes", data[:cut]


# -- running a case ------------------------------------------------------------------------
class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt a case that uses too much CPU time (on POSIX; elsewhere the time is still checked).

    ``ITIMER_PROF`` counts the process's CPU time (user + system), so waiting for a core on a
    loaded machine does not count.
    """
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Timeout(f"still running after {seconds} CPU s")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _exercise(data: bytes, stats: Counter) -> None:
    """Everything a user does with a model; raises only what the caller must judge."""
    model = read(data)
    stats["read"] += 1
    for tensor in model.tensors:
        for call in (model.is_constant, model.source_of, model.producer, model.consumers):
            try:
                call(tensor.index)
            except Tflite2KerasError:
                pass
        try:
            value = model.constant(tensor.index)
        except Tflite2KerasError:
            stats["constant rejected"] += 1
            continue
        stats["constant"] += 1
        if value.shape != tensor.shape:
            raise AssertionError(f"constant({tensor.index}) has shape {value.shape}, the tensor {tensor.shape}")
    str(model)
    model._repr_html_()


def _fuzz(mutants: Iterator[tuple[str, bytes]]) -> Counter:
    """:func:`_exercise` on every mutant, numpy warnings raised as errors."""
    return _run(((what, data, False) for what, data in mutants), _exercise, ("error", RuntimeWarning))


def _run(mutants: Iterable[tuple[str, bytes, bool]], case: Callable[[bytes, Counter], None],
         warning_filter: tuple[Any, ...]) -> Counter:
    """Run ``case`` on every mutant ``(what, data, must_reject)``: it must succeed or raise a library
    error, within :data:`CASE_BUDGET_S` CPU seconds; a ``must_reject`` mutant must raise."""
    stats: Counter = Counter()
    failures: list[str] = []
    for number, (what, data, must_reject) in enumerate(mutants):
        failed_before, start = len(failures), time.process_time()
        try:
            with warnings.catch_warnings(), _deadline(CASE_BUDGET_S):
                warnings.simplefilter(*warning_filter)
                case(data, stats)
            stats["ok"] += 1
            if must_reject:
                failures.append(f"#{number} {what}: converted, but the op reads options of another type")
        except Tflite2KerasError as err:
            stats["rejected"] += 1
            stats[f"rejected: {type(err).__name__}"] += 1
        except (Exception, _Timeout, RecursionError, MemoryError) as err:
            frames = traceback.extract_tb(err.__traceback__)[-3:]
            where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames)
            failures.append(f"#{number} {what}: {type(err).__name__}: {str(err)[:200]} [{where}]")
        elapsed = time.process_time() - start
        stats["cases"] += 1
        if elapsed > CASE_BUDGET_S and len(failures) == failed_before:  # not already reported as a _Timeout
            failures.append(f"#{number} {what}: took {elapsed:.1f} CPU s, over the {CASE_BUDGET_S} s budget")
    if failures:
        pytest.fail(f"{len(failures)} of {stats['cases']} mutants failed:\n" + "\n".join(failures[:25]), pytrace=False)
    return stats


def _check_mix(stats: Counter, count: int) -> None:
    """The mutants must be a mix: some read fine (constants exercised), some are rejected."""
    assert stats["cases"] == count
    assert stats["ok"] + stats["rejected"] == count
    assert stats["ok"] >= count // 10, stats
    assert stats["rejected"] >= count // 10, stats
    assert stats["constant"] > 0, stats


@pytest.mark.parametrize(("name", "count"), _CORPUS_CASES, ids=[n for n, _ in _CORPUS_CASES])
def test_fuzz_corpus_model(corpus_model, name: str, count: int) -> None:
    data = corpus_model(name).read_bytes()
    stats = _fuzz(_mutants(data, count, seed=sum(map(ord, name))))
    _check_mix(stats, count)


def test_fuzz_int8_per_channel_model() -> None:
    """The corpus has no quantization parameters; a converted int8 model does."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    inputs = keras.Input((9, 11, 3))
    x = keras.layers.Conv2D(5, (3, 3), name="conv")(inputs)
    x = keras.layers.DepthwiseConv2D((3, 5), depth_multiplier=2, name="depthwise")(x)
    x = keras.layers.Flatten()(x)
    net = keras.Model(inputs, keras.layers.Dense(4, name="dense")(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.random.default_rng(i).normal(size=(1, 9, 11, 3)).astype(np.float32)]
                                                for i in range(4))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")
        data = converter.convert()
    model = read(data)
    quantized = [t for t in model.tensors if t.quantization is not None and t.quantization.scales.size > 1]
    assert len(quantized) >= 3  # per-channel kernels (and biases) to corrupt
    stats = _fuzz(_mutants(data, 200, seed=8))
    _check_mix(stats, 200)


def test_mutants_are_deterministic(corpus_model) -> None:
    data = corpus_model("hand_recrop").read_bytes()
    first = [(what, hash(m)) for what, m in _mutants(data, 20, seed=1)]
    assert first == [(what, hash(m)) for what, m in _mutants(data, 20, seed=1)]
    assert len({h for _, h in first}) == 20


def test_slots_point_at_the_right_fields(corpus_model) -> None:
    """Sanity check of the test's own slot finder against the reader."""
    data = corpus_model("hand_recrop").read_bytes()
    model = read(data)
    slots = {what: (pos, size) for what, pos, size in _Slots(data).slots}
    pos, _ = slots["tensor 1.shape[0]"]
    assert struct.unpack_from("<i", data, pos)[0] == model.tensors[1].shape[0] == 8
    codes = sorted({op.opcode for op in model.operators})  # opcode index 0 is a default, not stored
    op = next(op for op in model.operators if f"op {op.index}.opcode_index" in slots)
    pos, _ = slots[f"op {op.index}.opcode_index"]
    assert struct.unpack_from("<I", data, pos)[0] > 0 and op.opcode in codes
    pos, _ = slots["op 0.inputs[1]"]
    assert struct.unpack_from("<i", data, pos)[0] == model.operators[0].inputs[1]
    pos, _ = slots["tensor 1.buffer"]
    assert struct.unpack_from("<I", data, pos)[0] == model.tensors[1].buffer


# -- convert: mutants of the options, option types and opcodes ------------------------------
#
# Each mutant changes one thing an op means: one field of its builtin options table (a stride of
# 0, a padding or activation enum out of range, an axis of 2**31-1 ...), its options type (a
# CONV_2D carrying Pool2DOptions), or its opcode (another opcode of the same file). ``convert`` must
# then either build a model, which it runs once on zeros, or raise a Tflite2KerasError.

#: (model, mutants): small corpus models, so that the mutants that convert cost little.
_CONVERT_CASES = [("hand_recrop", 500), ("palm_detection_lite", 250), ("iris_landmark", 250)]
_OPTION_VALUES = (0, -1, 1, 2, 3, 4, 5, 6, 7, 8, 100, 255, 2**31 - 1, -2**31, 2**24,
                  0x7FC00000, 0x7F800000, 0x3F000000)  # nan, inf, 0.5 as float32 bit patterns


class _OptionSlots:
    """Every field of every op's builtin options table (position, size), the options type bytes
    and the opcode index fields, found through the ``tflite`` bindings."""

    def __init__(self, data: bytes) -> None:
        root = tflite.Model.GetRootAs(data, 0)
        graph = root.Subgraphs(0)
        self.num_opcodes = root.OperatorCodesLength()
        self.fields: list[Slot] = []
        self.types: list[tuple[str, int, int, int]] = []  # (what, byte position, current type, op index)
        self.opcodes: list[tuple[str, int, int]] = []  # (what, byte position, current opcode index)
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            tab = op._tab
            if (o := tab.Offset(4 + 2 * 3)):  # builtin_options_type
                self.types.append((f"op {i}.builtin_options_type", tab.Pos + o, op.BuiltinOptionsType(), i))
            if (o := tab.Offset(4)):  # opcode_index
                self.opcodes.append((f"op {i}.opcode_index", tab.Pos + o, op.OpcodeIndex()))
            table = op.BuiltinOptions()
            if table is None:
                continue
            vtable = table.Pos - struct.unpack_from("<i", data, table.Pos)[0]
            vsize, tsize = struct.unpack_from("<HH", data, vtable)
            offsets = sorted({o for k in range(2, vsize // 2)
                              if (o := struct.unpack_from("<H", data, vtable + 2 * k)[0])})
            for o, after in zip(offsets, offsets[1:] + [tsize]):
                self.fields.append((f"op {i} options field at +{o}", table.Pos + o, min(4, after - o)))


def _option_mutants(data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes, bool]]:
    """(what, mutant, whether convert must reject it): an options table of another type than
    the one its op reads, where that one has fields, never converts."""
    from tflite2keras.ops.prepare import options_type
    from tflite2keras.tflite.options import has_fields

    rng = random.Random(seed)
    found = _OptionSlots(data)
    opcodes = [op.opcode for op in read(data).operators]
    for _ in range(count):
        kind = rng.choices(["field", "type", "opcode"], weights=[70, 15, 15])[0]
        if kind == "field" or not (found.types if kind == "type" else found.opcodes):
            what, pos, size = rng.choice(found.fields)
            old = int.from_bytes(data[pos:pos + size], "little", signed=True)
            value = rng.choice(_OPTION_VALUES + (old + 1, old - 1, -old))
            yield f"set {what} ({size} bytes) from {old} to {value}", _overwrite(data, pos, size, value), False
        elif kind == "type":
            what, pos, old, index = rng.choice(found.types)
            value = rng.choice([v for v in range(1, 127) if v != old])
            want = options_type(opcodes[index])
            yield (f"set {what} ({opcodes[index]}) from {old} to {value}", _overwrite(data, pos, 1, value),
                   want is not None and has_fields(want))
        else:
            what, pos, old = rng.choice(found.opcodes)
            value = rng.choice([v for v in range(found.num_opcodes) if v != old] or [old])
            yield f"set {what} from {old} to {value}", _overwrite(data, pos, 4, value), False


def _convert_case(data: bytes, stats: Counter) -> None:
    from tflite2keras import convert

    try:
        read(data)
    except Tflite2KerasError:
        stats["unreadable"] += 1  # the read fuzz covers these
        raise
    stats["readable"] += 1
    convert(data)
    stats["converted"] += 1


def _fuzz_convert(mutants: Iterator[tuple[str, bytes, bool]]) -> Counter:
    """As :func:`_fuzz`, with ``convert`` for the case (its warnings on odd weights are expected)."""
    return _run(mutants, _convert_case, ("ignore",))


@pytest.mark.parametrize(("name", "count"), _CONVERT_CASES, ids=[n for n, _ in _CONVERT_CASES])
def test_fuzz_convert_corpus_model(corpus_model, name: str, count: int) -> None:
    data = corpus_model(name).read_bytes()
    stats = _fuzz_convert(_option_mutants(data, count, seed=sum(map(ord, name)) + 1))
    assert stats["cases"] == count
    assert stats["readable"] >= count * 9 // 10, stats  # the mutants read: they reach convert
    assert stats["converted"] >= count // 10 and stats["rejected"] >= count // 10, stats
    assert stats["rejected: InvalidModelError"] >= count // 5, stats  # the Prepare checks, not Keras, refuse most


def test_option_slots_point_at_the_options() -> None:
    """Sanity check of the options-field finder: tiny's MAX_POOL_2D (2x2 window, stride 2, VALID)."""
    from tflite2keras.testdata import tiny

    data = tiny.tflite()
    found = _OptionSlots(data)
    pool = [int.from_bytes(data[pos:pos + size], "little", signed=True)
            for what, pos, size in found.fields if what.startswith("op 1 ")]
    assert sorted(pool) == [1, 2, 2, 2, 2]  # padding VALID, filter 2x2, strides 2x2 (activation NONE: not stored)
    assert [(what, old, index) for what, _, old, index in found.types] == [
        ("op 0.builtin_options_type", 1, 0), ("op 1.builtin_options_type", 5, 1), ("op 2.builtin_options_type", 1, 2)]


# -- convert: mutants of the tensor shapes -----------------------------------------------------
#
# Each mutant changes the shape of one tensor: a dimension (off by one, doubled, halved, 0, 1 ...),
# its rank (a dimension dropped or inserted, a new shape of rank 0 to 5) or the order of its
# dimensions. A constant keeps its number of elements (dimensions swapped or merged, a 1 inserted
# or dropped, flattened), so that it still reads and reaches ``convert``. The interpreter computes
# the shapes of the tensors that are not constant and never reads their stored ones, so ``convert``
# follows the computed shapes (:mod:`tflite2keras.conversion.prepared`): a mutant either converts to a
# model that verifies against the interpreter on the mutated file, or raises a Tflite2KerasError
# (a constant or graph input whose shape the Prepare checks refuse), within the same CPU budget.

#: (model, mutants): "tiny" is :func:`tflite2keras.testdata.tiny.tflite` (3 ops), the others corpus models.
_SHAPE_CASES = [("tiny", 100), ("hand_recrop", 120), ("palm_detection_lite", 100)]


def _shape_fields(data: bytes) -> list[tuple[int, str, int, int, tuple[int, ...]]]:
    """(tensor index, name, byte position of its shape field, of the shape vector, dimensions)."""
    graph = tflite.Model.GetRootAs(data, 0).Subgraphs(0)
    found = []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        tab = tensor._tab
        if (o := tab.Offset(4)):
            start, n = tab.Vector(o), tab.VectorLen(o)
            found.append((i, tensor.Name().decode(errors="replace"), tab.Pos + o, start,
                          struct.unpack_from(f"<{n}i", data, start)))
    return found


def with_shape(data: bytes, field: int, start: int, old: tuple[int, ...], new: list[int]) -> bytes:
    """The file with a tensor's shape vector (at ``start``, its offset field at ``field``) set to
    ``new``: in place when it is not longer, else appended to the file and pointed at."""
    out = bytearray(data)
    if len(new) <= len(old):
        struct.pack_into(f"<I{len(new)}i", out, start - 4, len(new), *new)
        return bytes(out)
    out += bytes(-len(out) % 4)
    struct.pack_into("<I", out, field, len(out) - field)
    return bytes(out + struct.pack(f"<I{len(new)}i", len(new), *new))


def _variable_shape(rng: random.Random, dims: tuple[int, ...]) -> tuple[str, list[int]]:
    n, new = len(dims), list(dims)
    kind = rng.choice(["dim", "dim", "dim", "drop", "insert", "swap", "rank"])
    if kind == "dim" and n:
        k = rng.randrange(n)
        new[k] = rng.choice([v for v in (0, 1, 2, 3, 5, 64, dims[k] + 1, dims[k] - 1, 2 * dims[k], dims[k] // 2)
                             if v != dims[k] and v >= 0])
    elif kind == "drop" and n:
        del new[rng.randrange(n)]
    elif kind == "insert":
        new.insert(rng.randrange(n + 1), rng.choice([1, 1, 2, 3]))
    elif kind == "swap" and len(set(dims)) > 1:
        while new == list(dims):
            a, b = rng.sample(range(n), 2)
            new[a], new[b] = new[b], new[a]
    else:
        kind, new = "rank", [rng.choice([1, 2, 3, 4, 8]) for _ in range(rng.randrange(6))]
    return kind, new


def _constant_shape(rng: random.Random, dims: tuple[int, ...]) -> tuple[str, list[int]]:
    """A shape of as many elements: the buffer still fits it."""
    n, new = len(dims), list(dims)
    kind = rng.choice(["swap", "merge", "insert 1", "drop 1", "flatten"])
    if kind == "swap" and len(set(dims)) > 1:
        while new == list(dims):
            a, b = rng.sample(range(n), 2)
            new[a], new[b] = new[b], new[a]
    elif kind == "merge" and n >= 2:
        k = rng.randrange(n - 1)
        new[k:k + 2] = [dims[k] * dims[k + 1]]
    elif kind == "drop 1" and 1 in dims:
        del new[rng.choice([k for k, d in enumerate(dims) if d == 1])]
    elif kind == "flatten" and n != 1:
        new = [int(np.prod(dims))]
    else:
        kind = "insert 1"
        new.insert(rng.randrange(n + 1), 1)
    return kind, new


def _shape_mutants(data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes, bool]]:
    """(what, mutant, False): one tensor's shape changed; a third of them a constant's."""
    rng = random.Random(seed)
    model = read(data)
    fields = _shape_fields(data)
    constant = [f for f in fields if model.is_constant(f[0])]
    variable = [f for f in fields if not model.is_constant(f[0])]
    for _ in range(count):
        is_constant = bool(constant) and rng.random() < 0.35
        index, name, field, start, dims = rng.choice(constant if is_constant else variable)
        kind, new = (_constant_shape if is_constant else _variable_shape)(rng, dims)
        if new == list(dims):
            kind, new = "insert 1", [*dims, 1]
        what = f"{'constant' if is_constant else 'tensor'} {index} {name!r}: shape {dims} -> {tuple(new)} ({kind})"
        yield what, with_shape(data, field, start, dims, new), False


#: How many converted shape mutants per model are also verified against the interpreter.
VERIFIED_MUTANTS = 20


def _convert_verify_case(data: bytes, stats: Counter) -> None:
    """:func:`_convert_case`, then (for the first :data:`VERIFIED_MUTANTS`) ``verify`` on the mutated file."""
    from tflite2keras import convert, verify

    try:
        read(data)
    except Tflite2KerasError:
        stats["unreadable"] += 1
        raise
    stats["readable"] += 1
    model = convert(data)
    stats["converted"] += 1
    if stats["verified"] < VERIFIED_MUTANTS:
        report = verify(model, data, samples=1)
        assert report.ok, f"converted, but it does not verify against the interpreter:\n{report}"
        stats["verified"] += 1


@pytest.mark.parametrize(("name", "count"), _SHAPE_CASES, ids=[n for n, _ in _SHAPE_CASES])
def test_fuzz_convert_shapes(corpus_model, name: str, count: int) -> None:
    from tflite2keras.testdata import tiny

    data = tiny.tflite() if name == "tiny" else corpus_model(name).read_bytes()
    stats = _run(_shape_mutants(data, count, seed=sum(map(ord, name)) + 2), _convert_verify_case, ("ignore",))
    assert stats["cases"] == count
    assert stats["readable"] >= count * 9 // 10, stats  # the mutants read: they reach convert
    assert stats["converted"] >= count // 3 and stats["verified"] == min(VERIFIED_MUTANTS, stats["converted"]), stats
    assert stats["rejected: InvalidModelError"] >= 1, stats  # constants whose shapes the Prepare checks refuse


def test_shape_fields_and_relocated_shapes() -> None:
    """Sanity check of the shape finder and writer: a shorter shape in place, a longer one appended."""
    from tflite2keras.testdata import tiny

    data = tiny.tflite()
    model = read(data)
    fields = _shape_fields(data)
    assert [dims for _, _, _, _, dims in fields] == [t.shape for t in model.tensors]
    index, _, field, start, dims = fields[0]
    assert read(with_shape(data, field, start, dims, [8, 3])).tensors[index].shape == (8, 3)
    longer = with_shape(data, field, start, dims, [1, 1, 8, 8, 3])
    assert len(longer) > len(data) and read(longer).tensors[index].shape == (1, 1, 8, 8, 3)
