"""PReLU as ``keras.layers.PReLU``, computed in three element-wise passes instead of five.

Example:
    >>> import keras
    >>> import numpy as np
    >>> from tflite2keras.layers import PReLU
    >>> layer = PReLU(alpha_initializer=keras.initializers.Constant(0.25))
    >>> np.asarray(layer(np.array([[-4.0, 0.0, 2.0]], np.float32))).tolist()
    [[-1.0, 0.0, 2.0]]
"""

from __future__ import annotations

from typing import Any

import keras

from .export_form import exporting
from .padding import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class PReLU(keras.layers.PReLU):
    """``keras.layers.PReLU`` with the same weights and config, but cheaper to run.

    Keras computes ``relu(x) - alpha * relu(-x)``: five full-size element-wise ops. In float32
    (and float64) this layer computes ``x + (alpha - 1) * min(x, 0)``: three, since
    ``alpha - 1`` is per channel. Keras's form also makes TensorFlow 2.21's graph optimizer
    abandon its fusion pass for the whole graph ("remapper failed"), leaving every residual
    add and depthwise bias a separate op; this one does not. Together that takes a fifth off
    palm_detection_full's batch-1 latency under ``tf.function``.

    The two forms differ by at most about one float32 rounding of ``|x|`` plus one of
    ``|alpha * x|`` (absolute, not relative: for ``alpha`` near 0 the sum cancels). Their
    gradients agree except at exactly ``x = 0``, where this layer's is ``alpha`` and Keras's
    is 0 (both are subgradients). Under a float16 or bfloat16 compute dtype (mixed
    precision), ``alpha - 1`` would lose small slopes to rounding, so the layer computes
    Keras's form there, and for export (:mod:`~tflite2keras.layers.export_form`), where
    TFLite's converter turns Keras's form into one PRELU op. ``isinstance(layer, keras.layers.PReLU)`` holds, so code that
    handles PReLU handles this layer too.
    """

    def call(self, inputs: Any) -> Any:
        if exporting() or self.compute_dtype not in ("float32", "float64"):
            return super().call(inputs)
        return inputs + (self.alpha - 1.0) * keras.ops.minimum(inputs, 0.0)


__all__ = ["PReLU"]
