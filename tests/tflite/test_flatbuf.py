"""The bounds-checked flatbuffer table reader."""

from __future__ import annotations

import flatbuffers
import pytest

from tflite2keras.errors import InvalidModelError
from tflite2keras.tflite.flatbuf import I32, Table


def _table() -> bytes:
    b = flatbuffers.Builder(0)
    name = b.CreateString("conv")
    b.StartVector(4, 3, 4)
    for v in (7, 5, 3):
        b.PrependInt32(v)
    vector = b.EndVector()
    b.StartObject(3)
    b.PrependInt32Slot(0, 42, 0)
    b.PrependUOffsetTRelativeSlot(1, name, 0)
    b.PrependUOffsetTRelativeSlot(2, vector, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def test_fields() -> None:
    table = Table.root(_table())
    assert table.scalar(0, I32, -1) == 42
    assert table.string(1) == "conv"
    assert table.ints(2) == (3, 5, 7)
    assert table.scalar(9, I32, -1) == -1 and table.ints(9) == () and table.table(9) is None


@pytest.mark.parametrize("cut", [2, 6, 12, 20])
def test_truncation_is_an_invalid_model(cut: int) -> None:
    data = _table()[:cut]
    with pytest.raises(InvalidModelError, match="corrupt flatbuffer"):
        table = Table.root(data)
        table.string(1), table.ints(2)
