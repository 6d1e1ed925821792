"""deferred_variables: variables start from their assigned values, and no initializer runs for them."""

from __future__ import annotations

import gc
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.conversion.deferred import deferred_variables
from tflite2keras.testdata import tiny


class _Counting(keras.initializers.Initializer):
    """Ones, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        self.calls += 1
        return keras.ops.ones(shape, dtype=dtype)


def test_assigned_variables_skip_their_initializer() -> None:
    kernel_init, bias_init = _Counting(), _Counting()
    with deferred_variables():
        layer = keras.layers.Dense(5, kernel_initializer=kernel_init, bias_initializer=bias_init)
        layer.build((None, 3))
        value = np.arange(15, dtype=np.float32).reshape(3, 5)
        layer.kernel.assign(value)
    assert kernel_init.calls == 0 and bias_init.calls == 1
    np.testing.assert_array_equal(layer.kernel.numpy(), value)
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(5, np.float32))
    layer.kernel.assign(value + 1)  # an ordinary variable afterwards
    np.testing.assert_array_equal(layer.kernel.numpy(), value + 1)
    assert layer.get_config()["kernel_initializer"]["class_name"] == "_Counting"  # the config is untouched


def test_an_error_inside_drops_the_new_variables() -> None:
    init = _Counting()
    with pytest.raises(RuntimeError, match="inside"):
        with deferred_variables():
            keras.layers.Dense(2, kernel_initializer=init).build((None, 3))
            raise RuntimeError("inside")
    assert init.calls == 0
    after = keras.layers.Dense(2, kernel_initializer=init)
    after.build((None, 3))  # Keras builds normally afterwards
    assert init.calls == 1 and after.kernel.numpy().tolist() == [[1.0, 1.0]] * 3


def test_an_error_inside_a_callers_scope_keeps_the_callers_variables() -> None:
    init = _Counting()
    with keras.StatelessScope():
        outer = keras.layers.Dense(2, kernel_initializer=init)
        outer.build((None, 3))
        with pytest.raises(RuntimeError):
            with deferred_variables():
                keras.layers.Dense(2).build((None, 3))
                raise RuntimeError("inside")
    assert init.calls == 1 and outer.kernel.numpy().tolist() == [[1.0, 1.0]] * 3


def test_assigning_an_older_variable_inside_raises() -> None:
    older = keras.Variable(np.zeros(3, np.float32))
    with pytest.raises(t2k.errors.Tflite2KerasError, match="created before deferred_variables"):
        with deferred_variables():
            older.assign(np.ones(3, np.float32))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_inside_and_restored(enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    try:
        with deferred_variables():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_convert_fills_every_variable_from_the_file() -> None:
    """The converted model's weights are the file's (tiny.keras_model(0) is what tiny.tflite() holds)."""
    got = [w.numpy() for w in t2k.convert(tiny.tflite()).weights]
    want = [w.numpy() for w in tiny.keras_model(seed=0).weights]
    assert [w.shape for w in got] == [w.shape for w in want] and sum(w.size for w in got) == 122
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
