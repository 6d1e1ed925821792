"""TFLite's fused activations and their Keras forms: the one table convert, lint and align read.

An op whose :class:`~tflite2keras.registry.OpSpec` has ``fused_activation=True`` applies
its ``fused_activation_function`` option to its result. :data:`KERAS` gives, for every
value of TFLite's ``ActivationFunctionType``, the Keras activation that computes it, or
None where Keras has none (``SIGN_BIT``); ``convert`` raises
:class:`~tflite2keras.errors.UnsupportedOpError` for those. ``RELU_N1_TO_1`` clips to
[-1, 1], which is Keras's ``hard_tanh``.

TFLite's float kernels for the ops registered here (convolutions, pools, element-wise ops)
only clamp: they apply RELU, RELU6 and RELU_N1_TO_1 and leave the result of TANH and
SIGN_BIT unchanged. The TF converter never fuses those two into such ops, and ``verify``
would report a file that does.

Example:
    >>> from tflite2keras.activations import KERAS
    >>> KERAS["RELU_N1_TO_1"], KERAS["RELU6"], KERAS["SIGN_BIT"]
    ('hard_tanh', 'relu6', None)
"""

from __future__ import annotations

from typing import Any

from .errors import UnsupportedOpError
from .model import Operator
from .registry import OpSpec, find

#: The operator option that names the fused activation.
OPTION = "fused_activation_function"
#: TFLite ``ActivationFunctionType`` name -> the Keras activation that computes it (None: none does).
KERAS: dict[str, str | None] = {
    "NONE": "linear", "RELU": "relu", "RELU_N1_TO_1": "hard_tanh", "RELU6": "relu6", "TANH": "tanh",
    "SIGN_BIT": None,
}
#: Keras layer classes that apply an activation and nothing else (a fused activation's own layer).
ACTIVATION_LAYERS = ("ReLU", "Activation")


def fused(op: Operator, spec: OpSpec | None = None) -> str:
    """The op's fused activation as TFLite names it; ``"NONE"`` when its spec declares none.

    Example:
        >>> from tflite2keras.model import Operator
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


def keras_activation(op: Operator) -> str | None:
    """The ``activation=`` argument that computes the op's fused activation, or None for none.

    Raises:
        UnsupportedOpError: no Keras activation computes it; names the op, option and value.

    Example:
        >>> from tflite2keras.model import Operator
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
    return None if keras == "linear" else keras


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
        return "relu6" if layer.max_value == 6 else "relu"
    function = getattr(layer, "activation", None)
    return getattr(function, "__name__", "linear") if function is not None else "linear"


def follower_activation(layer: Any) -> str:
    """The activation of a layer that follows an op, when it is an activation-only layer."""
    return layer_activation(layer) if type(layer).__name__ in ACTIVATION_LAYERS else "linear"


def fused_away(op: Operator, layer: Any) -> bool:
    """True when TFLite fused an activation into ``op`` that ``layer`` leaves to a later layer."""
    return fused(op) != "NONE" and layer_activation(layer) == "linear"


__all__ = ["ACTIVATION_LAYERS", "KERAS", "OPTION", "check_declared", "follower_activation", "fused",
           "fused_away", "keras_activation", "keras_form", "layer_activation"]
