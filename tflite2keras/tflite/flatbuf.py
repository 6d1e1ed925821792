"""A minimal, bounds-checked flatbuffer table reader for the hot tables of a TFLite file.

The generated ``tflite`` classes look up the vtable once per field access, which makes
reading a model with a few hundred tensors cost tens of milliseconds. :class:`Table`
reads a table's vtable once; every offset it follows is checked against the data, so
corrupt files fail with :class:`InvalidModelError`. Slot numbers are the field ids of
TFLite's ``schema.fbs``.

Example:
    >>> import flatbuffers
    >>> b = flatbuffers.Builder(0)
    >>> b.StartObject(2)
    >>> b.PrependInt32Slot(1, 7, 0)
    >>> end = b.Finish(b.EndObject())
    >>> Table.root(bytes(b.Output())).scalar(1, I32, 0)
    7
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import InvalidModelError

U8, I8, U16, I32, U32, U64 = (struct.Struct(f) for f in ("<B", "<b", "<H", "<i", "<I", "<Q"))


class Table:
    """One flatbuffer table: its position and the slot offsets from its vtable."""

    __slots__ = ("data", "pos", "slots")

    def __init__(self, data: bytes, pos: int) -> None:
        _check(data, pos, 4, "a table")
        vtable = pos - I32.unpack_from(data, pos)[0]
        _check(data, vtable, 4, "a vtable")
        size = U16.unpack_from(data, vtable)[0]
        if size < 4 or size % 2:
            raise InvalidModelError(f"corrupt flatbuffer: a vtable at byte {vtable} has size {size}")
        _check(data, vtable, size, "a vtable")
        self.data, self.pos = data, pos
        self.slots = struct.unpack_from(f"<{(size - 4) // 2}H", data, vtable + 4)

    @classmethod
    def root(cls, data: bytes) -> Table:
        """The root table of a finished buffer."""
        _check(data, 0, 4, "the root offset")
        return cls(data, U32.unpack_from(data, 0)[0])

    def _field(self, slot: int) -> int:
        offset = self.slots[slot] if slot < len(self.slots) else 0
        return self.pos + offset if offset else 0

    def scalar(self, slot: int, kind: struct.Struct, default: int | float) -> int | float:
        """A scalar field, or ``default`` when absent."""
        at = self._field(slot)
        if not at:
            return default
        _check(self.data, at, kind.size, "a scalar field")
        return kind.unpack_from(self.data, at)[0]

    def _target(self, slot: int) -> int:
        at = self._field(slot)
        if not at:
            return 0
        _check(self.data, at, 4, "an offset field")
        return at + U32.unpack_from(self.data, at)[0]

    def table(self, slot: int) -> Table | None:
        """A sub-table field, or None."""
        target = self._target(slot)
        return Table(self.data, target) if target else None

    def vector(self, slot: int, item_size: int) -> tuple[int, int] | None:
        """(start byte, element count) of a vector field, or None when absent."""
        target = self._target(slot)
        if not target:
            return None
        _check(self.data, target, 4, "a vector length")
        count = U32.unpack_from(self.data, target)[0]
        _check(self.data, target + 4, count * item_size, "a vector")
        return target + 4, count

    def array(self, slot: int, dtype: str) -> np.ndarray | None:
        """A vector of scalars as a numpy view, or None when absent."""
        kind = np.dtype(dtype)
        span = self.vector(slot, kind.itemsize)
        return None if span is None else np.frombuffer(self.data, kind, span[1], span[0])

    def ints(self, slot: int) -> tuple[int, ...]:
        """An int32 vector as a tuple (empty when absent)."""
        values = self.array(slot, "<i4")
        return () if values is None else tuple(values.tolist())

    def tables(self, slot: int) -> list[Table]:
        """A vector of tables (empty when absent)."""
        span = self.vector(slot, 4)
        if span is None:
            return []
        start, count = span
        return [Table(self.data, start + 4 * i + U32.unpack_from(self.data, start + 4 * i)[0]) for i in range(count)]

    def string(self, slot: int) -> str:
        """A string field ('' when absent)."""
        span = self.vector(slot, 1)
        return "" if span is None else self.data[span[0]:span[0] + span[1]].decode("utf-8", "replace")


def _check(data: bytes, start: int, length: int, what: str) -> None:
    if start < 0 or length < 0 or start + length > len(data):
        raise InvalidModelError(
            f"corrupt flatbuffer: {what} at bytes {start}..{start + length} lies outside the {len(data)}-byte file"
        )
