"""TFLite's fused activations and their Keras forms: the one table convert, lint and align read.

An op whose :class:`~tflite2keras.ops.registry.OpSpec` has ``fused_activation=True`` applies
its ``fused_activation_function`` option to its result. :data:`KERAS` gives, for every
value of TFLite's ``ActivationFunctionType``, the Keras activation it stands for, or None
where Keras has none (``SIGN_BIT``). ``RELU_N1_TO_1`` clips to [-1, 1], which is Keras's
``hard_tanh``.

TFLite's float and integer kernels for the ops registered here (convolutions, pools,
element-wise ops) only clamp: they apply RELU, RELU6 and RELU_N1_TO_1 and leave the result
unchanged for TANH and SIGN_BIT (measured on the interpreter, XNNPACK and builtin kernels
alike). Converting such a TANH to ``tanh`` would disagree with TFLite, and converting it to
nothing with the file's author, so :func:`keras_activation` raises
:class:`~tflite2keras.errors.UnsupportedOpError` for both there; only the recurrent kernels
whose spec says ``full_activation`` compute TANH itself. The TF converter never fuses TANH or
SIGN_BIT into a clamping op. :func:`clamp` applies a fused activation in numpy (for
``OpSpec.fold``).

Example:
    >>> from tflite2keras.ops.fused import KERAS
    >>> KERAS["RELU_N1_TO_1"], KERAS["RELU6"], KERAS["SIGN_BIT"]
    ('hard_tanh', 'relu6', None)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .registry import OpSpec, find

#: The operator option that names the fused activation.
OPTION = "fused_activation_function"
#: TFLite ``ActivationFunctionType`` name -> the Keras activation that computes it (None: none does).
KERAS: dict[str, str | None] = {
    "NONE": "linear", "RELU": "relu", "RELU_N1_TO_1": "hard_tanh", "RELU6": "relu6", "TANH": "tanh",
    "SIGN_BIT": None,
}
#: The clamping activations: name -> (low, high) bounds of the result (None: unbounded).
CLAMPS: dict[str, tuple[float | None, float | None]] = {
    "NONE": (None, None), "RELU": (0, None), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}
#: Keras layer classes that apply an activation and nothing else (a fused activation's own layer).
ACTIVATION_LAYERS = ("ReLU", "Activation")


def fused(op: Operator, spec: OpSpec | None = None) -> str:
    """The op's fused activation as TFLite names it; ``"NONE"`` when its spec declares none.

    Example:
        >>> from tflite2keras.tflite.model import Operator
        >>> fused(Operator(0, "CONV_2D", 1, (0, 1, 2), (3,), {"fused_activation_function": "RELU6"}))
        'RELU6'
    """
    spec = spec if spec is not None else find(op.opcode)
    if spec is None or not spec.fused_activation:
        return "NONE"
    return str(op.options.get(OPTION, "NONE"))


def keras_form(op: Operator) -> str:
    """The Keras name of the op's fused activation (``"linear"`` for none), for comparisons.

    An activation Keras cannot express keeps its TFLite name in lower case (``"sign_bit"``),
    so that it equals no Keras activation.
    """
    name = fused(op)
    return KERAS.get(name) or name.lower()


def applies_in_full(op: Operator) -> bool:
    """True when the op's kernel applies its fused activation in full, not only as a clamp
    (its spec's ``full_activation``: the recurrent ops)."""
    spec = find(op.opcode)
    return spec is not None and spec.full_activation


def keras_activation(op: Operator) -> str | None:
    """The ``activation=`` argument that computes the op's fused activation, or None for none.

    Raises:
        UnsupportedOpError: no Keras activation computes it (SIGN_BIT), or the op's kernel only
            clamps and ignores it (TANH where the spec does not say ``full_activation``); names the op,
            option and value.

    Example:
        >>> from tflite2keras.tflite.model import Operator
        >>> keras_activation(Operator(4, "ADD", 1, (0, 1), (2,), {"fused_activation_function": "SIGN_BIT"}))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tflite2keras.errors.UnsupportedOpError: op 4 (ADD) has fused_activation_function=SIGN_BIT, ...
    """
    name = fused(op)
    keras = KERAS.get(name)
    if keras is None:
        known = ", ".join(k for k, v in KERAS.items() if v is not None)
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has {OPTION}={name}, which no Keras activation "
                                 f"computes; supported: {known}")
    if name not in CLAMPS and not applies_in_full(op):
        raise UnsupportedOpError(
            f"op {op.index} ({op.opcode}) has {OPTION}={name}, which TFLite's {op.opcode} kernel ignores (it "
            f"only clamps: {', '.join(CLAMPS)}), so the file computes no activation where it names {keras}; "
            "set the option to NONE or move the activation into its own op")
    return None if keras == "linear" else keras


def clamp(op: Operator, value: np.ndarray) -> np.ndarray:
    """``value`` with the op's fused activation applied, as TFLite's clamping kernels do (for folds).

    Raises:
        UnsupportedOpError: the activation is not a clamp (TANH, SIGN_BIT), as :func:`keras_activation`.

    Example:
        >>> from tflite2keras.tflite.model import Operator
        >>> add = Operator(0, "ADD", 1, (0, 1), (2,), {"fused_activation_function": "RELU6"})
        >>> clamp(add, np.arange(-1, 9)).tolist()
        [0, 0, 1, 2, 3, 4, 5, 6, 6, 6]
    """
    name = fused(op)
    if name not in CLAMPS:
        keras_activation(op)  # raises: TFLite's clamping kernels do not compute it
    low, high = CLAMPS.get(name, (None, None))
    value = np.asarray(value)
    if low is not None:
        value = np.maximum(value, np.asarray(low, value.dtype))
    if high is not None:
        value = np.minimum(value, np.asarray(high, value.dtype))
    return value


def check_declared(op: Operator, spec: OpSpec) -> None:
    """Raise when the op fuses an activation that its spec does not declare (it would be dropped).

    Raises:
        UnsupportedOpError: the op's options carry a fused activation other than NONE, and
            ``spec.fused_activation`` is False.
    """
    value = op.options.get(OPTION, "NONE") if not spec.fused_activation else "NONE"
    if value != "NONE":
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has {OPTION}={value}, but its op spec does not "
                                 "declare fused_activation=True, so its converter would drop it")


def layer_activation(layer: Any) -> str:
    """The activation a Keras layer applies itself: its ``activation=``, or a ReLU layer's."""
    if type(layer).__name__ == "ReLU":
        if layer.negative_slope or layer.threshold or layer.max_value not in (None, 6):
            return (f"relu(max_value={layer.max_value}, negative_slope={layer.negative_slope}, "
                    f"threshold={layer.threshold})")
        return "relu6" if layer.max_value == 6 else "relu"
    function = getattr(layer, "activation", None)
    return getattr(function, "__name__", "linear") if function is not None else "linear"


def follower_activation(layer: Any) -> str:
    """The activation of a layer that follows an op, when it is an activation-only layer."""
    return layer_activation(layer) if type(layer).__name__ in ACTIVATION_LAYERS else "linear"


def fused_away(op: Operator, layer: Any) -> bool:
    """True when TFLite fused an activation into ``op`` that ``layer`` leaves to a later layer."""
    return fused(op) != "NONE" and layer_activation(layer) == "linear"


__all__ = ["ACTIVATION_LAYERS", "CLAMPS", "applies_in_full", "KERAS", "OPTION", "check_declared", "clamp",
           "follower_activation", "fused", "fused_away", "keras_activation", "keras_form", "layer_activation"]
