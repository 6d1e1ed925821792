"""Activations with no exact standard Keras form.

- :class:`PReLU`: ``keras.layers.PReLU``, computed in three element-wise passes instead of five.
- :func:`gelu_approximate`: GELU's tanh form, for ``keras.layers.Activation`` (TFLite ``GELU``
  with ``approximate=True``; ``"gelu"`` is the erf form).
- :class:`L2Normalize`: TFLite ``L2_NORMALIZATION``, ``x / max(||x||, 1e-6)`` over the last axis.

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

from ..errors import InvalidArgumentError
from .export_form import exporting
from .padding import PACKAGE

#: TFLite's L2_NORMALIZATION kernel divides by ``max(norm, EPSILON)`` (l2norm.cc).
L2_EPSILON = 1e-6


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


@keras.saving.register_keras_serializable(package=PACKAGE)
def gelu_approximate(x: Any) -> Any:
    """GELU's tanh approximation, ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.

    Registered, so ``keras.layers.Activation(gelu_approximate)`` saves and reloads in safe mode.

    Example:
        >>> import numpy as np
        >>> round(float(np.asarray(gelu_approximate(np.float32(1.0)))), 4)
        0.8412
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Normalize(keras.layers.Layer):
    """``x / max(sqrt(sum(x ** 2)), epsilon)`` over the last axis, as TFLite's ``L2_NORMALIZATION``.

    ``keras.layers.UnitNormalization`` bounds the norm below by ``1e-12`` instead (and multiplies by
    its reciprocal square root), so it differs from TFLite for vectors of norm under ``1e-6``.

    Args:
        epsilon: the lower bound of the norm (TFLite's kernel fixes it at :data:`L2_EPSILON`).

    Example:
        >>> import numpy as np
        >>> np.asarray(L2Normalize()(np.array([[3.0, 4.0], [0.0, 0.0]], "float32"))).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """

    def __init__(self, epsilon: float = L2_EPSILON, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not float(epsilon) > 0:
            raise InvalidArgumentError(f"L2Normalize: epsilon must be positive, got {epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs: Any) -> Any:
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(inputs), axis=-1, keepdims=True))
        return inputs / keras.ops.maximum(norm, self.epsilon)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


__all__ = ["L2_EPSILON", "L2Normalize", "PReLU", "gelu_approximate"]
