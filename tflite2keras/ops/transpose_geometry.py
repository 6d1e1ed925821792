"""The output geometry of a transposed convolution: one home for its size, crops and Keras arguments.

``TRANSPOSE_CONV`` and ``CONV_3D_TRANSPOSE`` (builtin, which store their output shape),
MediaPipe's ``Convolution2DTransposeBias`` (custom, which derives it), their lint checks and the
flatbuffer rewrite (``Convolution2DTransposeBias`` -> ``TRANSPOSE_CONV``) all size a transposed
convolution with :func:`transpose_geometry`; the converters get their Keras ``padding`` and
``output_padding`` from :func:`transpose_padding`.

Example:
    >>> transpose_geometry("SAME", (7, 9), (3, 3), (2, 2), out=(14, 18))
    TransposeGeometry(out=(14, 18), crops=(0, 1, 0, 1), forward=(7, 9))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedOpError
from ..tflite.model import Operator


@dataclass(frozen=True)
class TransposeGeometry:
    """Where a transposed convolution's output comes from, per spatial axis.

    Attributes:
        out: the output size.
        crops: (before, after) cropped from the full result ``(in - 1) * stride + kernel`` of
            each axis, flattened ((top, bottom, left, right) in 2-D); a negative ``after``
            leaves that many zeros (the bias) after the full result.
        forward: the input size that a forward convolution of ``out`` gives under the same
            padding mode: TFLite derives its padding from it, so TFLite crops as :attr:`crops`
            says only where it equals the input size.
    """

    out: tuple[int, ...]
    crops: tuple[int, ...]
    forward: tuple[int, ...]


def transpose_geometry(mode: str, size: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                       out: Sequence[int] | None = None) -> TransposeGeometry:
    """The output size and crops of a transposed convolution under padding ``mode``.

    Without ``out`` (MediaPipe's ``Convolution2DTransposeBias``, which stores none), SAME pads
    ``P = max(0, kernel - 1 - (in - 1) % stride)`` and VALID nothing: the output is
    ``stride * (in - 1) + kernel - P``. With ``out`` (a stored output shape, or a Keras layer's),
    the crops are what that size takes from the full result ``full = (in - 1) * stride + kernel``:
    ``max(full - out, 0) // 2`` before under SAME (none under VALID) and the rest after, as
    TFLite, MediaPipe and TensorFlow all crop; so SAME and VALID agree where they crop alike
    (kernel == stride).

    Args:
        mode: ``"SAME"`` or ``"VALID"`` (any case).
        size: the input's spatial sizes.
        kernel: the kernel's spatial extents.
        strides: the strides, one per spatial axis.
        out: the output's spatial sizes, where the op stores them.

    Returns:
        A :class:`TransposeGeometry`.

    Example:
        >>> transpose_geometry("SAME", (128, 5), (2, 2), (2, 2)).out
        (256, 9)
        >>> transpose_geometry("VALID", (7, 9), (3, 3), (2, 2), out=(15, 19)).crops
        (0, 0, 0, 0)
    """
    same = mode.upper() == "SAME"
    outs: list[int] = []
    crops: list[int] = []
    forward: list[int] = []
    for axis, (n, k, s) in enumerate(zip(size, kernel, strides)):
        full = (n - 1) * s + k
        o = int(out[axis]) if out is not None else full - (max(0, k - 1 - (n - 1) % s) if same else 0)
        before = max(full - o, 0) // 2 if same else 0
        outs.append(o)
        crops += [before, full - o - before]
        forward.append(-(-o // s) if same else (o - k) // s + 1)
    return TransposeGeometry(tuple(outs), tuple(crops), tuple(forward))


def transpose_padding(op: Operator | None, size: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...],
                      strides: tuple[int, ...], mode: str) -> dict[str, Any]:
    """``padding`` and ``output_padding`` of a Keras transposed convolution that computes the op's
    output of size ``out`` from an input of size ``size``, under TFLite padding ``mode``.

    TFLite pads as the forward convolution from ``out`` to ``size`` would, and leaves zeros
    (the bias) after the full result where ``out`` is longer. Keras gives ``(n - 1) * s + k + p``
    under 'valid' and ``(n - 1) * s + k % 2 + p`` under 'same' with ``output_padding`` p (TF's rule
    then crops as TFLite does); without it ``n * s`` under 'same'.

    Raises:
        UnsupportedOpError: an ``output_padding`` would not be below the stride (Keras's limit).

    Example:
        >>> transpose_padding(None, (7, 9), (14, 18), (3, 3), (2, 2), "SAME")
        {'padding': 'same', 'output_padding': None}
        >>> transpose_padding(None, (7, 9), (15, 26), (3, 2), (2, 3), "VALID")
        {'padding': 'valid', 'output_padding': (0, 0)}
    """
    padding = "same" if mode == "SAME" else "valid"
    if padding == "same":
        if tuple(out) == tuple(n * s for n, s in zip(size, strides)):
            return {"padding": padding, "output_padding": None}
        extra = tuple(o - (n - 1) * s - k % 2 for o, n, k, s in zip(out, size, kernel, strides))
    else:
        extra = tuple(o - (n - 1) * s - k for o, n, k, s in zip(out, size, kernel, strides))
        if extra == tuple(max(k, s) - k for k, s in zip(kernel, strides)):
            return {"padding": padding, "output_padding": None}
    if not all(0 <= p < s for p, s in zip(extra, strides)):
        where = f"op {op.index} ({op.opcode})" if op is not None else "a transposed convolution"
        raise UnsupportedOpError(f"{where}: output size {tuple(out)} from input {tuple(size)} "
                                 f"under {mode} padding needs output_padding {extra}, not below strides {strides}")
    return {"padding": padding, "output_padding": extra}


__all__ = ["TransposeGeometry", "transpose_geometry", "transpose_padding"]
