"""TFLite's ``UNIDIRECTIONAL_SEQUENCE_LSTM`` as a Keras layer, built from ``keras.ops``.

:class:`SequenceLSTM` computes what ``keras.layers.LSTM(units, return_sequences=True)``
computes from a zero state, gate order input, forget, cell, output, with two differences
that TFLite has:

- one variable per gate (``kernel_i``, ``recurrent_kernel_f``, ``bias_o`` ...), since TFLite
  stores each gate's weights as a tensor of its own and the transplant fills one Keras
  variable from one tensor;
- ``cell_clip``: TFLite clips the cell state to ``[-cell_clip, cell_clip]`` after every step
  (the TF converter writes 10 for every Keras LSTM); 0 means no clipping.

``keras.layers.SimpleRNN`` computes ``UNIDIRECTIONAL_SEQUENCE_RNN`` exactly and needs no layer
here.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import SequenceLSTM
    >>> layer = SequenceLSTM(4)
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 7, 4)
    >>> sorted(v.name for v in layer.weights)[:3]
    ['bias_c', 'bias_f', 'bias_i']
"""

from __future__ import annotations

from typing import Any

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

#: Gate suffixes of the variables, in Keras' (and TFLite's) order: input, forget, cell, output.
GATES = ("i", "f", "c", "o")

Shape = tuple[int | None, ...]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceLSTM(keras.layers.Layer):
    """An LSTM over axis 1 of ``(batch, time, features)`` from a zero state; every step's output.

    Per step, with ``z_g = x_t @ kernel_g + h @ recurrent_kernel_g + bias_g``::

        c = sigmoid(z_f) * c + sigmoid(z_i) * activation(z_c), clipped to +-cell_clip when > 0
        h = sigmoid(z_o) * activation(c)

    Args:
        units: the state size.
        activation: the Keras activation of the cell input and the cell output (``"tanh"``).
        cell_clip: bound of the cell state after every step; 0 for none.

    Example:
        >>> import numpy as np
        >>> layer = SequenceLSTM(2, cell_clip=10.0)
        >>> y = np.asarray(layer(np.ones((1, 5, 3), "float32")))
        >>> y.shape, bool(np.all(np.abs(y) < 1))
        ((1, 5, 2), True)
    """

    def __init__(self, units: int, activation: str = "tanh", cell_clip: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise InvalidArgumentError(f"{type(self).__name__}: units must be a positive integer, received {units!r}")
        if not cell_clip >= 0:
            raise InvalidArgumentError(f"{type(self).__name__}: cell_clip must be >= 0, received {cell_clip!r}")
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError) as err:
            raise InvalidArgumentError(f"{type(self).__name__}: unknown activation {activation!r}") from err
        self.units = int(units)
        self.cell_clip = float(cell_clip)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise InvalidArgumentError(f"{self.name}: expected inputs (batch, time, features) with known features, "
                                       f"received shape {tuple(input_shape)}")
        features, units = int(input_shape[-1]), self.units
        roles = (("kernel", (features, units), "glorot_uniform"), ("recurrent_kernel", (units, units), "orthogonal"),
                 ("bias", (units,), "zeros"))
        for role, shape, initializer in roles:
            for gate in GATES:  # a forget bias of one, as keras.layers.LSTM(unit_forget_bias=True)
                start = "ones" if (role, gate) == ("bias", "f") else initializer
                setattr(self, f"{role}_{gate}", self.add_weight(name=f"{role}_{gate}", shape=shape, initializer=start))

    def _joined(self, role: str) -> Any:
        """The four gates' variables of ``role`` side by side on the last axis (Keras' layout)."""
        return keras.ops.concatenate([getattr(self, f"{role}_{gate}") for gate in GATES], axis=-1)

    def call(self, inputs: Any) -> Any:
        recurrent = self._joined("recurrent_kernel")
        projected = keras.ops.matmul(inputs, self._joined("kernel")) + self._joined("bias")
        steps = keras.ops.transpose(projected, (1, 0, 2))  # time first, for scan
        zero = keras.ops.zeros_like(steps[0, :, :self.units])

        def step(carry: tuple[Any, Any], z: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
            h, c = carry
            i, f, g, o = keras.ops.split(z + keras.ops.matmul(h, recurrent), 4, axis=-1)
            c = keras.ops.sigmoid(f) * c + keras.ops.sigmoid(i) * self.activation(g)
            if self.cell_clip > 0:
                c = keras.ops.clip(c, -self.cell_clip, self.cell_clip)
            h = keras.ops.sigmoid(o) * self.activation(c)
            return (h, c), (h, c)

        _, (outputs, _) = keras.ops.scan(step, (zero, zero), steps)
        return keras.ops.transpose(outputs, (1, 0, 2))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": keras.activations.serialize(self.activation),
                "cell_clip": self.cell_clip}


__all__ = ["GATES", "SequenceLSTM"]
