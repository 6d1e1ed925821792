"""Lint checks shared by op families: each compares one Keras config field with the op.

A check is ``check(op, layer, model) -> iterable of (field, keras_value, tflite_value)``.
The geometry checks work for 2-D ops (NHWC, OHWI or 1HWC kernels) and for the 3-D ones
(``CONV_3D``, ``CONV_3D_TRANSPOSE``: NDHWC, DHWIO or DHWOI kernels, ``stride_d`` options).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..tflite.model import Operator, TFLiteModel
from . import fused
from .batchnorm import folded_batchnorm, single_child
from .ranges import range_activation
from .registry import Check, Mismatch, find
from .transpose_geometry import transpose_geometry


def is_3d(op: Operator) -> bool:
    """True for a 3-D op (its options have ``stride_d``: ``CONV_3D``, ``CONV_3D_TRANSPOSE``)."""
    return "stride_d" in op.options


def kernel_extent(op: Operator, model: TFLiteModel) -> tuple[int, ...]:
    """The kernel's spatial extents: (H, W) of OHWI and 1HW(CM) kernels, (D, H, W) of 3-D ones."""
    kernel = model.tensor(op.inputs[1]).shape
    return tuple(kernel[0:3]) if is_3d(op) else (kernel[1], kernel[2])


def kernel_size(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Spatial kernel size, read from the kernel tensor's spatial axes."""
    tfl = kernel_extent(op, model)
    if tuple(layer.kernel_size) != tfl:
        yield "kernel_size", tuple(layer.kernel_size), tfl


def op_strides(op: Operator) -> tuple[int, ...]:
    """The op's (stride_h, stride_w), or (stride_d, stride_h, stride_w) for a 3-D op."""
    depth = (op.options.get("stride_d", 1),) if is_3d(op) else ()
    return depth + (op.options.get("stride_h", 1), op.options.get("stride_w", 1))


def op_dilation(op: Operator) -> tuple[int, ...]:
    """The op's (dilation_h_factor, dilation_w_factor), with dilation_d_factor first for a 3-D op."""
    depth = (op.options.get("dilation_d_factor", 1),) if is_3d(op) else ()
    return depth + (op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1))


