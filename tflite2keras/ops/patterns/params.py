"""The checks of :mod:`tflite2keras.ops.patterns.rules`: is a matched chain exactly its Keras layer, and with what arguments.

Each function is a rule's ``params``: ``params(found) -> dict | None``, given the chain's bindings
(:class:`~tflite2keras.ops.patterns.base.Found`). None means the constants or shapes rule the pattern out
(the ops then convert one by one); the dict holds the builder's arguments
(:mod:`tflite2keras.ops.patterns.build`) and, under ``"layer"``, the class of the layer that computes
the chain's output when it is not the rule's.

Example:
    >>> import numpy as np
    >>> per_axes(np.arange(3.0).reshape(1, 1, 3), (-1, 5, 3), (2,)).tolist()
    [0.0, 1.0, 2.0]
    >>> per_axes(np.ones((5, 1)), (-1, 5, 3), (2,)) is None   # varies along an axis the norm keeps
    True
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .base import Found


def normalized_axes(found: Found) -> tuple[int, ...] | None:
    """The normalized axes (positive, sorted) if they are valid, static, and leave the batch out."""
    shape = found.shape("x")
    axes = np.asarray(found.values["$axes"]).reshape(-1)
    if axes.dtype.kind not in "iu" or not axes.size:
        return None
    out = sorted({int(a) + len(shape) if a < 0 else int(a) for a in axes})
    if len(out) != axes.size or not all(0 < a < len(shape) and shape[a] > 0 for a in out):
        return None
    return tuple(out)


def per_axes(value: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray | None:
    """A constant that varies only along ``axes`` of ``shape``, as a Keras norm's variable
    (``shape[a] for a in axes``); None when it varies along another axis or does not broadcast."""
    value = np.asarray(value, np.float32)
    if value.ndim > len(shape):
        return None
    full = (1,) * (len(shape) - value.ndim) + value.shape
    if any(d != 1 and (i not in axes or d != shape[i]) for i, d in enumerate(full)):
        return None
    target = tuple(shape[i] if i in axes else 1 for i in range(len(shape)))
    return np.broadcast_to(value.reshape(full), target).reshape([shape[a] for a in axes]).copy()


def epsilon(found: Found) -> float | None:
    """The one-element, finite epsilon constant as a float."""
    value = np.asarray(found.values["$epsilon"])
    if value.size != 1 or value.dtype.kind != "f" or not np.isfinite(value).all():
        return None
    return float(value.reshape(-1)[0])


def layer_norm(found: Found) -> dict[str, Any] | None:
    """The LayerNormalization arguments and variables of a matched chain."""
    axes, eps, shape = normalized_axes(found), epsilon(found), found.shape("x")
    if axes is None or eps is None or found.shape("y") != shape:
        return None
    weights = {}
    for role, name in (("gamma", "$gamma"), ("beta", "$beta")):
        if name in found.values:
            weights[role] = per_axes(found.values[name], shape, axes)
            if weights[role] is None:
                return None
    return {"axis": list(axes), "epsilon": eps, "center": "beta" in weights, "scale": "gamma" in weights,
            "weights": weights}


def rms_norm(found: Found) -> dict[str, Any] | None:
    """RMSNormalization's arguments; its scale broadcasts from the right, so the axes must be the last ones."""
    axes, eps, shape = normalized_axes(found), epsilon(found), found.shape("x")
    if axes is None or eps is None or found.shape("y") != shape or axes != tuple(range(len(shape) - len(axes), len(shape))):
        return None
    scale = np.ones([shape[a] for a in axes], np.float32)
    if "$gamma" in found.values:
        scale = per_axes(found.values["$gamma"], shape, axes)
        if scale is None:
            return None
    return {"axis": list(axes), "epsilon": eps, "weights": {"scale": scale}}


def activation(name: str) -> Callable[[Found], dict[str, Any] | None]:
    """The params of an activation: its function's name; the output must keep the input's shape."""
    def params(found: Found) -> dict[str, Any] | None:
        return {"activation": name} if found.shape("y") == found.shape("x") else None
    return params


