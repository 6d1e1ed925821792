"""The Keras builders of :mod:`tflite2keras.ops.patterns.rules`: standard Keras layers for a matched chain.

A builder is ``build(ctx, found, params, filled) -> keras tensor``: ``ctx`` is the
:class:`~tflite2keras.ops.contract.ConvertContext`, ``found`` the chain's bindings
(:class:`~tflite2keras.ops.patterns.base.Found`), ``params`` what the rule's ``params`` derived.

Weights: a norm's gamma and beta (or scale) are set here, from the file's constants, on the
layer's own trainable variables, and the layer is listed in ``filled`` so that ``transplant``
leaves it alone. A dilated convolution and a Dense are the layers their op's converter builds
(:func:`~tflite2keras.ops.conv.conv_layer`, :func:`~tflite2keras.ops.conv.dense_layer`); their
kernel and bias go through ``transplant`` like any op's (``ctx.takes_weights`` with the chain's convolution or
``FULLY_CONNECTED`` op: the rule's ``takes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contract import ConvertContext
from ..conv import conv_layer, dense_layer
from .base import Found


def source(ctx: ConvertContext, found: Found, name: str = "x") -> Any:
    """The Keras tensor of the chain's input tensor ``name`` (through ``ctx.input`` of an op reading it)."""
    index = found.tensors[name]
    for op in sorted(found.ops.values(), key=lambda o: o.index):
        if index in op.inputs:
            return ctx.input(op, list(op.inputs).index(index))
    raise AssertionError(f"no matched op reads {name}")  # a chain's input is read by one of its ops


def _assign(layer: Any, weights: dict[str, Any], filled: list[str]) -> None:
    for role, value in weights.items():
        getattr(layer, role).assign(value)
    filled.append(layer.name)


def layer_norm(ctx: ConvertContext, found: Found, params: dict[str, Any], filled: list[str]) -> Any:
    """``keras.layers.LayerNormalization`` with the file's epsilon, gamma and beta."""
    import keras

    layer = keras.layers.LayerNormalization(
        axis=params["axis"], epsilon=params["epsilon"], center=params["center"], scale=params["scale"],
        name=ctx.name(found.last))
    y = layer(source(ctx, found))
    _assign(layer, params["weights"], filled)
    return y


def rms_norm(ctx: ConvertContext, found: Found, params: dict[str, Any], filled: list[str]) -> Any:
    """``keras.layers.RMSNormalization`` with the file's epsilon and scale."""
    import keras

    layer = keras.layers.RMSNormalization(axis=params["axis"], epsilon=params["epsilon"], name=ctx.name(found.last))
    y = layer(source(ctx, found))
    _assign(layer, params["weights"], filled)
    return y


def activation(ctx: ConvertContext, found: Found, params: dict[str, Any], filled: list[str]) -> Any:
    """``keras.layers.Activation``: ``"silu"`` (swish), or ``gelu_approximate`` (GELU's tanh form)."""
    import keras

    function: Any = params["activation"]
    if function == "gelu_approximate":
        from ...layers.activation import gelu_approximate

        function = gelu_approximate
    return keras.layers.Activation(function, name=ctx.name(found.last))(source(ctx, found))


def dilated_conv(ctx: ConvertContext, found: Found, params: dict[str, Any], filled: list[str]) -> Any:
    """``Conv2D`` / ``DepthwiseConv2D`` with ``dilation_rate``, its weights from the chain's convolution
    op; explicit padding as a ``ZeroPadding2D`` where it is not 'same'; in 1-D between two
    ``Reshape``s that add and remove the unit axis. TF gives the convolution a zero bias and adds
    the real one after ``BATCH_TO_SPACE_ND`` (an ``ADD``, converted as its own layer), so a zero
    bias makes a layer without bias."""
    import keras

    conv = found.op("conv")
    assert conv is not None
    name = ctx.name(conv, weights=True)
    x = source(ctx, found)
    if params["unit_axis"] is not None:
        x = keras.layers.Reshape((*params["size"], int(x.shape[-1])), name=ctx.suffixed(name, "to_2d"))(x)
    if params["pad"] is not None:
        t, b, left, r = params["pad"]
        x = keras.layers.ZeroPadding2D(((t, b), (left, r)), name=ctx.suffixed(name, "pad"))(x)
    bias = conv.has_input(2) and bool(np.any(ctx.tfl.constant(conv.inputs[2])))  # TF adds the bias after the chain
    layer = conv_layer(ctx, conv, x, params["padding"], dilation=params["dilation"], use_bias=bias, name=name)
    y = ctx.takes_weights(layer, conv)(x)
    if params["unit_axis"] is not None:
        y = keras.layers.Reshape(params["out"], name=ctx.suffixed(name, "to_1d"))(y)
    return y


def dense(ctx: ConvertContext, found: Found, params: dict[str, Any], filled: list[str]) -> Any:
    """``Dense`` over the last axis, its weights from the chain's ``FULLY_CONNECTED`` op."""
    fc = found.op("dense")
    assert fc is not None
    return ctx.takes_weights(dense_layer(ctx, fc), fc)(source(ctx, found))


__all__ = ["activation", "dense", "dilated_conv", "layer_norm", "rms_norm", "source"]
