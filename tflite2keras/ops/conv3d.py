"""CONV_3D and CONV_3D_TRANSPOSE onto Keras ``Conv3D`` / ``Conv3DTranspose`` (NDHWC).

TFLite stores a ``CONV_3D`` filter as (depth, height, width, in, out), Keras's ``Conv3D``
kernel layout, and a ``CONV_3D_TRANSPOSE`` filter as (depth, height, width, out, in), that
of ``Conv3DTranspose``: both layouts are the identity. The TF converter never fuses a bias,
an activation or a BatchNormalization into these ops (it emits an ``ADD`` with the fused
activation, or ``MUL`` and ``ADD``), but the options and the optional bias input are honoured
where a file has them. ``CONV_3D_TRANSPOSE`` inputs are (output_shape, filter, input, bias).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from . import checks
from .contract import ConvertContext
from .conv import check_geometry, transpose_padding
from .layout import Layout
from .registry import OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

DHWIO = Layout("DHWIO", "DHWIO")
DHWOI = Layout("DHWOI", "DHWOI")


def convert_conv3d(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    check_geometry(op)
    kd, kh, kw, in_c, out_c = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 0)
    if x.shape[-1] != in_c:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) filter of {in_c} input channels on an input of "
                                 f"{x.shape[-1]} channels (grouped 3-D convolutions are not TFLite's)")
    layer = keras.layers.Conv3D(out_c, (kd, kh, kw), strides=checks.op_strides(op),
                                padding=op.options.get("padding", "VALID").lower(),
                                dilation_rate=checks.op_dilation(op), activation=ctx.activation(op),
                                use_bias=op.has_input(2), name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def convert_conv3d_transpose(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    dilation = checks.op_dilation(op)
    if max(dilation) > 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with dilation {dilation}: only 1 has a converter")
    kd, kh, kw, out_c, _ = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 2)
    out = tuple(ctx.tfl.tensor(op.outputs[0]).shape_signature or ctx.tfl.tensor(op.outputs[0]).shape)[1:4]
    if ctx.is_constant(op, 0):
        out = tuple(int(d) for d in ctx.constant(op, 0).reshape(-1)[1:4])
    if min(out) < 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has a dynamic output size {out}")
    strides = checks.op_strides(op)
    padding = transpose_padding(op, tuple(x.shape[1:4]), out, (kd, kh, kw), strides,
                                op.options.get("padding", "VALID"))
    layer = keras.layers.Conv3DTranspose(out_c, (kd, kh, kw), strides=strides, **padding,
                                         activation=ctx.activation(op), use_bias=op.has_input(3),
                                         name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


_CONV3D_CHECKS = (checks.kernel_size, checks.strides, checks.dilation, checks.padding, checks.use_bias)

register_op(OpSpec(
    "CONV_3D", layers=("Conv3D",), fused_activation=True, checks=_CONV3D_CHECKS, converter=convert_conv3d,
    weights=(WeightSlot(1, "kernel", DHWIO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "CONV_3D_TRANSPOSE", layers=("Conv3DTranspose",), fused_activation=True, converter=convert_conv3d_transpose,
    checks=checks.transposed(lambda op: (op.options.get("padding", "VALID"), checks.op_strides(op)), input_slot=2)
    + (checks.dilation,),
    weights=(WeightSlot(1, "kernel", DHWOI, optional=False), WeightSlot(3, "bias")),
))
