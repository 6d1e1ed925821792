"""The pattern table: every op chain :func:`tflite2keras.ops.patterns.find` recognizes, as data.

Each chain is written as TF 2.21's converter emits it (from Keras layers, or from the formula
written out in TF); :data:`RULES` lists them in the order they are tried. What each chain's
constants and shapes must satisfy, and the arguments of its Keras layer, are in
:mod:`tflite2keras.ops.patterns.params`; the builders in :mod:`tflite2keras.ops.patterns.build`.

- LayerNorm (``keras.layers.LayerNormalization``: gamma and beta become its trainable
  variables, with the file's values and epsilon): Keras's own chain
  (``MEAN, NEG, SQUARED_DIFFERENCE, MEAN, ADD, RSQRT, MUL...``), ``tf.nn.batch_normalization``
  over moments (``SUB`` from beta), and ``(x - mean) * rsqrt(var + eps) * gamma + beta``; gamma
  and beta may each be absent. (Keras's deprecated ``rms_scaling=True`` chain converts op by op.)
  ``RMSNormalization`` (``SQUARE, MEAN, ADD, RSQRT, MUL``) becomes ``keras.layers.RMSNormalization``.
- GELU's tanh form written out (``x*x*x`` is not fused by the converter):
  ``Activation(gelu_approximate)``. The erf form has no TFLite chain (no ``ERF`` op): it is
  always the ``GELU`` op.
- ``x * LOGISTIC(x)``: ``Activation("silu")`` (swish). ``HARD_SWISH`` is one op and keeps its layer.
- ``SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND`` (how the converter
  writes a dilated convolution when the batch is free), also in its 1-D form with
  ``EXPAND_DIMS`` and ``RESHAPE``/``SQUEEZE``: one ``Conv2D`` or ``DepthwiseConv2D`` with
  ``dilation_rate`` = block shape, exact because the convolution is VALID with stride 1.
- ``RESHAPE -> FULLY_CONNECTED -> RESHAPE`` (a ``Dense`` on a rank-3+ input with the batch free,
  whose leading axes the converter folds into the batch): one ``Dense`` over the last axis.

Example:
    >>> [rule.name for rule in RULES][:3]
    ['layer_norm', 'layer_norm', 'layer_norm']
    >>> sorted({rule.layer for rule in RULES})
    ['Activation', 'Conv2D', 'Dense', 'LayerNormalization', 'RMSNormalization', 'Reshape']
"""

from __future__ import annotations

import math

from . import build, params
from .base import ANY, Rule, Step

# -- normalizations ------------------------------------------------------------------

#: Mean and variance over the normalized axes, then ``rsqrt(variance + epsilon)``.
MOMENTS = (
    Step("MEAN", ("x", "$axes"), "mean", {"keep_dims": True}),
    Step("SQUARED_DIFFERENCE", ("x", "mean"), "squares", commutative=True),
    Step("MEAN", ("squares", "$axes"), "variance", {"keep_dims": True}),
    Step("ADD", ("variance", "$epsilon"), "variance_eps", commutative=True),
    Step("RSQRT", ("variance_eps",), "inv"),
)
#: ``inv * gamma``, absent without scale.
SCALE = Step("MUL", ("inv", "$gamma"), "scale", commutative=True, optional=True)