def _ints(found: Found, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    value = np.asarray(found.values[name])
    return value.reshape(shape).astype(np.int64) if value.dtype.kind in "iu" and value.size == math.prod(shape) else None


def dilated_conv(found: Found) -> dict[str, Any] | None:
    """The dilated convolution's arguments, when folding the chain into it is exact: the
    convolution is VALID with stride 1 on the phases, the crops take back at most the padding,
    and the sizes work out. In 1-D the unit axis counts as a spatial axis of block 1."""
    from ..checks import implicit_pads

    conv, x, tfl = found.op("conv"), found.shape("x"), found.tfl
    assert conv is not None  # not optional
    n = 1 if "phased_2d" in found.tensors else 2
    block, pads, crops = _ints(found, "$block", (n,)), _ints(found, "$pads", (n, 2)), _ints(found, "$crops", (n, 2))
    if len(x) != n + 2 or block is None or pads is None or crops is None or not all(d > 0 for d in x[1:]):
        return None
    if (block < 1).any() or (pads < 0).any() or (crops < 0).any():
        return None
    size, unit = list(x[1:1 + n]), None
    if n == 1:
        axis = _ints(found, "$axis", (1,))
        unit = None if axis is None else int(axis[0]) % 4 if -4 <= int(axis[0]) < 4 else None
        computed, flat = found.shape("conv"), found.shape("conv_1d")
        if unit not in (1, 2) or flat != computed[:unit] + computed[unit + 1:]:
            return None
        at = unit - 1
        size.insert(at, 1)
        block, pads, crops = (np.insert(a, at, fill, axis=0) for a, fill in ((block, 1), (pads, 0), (crops, 0)))
    kernel = tfl.tensor(conv.inputs[1]).shape
    options = conv.options
    if (options.get("padding") != "VALID" or (options.get("stride_h", 1), options.get("stride_w", 1)) != (1, 1)
            or not tfl.is_constant(conv.inputs[1]) or (conv.has_input(2) and not tfl.is_constant(conv.inputs[2]))):
        return None
    dilation = (int(block[0]) * options.get("dilation_h_factor", 1), int(block[1]) * options.get("dilation_w_factor", 1))
    explicit = tuple(int(v) for v in (pads - crops).reshape(-1))
    window = tuple((k - 1) * d + 1 for k, d in zip(kernel[1:3], dilation))
    out = tuple(s + explicit[2 * i] + explicit[2 * i + 1] - window[i] + 1 for i, s in enumerate(size))
    channels = kernel[0] if conv.opcode == "CONV_2D" else kernel[3]
    expected = [out[0], out[1], channels]
    if unit is not None:
        del expected[unit - 1]
    if min(explicit) < 0 or min(out) < 1 or list(found.shape("y")[1:]) != expected:
        return None
    padding = "same" if explicit == implicit_pads("SAME", tuple(size), window, (1, 1)) else "valid"
    return {"dilation": dilation, "padding": padding, "unit_axis": unit, "size": tuple(size),
            "pad": None if padding == "same" or not any(explicit) else explicit, "out": tuple(expected),
            "layer": "Reshape" if unit else "Conv2D" if conv.opcode == "CONV_2D" else "DepthwiseConv2D"}


def dense(found: Found) -> dict[str, Any] | None:
    """A Dense over the last axis. Neither reshape reorders elements and FULLY_CONNECTED multiplies
    rows of ``C`` consecutive elements, so whatever the flat shape (the file may not know it), the
    chain is a Dense over the last axis when that axis has ``C`` elements and the output is the
    input's shape with ``C`` replaced by the units."""
    fc, tfl = found.op("dense"), found.tfl
    assert fc is not None
    x, y = found.shape("x"), found.shape("y")
    kernel = tfl.tensor(fc.inputs[1]).shape
    if (len(x) < 2 or not all(d > 0 for d in x[1:]) or len(kernel) != 2 or kernel[1] != x[-1]
            or y != x[:-1] + (kernel[0],) or not tfl.is_constant(fc.inputs[1])
            or (fc.has_input(2) and not tfl.is_constant(fc.inputs[2]))):
        return None
    return {}


__all__ = ["activation", "dense", "dilated_conv", "epsilon", "layer_norm", "normalized_axes", "per_axes", "rms_norm"]
