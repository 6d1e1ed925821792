"""ops/rearrange.py (DEPTH_TO_SPACE) and ops/shape.py's STRIDED_SLICE: data-movement ops converted and compared
with the interpreter."""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, tflite_of

import tflite2keras as t2k

SHAPE = (7, 9, 5)  # odd extents, all different
#: id -> a one-op case (oneop.Case).
CASES: dict[str, Case] = {
    "depth_to_space": Case("DEPTH_TO_SPACE", ((5, 7, 12),), lambda x: tf.nn.depth_to_space(x, 2), per_layer=True),
}
#: id -> a slice of x (batch axis whole); negative strides with masked begin/end among them.
SLICES: dict[str, Callable[[Any], Any]] = {
    "reverse": lambda x: x[:, ::-1],
    "reverse_by_two": lambda x: x[:, ::-2, 1::3],
    "begin_set_end_masked": lambda x: x[:, 5::-2],
    "begin_masked_end_set": lambda x: x[:, :1:-1],
    "reverse_all": lambda x: x[:, ::-1, ::-1, ::-1],
    "mixed": lambda x: x[:, -2:0:-3, ::2, 4:0:-1],
    "negative_begin": lambda x: x[:, -1::-3, :-2:-1],
    "forward": lambda x: x[:, 1:6:2, 2:, :4],
    # shrink_axis_mask: an integer index drops its axis
    "shrink_one": lambda x: x[:, 2],
    "shrink_last_index": lambda x: x[:, :, -1],
    "shrink_with_slices": lambda x: x[:, 1:4, 3, ::2],
    "shrink_two": lambda x: x[:, -1, :, 0],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path)


@pytest.mark.parametrize("name", sorted(SLICES))
def test_strided_slice_matches_interpreter(name: str, function_to_tflite: Any) -> None:
    data = function_to_tflite(SLICES[name], SHAPE)
    tfl = t2k.read(data)
    assert "STRIDED_SLICE" in {op.opcode for op in tfl.operators}
    model = t2k.convert(data)
    x = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(1, *SHAPE)
    expected = SLICES[name](x)
    assert tuple(model.outputs[0].shape[1:]) == expected.shape[1:] == tfl.tensor(tfl.outputs[0]).shape[1:]
    np.testing.assert_array_equal(np.asarray(model(x)), expected)
    assert t2k.verify(model, data, samples=2, per_layer=True).ok
    batch = np.concatenate([x, -x, x * 2])  # the batch axis stays free
    np.testing.assert_array_equal(np.asarray(model(batch)), SLICES[name](batch))


def test_strided_slice_layer_reloads_with_masked_begin(tmp_path: Any) -> None:
    from tflite2keras.layers import StridedSlice

    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, StridedSlice([None, 1], [None, None], [-1, 2])(inputs))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).normal(size=(2, *SHAPE)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), x[:, ::-1, 1::2])