#: ``keras.layers.LayerNormalization``: ``x * scale + (beta - mean * scale)``, with ``-mean`` by NEG.
LAYER_NORM_KERAS = MOMENTS + (
    Step("NEG", ("mean",), "neg_mean"),
    SCALE,
    Step("MUL", ("neg_mean", "scale"), "neg_mean_scaled", commutative=True),
    Step("ADD", ("neg_mean_scaled", "$beta"), "shift", commutative=True, optional=True),
    Step("MUL", ("x", "scale"), "x_scaled", commutative=True),
    Step("ADD", ("x_scaled", "shift"), "y", commutative=True),
)
#: ``tf.nn.batch_normalization(x, *tf.nn.moments(x, axes, keepdims=True), beta, gamma, epsilon)``.
LAYER_NORM_MOMENTS = MOMENTS + (
    SCALE,
    Step("MUL", ("x", "scale"), "x_scaled", commutative=True),
    Step("MUL", ("mean", "scale"), "mean_scaled", commutative=True),
    Step("SUB", ("$beta", "mean_scaled"), "shift"),
    Step("ADD", ("x_scaled", "shift"), "y", commutative=True),
)
#: ``(x - mean) * rsqrt(variance + epsilon) * gamma + beta``.
LAYER_NORM_CENTERED = MOMENTS + (
    Step("SUB", ("x", "mean"), "centered"),
    Step("MUL", ("centered", "inv"), "normalized", commutative=True),
    Step("MUL", ("normalized", "$gamma"), "scaled", commutative=True, optional=True),
    Step("ADD", ("scaled", "$beta"), "y", commutative=True, optional=True),
)
#: ``keras.layers.RMSNormalization``: ``x * rsqrt(mean(x ** 2) + epsilon) * scale``.
RMS_NORM = (
    Step("SQUARE", ("x",), "squares"),
    Step("MEAN", ("squares", "$axes"), "mean_square", {"keep_dims": True}),
    Step("ADD", ("mean_square", "$epsilon"), "mean_square_eps", commutative=True),
    Step("RSQRT", ("mean_square_eps",), "inv"),
    Step("MUL", ("x", "inv"), "normalized", commutative=True),
    Step("MUL", ("normalized", "$gamma"), "y", commutative=True, optional=True),
)


def _norm(steps: tuple[Step, ...]) -> Rule:
    return Rule("layer_norm", steps, "y", params.layer_norm, build.layer_norm, "LayerNormalization")


# -- activations ---------------------------------------------------------------------

#: ``x * sigmoid(x)``.
SWISH = (
    Step("LOGISTIC", ("x",), "sigmoid"),
    Step("MUL", ("x", "sigmoid"), "y", commutative=True),
)
#: ``0.044715 * x * x * x``.
CUBIC = (
    Step("MUL", ("x", "$cubic"), "cubic_x", commutative=True),
    Step("MUL", ("cubic_x", "x"), "cubic_x2", commutative=True),
    Step("MUL", ("cubic_x2", "x"), "cubic_x3", commutative=True),
)
#: ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x * x * x)))``.
GELU_TANH = (Step("MUL", ("x", "$half"), "half_x", commutative=True),) + CUBIC + (
    Step("ADD", ("x", "cubic_x3"), "inner", commutative=True),
    Step("MUL", ("inner", "$sqrt_2_over_pi"), "argument", commutative=True),
    Step("TANH", ("argument",), "tanh"),
    Step("ADD", ("tanh", "$one"), "one_plus_tanh", commutative=True),
    Step("MUL", ("half_x", "one_plus_tanh"), "y", commutative=True),
)
#: ``x * 0.5 * (1 + tanh(sqrt(2 / pi) * x * (1 + 0.044715 * x * x)))``.
GELU_TANH_FACTORED = (
    Step("MUL", ("x", "$half"), "half_x", commutative=True),
    Step("MUL", ("x", "$sqrt_2_over_pi"), "scaled_x", commutative=True),
    Step("MUL", ("x", "$cubic"), "cubic_x", commutative=True),
    Step("MUL", ("cubic_x", "x"), "cubic_x2", commutative=True),
    Step("ADD", ("cubic_x2", "$one"), "factor", commutative=True),
    Step("MUL", ("scaled_x", "factor"), "argument", commutative=True),
    Step("TANH", ("argument",), "tanh"),
    Step("ADD", ("tanh", "$one"), "one_plus_tanh", commutative=True),
    Step("MUL", ("half_x", "one_plus_tanh"), "y", commutative=True),
)
#: ``x * sigmoid(2 sqrt(2 / pi) * (x + 0.044715 * x * x * x))``: the tanh form, as ``0.5 (1 + tanh z) = sigmoid(2z)``.
GELU_SIGMOID = CUBIC + (
    Step("ADD", ("x", "cubic_x3"), "inner", commutative=True),
    Step("MUL", ("inner", "$two_sqrt_2_over_pi"), "argument", commutative=True),
    Step("LOGISTIC", ("argument",), "sigmoid"),
    Step("MUL", ("x", "sigmoid"), "y", commutative=True),
)
GELU_CONSTANTS = {"$half": 0.5, "$one": 1.0, "$cubic": 0.044715, "$sqrt_2_over_pi": math.sqrt(2 / math.pi),
                  "$two_sqrt_2_over_pi": 2 * math.sqrt(2 / math.pi)}


