"""Decode the custom options of MediaPipe's custom TFLite ops into named fields.

A custom op stores its attributes as opaque bytes (``Operator.custom_options``). The
four MediaPipe ops of the corpus use two encodings, read exactly as MediaPipe's
kernels (``mediapipe/util/tflite/operations``) and the TFLite GPU delegate's parsers
read them:

* ``Convolution2DTransposeBias``: a raw little-endian C struct, the first 12 bytes of
  ``TfLiteTransposeConvParams``: ``int32 padding`` (1 SAME, 2 VALID; 0 "unknown" gets
  no padding like VALID), ``int32 stride_width``, ``int32 stride_height``.
* ``Landmarks2TransformMatrix`` (version 2), ``TransformTensorBilinear`` (version 2)
  and ``TransformLandmarks``: a flexbuffers map. ``TransformLandmarks`` version 2
  ignores its options (the corpus stores none).

Each decoder is registered on its op's spec (``OpSpec.parse_options``, in
:mod:`tflite2keras.ops.mediapipe`); :func:`tflite2keras.ops.custom_options.parse` looks it up
there, so a user registering a custom op from a notebook gives it a decoder the same way. This
module knows only the encodings.

Example:
    >>> transpose_conv_bias(bytes([1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]))
    {'padding': 'SAME', 'stride_width': 2, 'stride_height': 2}
"""

from __future__ import annotations

import math
import struct
from typing import Any

from flatbuffers import flexbuffers

from ..errors import InvalidModelError, UnsupportedOpError

#: ``TfLitePadding`` codes as the MediaPipe kernel treats them (only SAME pads).
_PADDING = {0: "VALID", 1: "SAME", 2: "VALID"}
_INT32 = (-(2**31), 2**31 - 1)


# -- raw C struct -------------------------------------------------------------------
def transpose_conv_bias(raw: bytes) -> dict[str, Any]:
    """``Convolution2DTransposeBias``: padding and strides from the raw C struct."""
    if len(raw) < 12:
        raise InvalidModelError(f"expected a 12-byte TfLiteTransposeConvParams struct, received {len(raw)} bytes")
    padding, stride_w, stride_h = struct.unpack_from("<iii", raw)
    if padding not in _PADDING:
        raise InvalidModelError(f"padding code must be 0, 1 (SAME) or 2 (VALID). Received: padding={padding}")
    if stride_w < 1 or stride_h < 1:
        raise InvalidModelError(
            f"strides must be positive. Received: stride_width={stride_w}, stride_height={stride_h}"
        )
    return {"padding": _PADDING[padding], "stride_width": stride_w, "stride_height": stride_h}


# -- flexbuffers --------------------------------------------------------------------
def _flex_map(raw: bytes) -> dict[str, Any]:
    """The root map's entries as ``{key: Ref}``, with lengths checked against the data."""
    root = flexbuffers.GetRoot(raw)
    if not root.IsMap:
        raise InvalidModelError("expected a flexbuffers map at the root")
    root_map = root.AsMap
    keys, values = root_map.Keys, root_map.Values
    if not len(keys) == len(values) <= len(raw):
        raise InvalidModelError(f"the map claims {len(keys)} keys and {len(values)} values in {len(raw)} bytes")
    return {key.AsKey: values[i] for i, key in enumerate(keys)}


def _int(entries: dict[str, Any], key: str, minimum: int) -> int:
    ref = _required(entries, key)
    if not ref.IsInt:
        raise InvalidModelError(f"{key} must be an integer, received flexbuffer type {ref._type.name}")
    value = ref.AsInt
    if not max(minimum, _INT32[0]) <= value <= _INT32[1]:
        raise InvalidModelError(f"{key} must be an int32 >= {minimum}. Received: {key}={value}")
    return value


def _float(entries: dict[str, Any], key: str, positive: bool, default: float | None = None) -> float:
    if default is not None and key not in entries:
        return default
    ref = _required(entries, key)
    if not (ref.IsFloat or ref.IsInt):
        raise InvalidModelError(f"{key} must be a number, received flexbuffer type {ref._type.name}")
    value = float(ref.AsFloat)
    if not math.isfinite(value) or (positive and value <= 0):
        kind = "finite positive" if positive else "finite"
        raise InvalidModelError(f"{key} must be a {kind} number. Received: {key}={value}")
    return value


def _int_vector(entries: dict[str, Any], key: str, limit: int) -> tuple[int, ...]:
    ref = _required(entries, key)
    if ref.IsTypedVector or ref.IsFixedTypedVector:
        vector = ref.AsTypedVector if ref.IsTypedVector else ref.AsFixedTypedVector
    elif ref.IsVector:
        vector = ref.AsVector
    else:
        raise InvalidModelError(f"{key} must be a vector of integers, received flexbuffer type {ref._type.name}")
    if len(vector) > limit:
        raise InvalidModelError(f"{key} claims {len(vector)} entries, more than {limit} bytes can hold")
    items = [vector[i] for i in range(len(vector))]
    if not all(item.IsInt for item in items):
        raise InvalidModelError(f"{key} must hold integers only")
    return tuple(item.AsInt for item in items)


def _required(entries: dict[str, Any], key: str) -> Any:
    if key not in entries:
        raise InvalidModelError(f"the required key {key!r} is missing; present: {sorted(entries)}")
    return entries[key]


def landmarks_to_transform_matrix(raw: bytes) -> dict[str, Any]:
    """``Landmarks2TransformMatrix`` version 2, from a flexbuffers map."""
    entries = _flex_map(raw)
    if "subset_idxs" not in entries and "subset" in entries:
        raise UnsupportedOpError("these are version-1 options (subset, landmarks_range, ...); "
                                 "only version 2 is supported")
    subset = _int_vector(entries, "subset_idxs", len(raw))
    if not subset or min(subset) < 0:
        raise InvalidModelError(f"subset_idxs must be non-empty and non-negative. Received: {subset}")
    return {
        "left_rotation_idx": _int(entries, "left_rotation_idx", 0),
        "right_rotation_idx": _int(entries, "right_rotation_idx", 0),
        "subset_idxs": subset,
        "output_height": _int(entries, "output_height", 1),
        "output_width": _int(entries, "output_width", 1),
        "scale_x": _float(entries, "scale_x", positive=True),
        "scale_y": _float(entries, "scale_y", positive=True),
        "target_rotation_radians": _float(entries, "target_rotation_radians", positive=False, default=0.0),
    }


def transform_tensor_bilinear(raw: bytes) -> dict[str, Any]:
    """``TransformTensorBilinear`` version 2: the output size."""
    entries = _flex_map(raw)
    return {"output_height": _int(entries, "output_height", 1), "output_width": _int(entries, "output_width", 1)}


def transform_landmarks(raw: bytes) -> dict[str, Any]:
    """``TransformLandmarks``: nothing in version 2; version 1's ``dimensions`` and ``scale``."""
    if not raw:
        return {}
    entries = _flex_map(raw)
    out: dict[str, Any] = {}
    if "dimensions" in entries:
        out["dimensions"] = _int(entries, "dimensions", 2)
    if "scale" in entries:
        out["scale"] = _float(entries, "scale", positive=False)
    return out


__all__ = ["landmarks_to_transform_matrix", "transform_landmarks",
           "transform_tensor_bilinear", "transpose_conv_bias"]
