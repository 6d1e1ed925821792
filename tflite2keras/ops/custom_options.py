"""Decode a custom op's ``custom_options`` bytes with the decoder its spec registers.

The decoders of MediaPipe's four custom ops, and what their bytes hold, are in
:mod:`tflite2keras.tflite.custom_options`; each is registered on its op's spec
(``OpSpec.parse_options``), so a custom op registered from a notebook brings its own.

Example:
    >>> from tflite2keras.ops import custom_options
    >>> custom_options.parse("Convolution2DTransposeBias", bytes([1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]))
    {'padding': 'SAME', 'stride_width': 2, 'stride_height': 2}
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidModelError, Tflite2KerasError, UnsupportedOpError
from .registry import find, specs


def parse(opcode: str, data: bytes | None, *, index: int | None = None) -> dict[str, Any]:
    """Decode a MediaPipe custom op's options into a dict of named, validated fields.

    Args:
        opcode: the custom code, e.g. ``"TransformTensorBilinear"``.
        data: the operator's ``custom_options`` bytes (None or empty when it has none).
        index: the operator's index, only used to name it in error messages.

    Returns:
        ``Convolution2DTransposeBias``: ``padding`` ("SAME"/"VALID"), ``stride_width``,
        ``stride_height``. ``Landmarks2TransformMatrix``: ``left_rotation_idx``,
        ``right_rotation_idx``, ``subset_idxs`` (a flat tuple), ``output_height``,
        ``output_width``, ``scale_x``, ``scale_y``, ``target_rotation_radians`` (0.0 when
        absent, as MediaPipe reads a missing key). ``TransformTensorBilinear``:
        ``output_height``, ``output_width``. ``TransformLandmarks``: ``{}``, or the
        version-1 keys ``dimensions`` / ``scale`` when present.

    Raises:
        UnsupportedOpError: ``opcode``'s spec has no ``parse_options`` (it is not one of the
            four ops), or the options are those of an older op version (Landmarks2TransformMatrix v1).
        InvalidModelError: the bytes are truncated, not the expected encoding, miss a
            required field, or hold a value MediaPipe's kernel would reject.

    Example:
        >>> from flatbuffers import flexbuffers
        >>> raw = flexbuffers.Dumps({"output_height": 16, "output_width": 16})
        >>> parse("TransformTensorBilinear", bytes(raw))
        {'output_height': 16, 'output_width': 16}
    """
    spec = find(opcode)
    decoder = spec.parse_options if spec is not None else None
    where = f"op {index} ({opcode})" if index is not None else opcode
    if decoder is None:
        raise UnsupportedOpError(
            f"{where}: no custom-options decoder for this op; known: {list(supported_ops())}"
        )
    raw = bytes(data or b"")
    try:
        return decoder(raw)
    except Tflite2KerasError as err:
        raise type(err)(f"{where} custom options: {err}") from err
    except Exception as err:  # flexbuffers/struct raise many types on corrupt bytes
        raise InvalidModelError(
            f"{where} custom options: {len(raw)} bytes are malformed ({type(err).__name__}: {err})"
        ) from err


def supported_ops() -> tuple[str, ...]:
    """The custom codes :func:`parse` decodes: the ops whose spec has ``parse_options``.

    Example:
        >>> "TransformLandmarks" in supported_ops()
        True
    """
    return tuple(sorted(op for op, spec in specs().items() if spec.parse_options is not None))