def _activation(steps: tuple[Step, ...], name: str, function: str) -> Rule:
    """An ``Activation(function)`` (``function`` as the layer's activation names itself)."""
    return Rule(name, steps, "y", params.activation(function), build.activation, "Activation", GELU_CONSTANTS)


# -- dilated convolutions ------------------------------------------------------------

_CONV = ("CONV_2D", "DEPTHWISE_CONV_2D")
#: A dilated convolution over two spatial axes.
DILATED_CONV = (
    Step("SPACE_TO_BATCH_ND", ("x", "$block", "$pads"), "phased"),
    Step(_CONV, ("phased", ANY, ANY), "conv", {"fused_activation_function": ANY}),
    Step("BATCH_TO_SPACE_ND", ("conv", "$block", "$crops"), "y"),
)
#: A dilated ``Conv1D``: the convolution runs on a unit axis added and removed around it.
DILATED_CONV_1D = (
    Step("SPACE_TO_BATCH_ND", ("x", "$block", "$pads"), "phased"),
    Step("EXPAND_DIMS", ("phased", "$axis"), "phased_2d"),
    Step(_CONV, ("phased_2d", ANY, ANY), "conv", {"fused_activation_function": ANY}),
    Step(("RESHAPE", "SQUEEZE"), ("conv", ANY), "conv_1d"),
    Step("BATCH_TO_SPACE_ND", ("conv_1d", "$block", "$crops"), "y"),
)


# -- dense layers on more than one axis ---------------------------------------------

#: ``Dense`` on a rank-3+ input with the batch free: the converter flattens every axis but the last
#: into the batch (``RESHAPE`` to ``[-1, C]``), runs ``FULLY_CONNECTED`` and reshapes back.
DENSE = (
    Step("RESHAPE", ("x", ANY), "flat"),
    Step("FULLY_CONNECTED", ("flat", ANY, ANY), "dense", {"fused_activation_function": ANY, "keep_num_dims": False}),
    Step("RESHAPE", ("dense", ANY), "y"),
)


#: Every rule, in the order ``find`` tries them.
RULES: tuple[Rule, ...] = (
    _norm(LAYER_NORM_KERAS),
    _norm(LAYER_NORM_MOMENTS),
    _norm(LAYER_NORM_CENTERED),
    Rule("rms_norm", RMS_NORM, "y", params.rms_norm, build.rms_norm, "RMSNormalization"),
    _activation(GELU_TANH, "gelu", "gelu_approximate"),
    _activation(GELU_TANH_FACTORED, "gelu", "gelu_approximate"),
    _activation(GELU_SIGMOID, "gelu", "gelu_approximate"),
    _activation(SWISH, "swish", "silu"),
    Rule("dilated_conv", DILATED_CONV, "y", params.dilated_conv, build.dilated_conv, "Conv2D", takes=("conv",)),
    Rule("dilated_conv", DILATED_CONV_1D, "y", params.dilated_conv, build.dilated_conv, "Reshape", takes=("conv",)),
    Rule("dense", DENSE, "y", params.dense, build.dense, "Dense", takes=("dense",)),
)

__all__ = ["RULES"]
