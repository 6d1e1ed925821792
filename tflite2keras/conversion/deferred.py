"""Build a Keras model whose variables start from given values, without running their initializers.

Keras fills every new variable with its initializer (random draws for kernels), and a
transplant then overwrites it: for a large model most of the build goes into numbers that
are thrown away. Inside :func:`deferred_variables` the variables that layers create are
left uninitialized (Keras's own deferred initialization, as under ``keras.StatelessScope``)
and ``variable.assign(value)`` records the value; when the block ends each variable is
initialized once, from its recorded value, or from its initializer if nothing was assigned.
Layers, configs and initializers are untouched: a reloaded or cloned model draws its
variables as Keras always does. Two Keras internals are used (the list of deferred
variables, and a deferred variable's pending initializer); ``tests/conversion/test_deferred.py``
fails if a Keras release changes them.

Example:
    >>> import numpy as np, keras
    >>> with deferred_variables():
    ...     layer = keras.layers.Dense(2)
    ...     layer.build((None, 3))
    ...     _ = layer.kernel.assign(np.ones((3, 2), "float32"))
    >>> layer.kernel.numpy().tolist(), layer.bias.numpy().tolist()   # the bias: its initializer (zeros)
    ([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]], [0.0, 0.0])
"""

from __future__ import annotations

import contextlib
import gc
from typing import Any, Iterator

from ..errors import Tflite2KerasError


@contextlib.contextmanager
def deferred_variables() -> Iterator[None]:
    """Create variables uninitialized, initialize each once at the end from what was assigned to it.

    Inside the block, reading a new variable gives Keras's placeholder (its initializer's
    output), so nothing inside may depend on the *values* of the variables it creates; the
    symbolic build of a functional model needs only their shapes. The garbage collector is
    paused for the block (a Keras build makes many short-lived reference cycles, and a full
    collection over a large model's objects costs more than the build). On an exception the
    variables made inside are dropped uninitialized.

    Raises:
        Tflite2KerasError: a variable created before the block was assigned inside it (that
            value would be lost).
    """
    import keras
    from keras.src.backend.common import global_state

    def pending() -> list[Any]:
        return list(global_state.get_global_attribute("uninitialized_variables") or [])

    collecting = gc.isenabled()
    gc.disable()
    scope = keras.StatelessScope()
    try:
        with scope:
            before = len(pending())  # a caller's own StatelessScope may have deferred some already
            try:
                yield
            except BaseException:
                scope.initialize_variables = False  # nothing to keep: the partial model is discarded
                global_state.set_global_attribute("uninitialized_variables", pending()[:before])
                raise
            _adopt_assigned(scope, pending()[before:])
    finally:
        if collecting:
            gc.enable()


def _adopt_assigned(scope: Any, created: list[Any]) -> None:
    """Make each assigned value the initial value of its (not yet initialized) variable."""
    adopted = 0
    for variable in created:
        value = scope.get_current_value(variable)
        if value is not None:
            variable._initializer = _Value(value)  # Keras calls it once, when the scope ends
            adopted += 1
    if adopted != len(scope.state_mapping):
        raise Tflite2KerasError(f"{len(scope.state_mapping) - adopted} variables created before deferred_variables() "
                                "were assigned inside it; assign them outside the block")


class _Value:
    """An initializer that returns one given value (already a backend tensor of the variable's dtype)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        return self.value


__all__ = ["deferred_variables"]
