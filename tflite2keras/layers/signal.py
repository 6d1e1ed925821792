"""TFLite's spectral ops as Keras layers, built from ``keras.ops``: complex tensors in between.

- :class:`RFFT2D`: ``RFFT2D``, the 2-D real FFT of the last two axes, cropped or zero-padded to
  ``fft_length`` first, as ``tf.signal.rfft2d`` (and TFLite's kernel) do; a ``complex64`` result
  of shape ``(..., fft_height, fft_width // 2 + 1)``.
- :class:`ComplexPart`: ``COMPLEX_ABS``, ``REAL`` and ``IMAG`` of a complex tensor.

Keras functional models carry ``complex64`` tensors between layers on every backend, so a
spectrogram (``abs(rfft2d(x))``) stays two layers, with nothing but a RESHAPE (1-D ``rfft``)
between them.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import RFFT2D, ComplexPart
    >>> x = np.ones((1, 4, 8), "float32")
    >>> spectrum = RFFT2D([4, 8])(x)
    >>> spectrum.dtype == "complex64", tuple(spectrum.shape)
    (True, (1, 4, 5))
    >>> float(np.asarray(ComplexPart("abs")(spectrum))[0, 0, 0])
    32.0
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..errors import InvalidArgumentError
from .padding import PACKAGE

#: ComplexPart's parts -> keras.ops function.
PARTS = {"abs": "absolute", "real": "real", "imag": "imag"}
#: A complex dtype -> the float dtype of its parts.
FLOAT_OF = {"complex64": "float32", "complex128": "float64"}

Shape = tuple[int | None, ...]


def _swap_last(x: Any) -> Any:
    rank = len(x.shape)
    return keras.ops.transpose(x, (*range(rank - 2), rank - 1, rank - 2))


@keras.saving.register_keras_serializable(package=PACKAGE)
class RFFT2D(keras.layers.Layer):
    """The 2-D real FFT of the last two axes: ``numpy.fft.rfft2(x, s=fft_length)`` as complex64.

    Args:
        fft_length: ``[fft_height, fft_width]``; the last two axes are cropped or zero-padded to it.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 5, 6)).astype("float32")
        >>> got = np.asarray(RFFT2D([4, 8])(x))
        >>> got.shape, bool(np.allclose(got, np.fft.rfft2(x, s=(4, 8)), atol=1e-5))
        ((2, 3, 4, 5), True)
    """

    def __init__(self, fft_length: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lengths = list(fft_length)
        if len(lengths) != 2 or any(int(n) != n or n < 1 for n in lengths):
            raise InvalidArgumentError(f"{type(self).__name__}: fft_length must be two positive integers, "
                                       f"received {fft_length!r}")
        self.fft_length = [int(n) for n in lengths]

    def call(self, inputs: Any) -> Any:
        height, width = self.fft_length
        x = inputs[..., :height, :width]
        pads = [max(0, height - int(x.shape[-2])), max(0, width - int(x.shape[-1]))]
        if any(pads):
            x = keras.ops.pad(x, [(0, 0)] * (len(x.shape) - 2) + [(0, pads[0]), (0, pads[1])])
        real, imag = keras.ops.rfft(x)  # the last axis
        real, imag = keras.ops.fft((_swap_last(real), _swap_last(imag)))  # then the one before it
        return keras.ops.view_as_complex(keras.ops.stack([_swap_last(real), _swap_last(imag)], axis=-1))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 2:
            raise InvalidArgumentError(f"{self.name}: needs at least two axes, received shape {tuple(input_shape)}")
        return (*tuple(input_shape)[:-2], self.fft_length[0], self.fft_length[1] // 2 + 1)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fft_length": list(self.fft_length)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ComplexPart(keras.layers.Layer):
    """The magnitude (``"abs"``), real part or imaginary part of a complex tensor, as floats.

    Example:
        >>> import numpy as np
        >>> z = np.array([[3 + 4j, -2 + 0j]], "complex64")
        >>> [np.asarray(ComplexPart(p)(z)).tolist() for p in ("abs", "real", "imag")]
        [[[5.0, 2.0]], [[3.0, -2.0]], [[4.0, 0.0]]]
    """

    def __init__(self, part: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if part not in PARTS:
            raise InvalidArgumentError(f"{type(self).__name__}: unknown part {part!r}; expected one of {sorted(PARTS)}")
        self.part = part

    def call(self, inputs: Any) -> Any:
        return getattr(keras.ops, PARTS[self.part])(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        return keras.KerasTensor(tuple(inputs.shape), dtype=FLOAT_OF.get(dtype, dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "part": self.part}


__all__ = ["ComplexPart", "FLOAT_OF", "PARTS", "RFFT2D"]