def strides(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    tfl = op_strides(op)
    if tuple(layer.strides) != tfl:
        yield "strides", tuple(layer.strides), tfl


def dilation(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    tfl = op_dilation(op)
    if tuple(layer.dilation_rate) != tfl:
        yield "dilation_rate", tuple(layer.dilation_rate), tfl


def pool_size(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    tfl = (op.options.get("filter_height", 1), op.options.get("filter_width", 1))
    if tuple(layer.pool_size) != tfl:
        yield "pool_size", tuple(layer.pool_size), tfl


def padding(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Effective spatial padding (top, bottom, left, right; front and back first in 3-D), counting
    explicit PAD / ZeroPadding2D / ZeroPadding3D."""
    window = window_of(op, model)
    n = len(window)
    tfl_in = model.tensor(op.inputs[0])
    found = pad_before(op, model)
    tfl_explicit = spatial_pads(found[1]) if found is not None else (0,) * 2 * n
    tfl = _add(tfl_explicit, implicit_pads(op.options.get("padding", "VALID"), tfl_in.shape[1:1 + n], window,
                                           op_strides(op)))
    keras_in = tuple(layer.input.shape[1:1 + n])
    keras_explicit = (0,) * 2 * n
    parent = padding_layer(layer)
    if parent is not None and type(parent).__name__ == f"ZeroPadding{n}D":
        keras_explicit = tuple(int(v) for pair in parent.padding for v in pair)
        keras_in = tuple(parent.input.shape[1:1 + n])
        if None not in keras_in:
            keras_in = tuple(d + a + b for d, (a, b) in zip(keras_in, parent.padding))
    if None in keras_in:
        return
    keras = _add(keras_explicit, implicit_pads(layer.padding.upper(), keras_in, window, tuple(layer.strides)))
    if keras != tfl:
        yield "padding", f"{layer.padding} {keras}", f"{op.options.get('padding')} {tfl}"


def activation(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Fused activation: Keras ``activation=`` or a directly following activation layer.

    ``lint`` runs this check on every op whose spec has ``fused_activation=True``.
    """

    tfl = fused.keras_form(op)
    keras_name = fused.layer_activation(layer)
    if keras_name == "linear" and tfl != "linear":
        bn = folded_batchnorm(layer, find(op.opcode))  # TFLite folds the BN, then fuses the activation
        follower = single_child(bn if bn is not None else layer)
        keras_name = fused.follower_activation(follower) if follower is not None else keras_name
    if keras_name != tfl and keras_name != range_activation(model, op):  # (float mode folds a range's clamp)
        yield "activation", keras_name, tfl


def use_bias(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """A Keras layer without bias cannot hold a non-zero TFLite bias (in the spec's bias slot)."""
    spec = find(op.opcode)
    slot = spec.slot("bias") if spec is not None else None
    nonzero = slot is not None and op.has_input(slot.slot) and bool(np.any(model.constant(op.inputs[slot.slot])))
    if not layer.use_bias and nonzero and folded_batchnorm(layer, spec) is None:
        yield "use_bias", False, True


#: (padding mode "SAME"/"VALID", (stride_h, stride_w) or 3-D strides) of a transposed convolution op.
Geometry = Callable[[Operator], tuple[str, tuple[int, ...]]]


def transposed(geometry: Geometry, input_slot: int) -> tuple[Check, ...]:
    """Lint checks of a transposed convolution: kernel size, strides, padding, output size, use_bias.

    Args:
        geometry: reads the op's padding mode and strides (from builtin or custom options).
        input_slot: the op input that holds the image (the weights are input 1, in OHWI or DHWOI).

    Padding is compared as the rows and columns cropped from the full result
    (:func:`~tflite2keras.ops.transpose_geometry.transpose_geometry`), so SAME and VALID agree
    where they crop alike (kernel == stride).
    """
    def strides_check(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
        tfl = geometry(op)[1]
        if tuple(layer.strides) != tfl:
            yield "strides", tuple(layer.strides), tfl

    def padding_check(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
        mode, stride = geometry(op)
        kernel, n = kernel_extent(op, model), len(stride)
        sizes = model.tensor(op.inputs[input_slot]).shape[1:1 + n], model.tensor(op.outputs[0]).shape[1:1 + n]
        keras_sizes = tuple(layer.input.shape[1:1 + n]), tuple(layer.output.shape[1:1 + n])
        if None in keras_sizes[0] + keras_sizes[1]:
            return
        tfl = transpose_geometry(mode, sizes[0], kernel, stride, out=sizes[1]).crops
        keras = transpose_geometry(layer.padding, keras_sizes[0], tuple(layer.kernel_size), tuple(layer.strides),
                                   out=keras_sizes[1]).crops
        if keras != tfl:
            yield "padding", f"{layer.padding} {keras}", f"{mode} {tfl}"
        if keras_sizes[1] != tuple(sizes[1]):
            yield "output size", keras_sizes[1], tuple(sizes[1])

    return (kernel_size, strides_check, padding_check, use_bias)


def depth_multiplier(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    channels = model.tensor(op.inputs[0]).shape[-1]
    tfl = model.tensor(op.inputs[1]).shape[-1] // max(channels, 1)
    if layer.depth_multiplier != tfl:
        yield "depth_multiplier", layer.depth_multiplier, tfl


def pad_before(op: Operator, model: TFLiteModel) -> tuple[Operator, np.ndarray] | None:
    """The PAD op with constant paddings that computes ``op``'s input 0, and its (rank, 2) paddings
    ((4, 2) for NHWC, (5, 2) for NDHWC).

    Both the padding lint check and the convolution converters (which fold such a PAD into
    ``padding="same"`` where that is exact) read the explicit padding here.
    """
    before = model.producer(op.inputs[0])
    if before is None or before.opcode != "PAD" or not before.has_input(1) or not model.is_constant(before.inputs[1]):
        return None
    pads = np.asarray(model.constant(before.inputs[1])).reshape(-1, 2)
    rank = len(model.tensor(op.inputs[0]).shape)
    return (before, pads) if len(pads) == rank and rank in (4, 5) else None


def spatial_pads(pads: np.ndarray) -> tuple[int, ...]:
    """(top, bottom, left, right) of NHWC paddings of shape (4, 2); (front, back, top, ...) of NDHWC ones.

    Example:
        >>> spatial_pads(np.array([[0, 0], [1, 2], [3, 4], [0, 0]]))
        (1, 2, 3, 4)
    """
    return tuple(int(v) for row in pads[1:-1] for v in row)


def window_of(op: Operator, model: TFLiteModel) -> tuple[int, ...]:
    """The (height, width), or (depth, height, width), a pool or (dilated) conv kernel covers."""
    if "filter_height" in op.options:
        return op.options["filter_height"], op.options["filter_width"]
    return tuple((k - 1) * d + 1 for k, d in zip(kernel_extent(op, model), op_dilation(op)))


def implicit_pads(mode: str, size: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...]
                  ) -> tuple[int, ...]:
    """(top, bottom, left, right) padding that ``mode`` ("SAME" or "VALID") adds, as TF and TFLite do;
    one (before, after) pair per spatial axis."""
    if mode != "SAME":
        return (0,) * 2 * len(window)
    pads = []
    for n, k, s in zip(size, window, stride):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b))


def padding_layer(layer: Any) -> Any:
    """The ``ZeroPadding1D/2D/3D`` layer directly in front of ``layer``, or None: :func:`padding`
    counts it as part of the op's padding, so it stands for no op of its own."""
    parent = _parent(layer)
    return parent if parent is not None and type(parent).__name__.startswith("ZeroPadding") else None


def _parent(layer: Any) -> Any:
    history = getattr(layer.input, "_keras_history", None)
    return history[0] if history else None

