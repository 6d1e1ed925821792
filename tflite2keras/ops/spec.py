"""What tflite2keras knows about one TFLite op: :class:`OpSpec` and its :class:`WeightSlot` s.

A spec says which Keras layer classes an op maps onto, which of its input slots hold weights
and in which layout, how to check a Keras layer's config against the op's options (the lint),
how to convert and fold it. :mod:`tflite2keras.ops.registry` keys the specs by opcode.

Example:
    >>> from tflite2keras.ops.layout import Layout
    >>> spec = OpSpec("MY_CONV", layers=("Conv2D",),
    ...               weights=(WeightSlot(1, "kernel", Layout("OHWI", "HWIO")), WeightSlot(2, "bias")))
    >>> spec.weight_roles, spec.name_slots
    (('kernel', 'bias'), (1,))
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .layout import VECTOR, Layout

if TYPE_CHECKING:
    from ..tflite.model import Operator, TFLiteModel
    from .contract import Converter

#: (field, keras value, tflite value) - one disagreement found by a spec's check.
Mismatch = tuple[str, Any, Any]
#: A lint check: (op, keras layer, model) -> disagreements.
Check = Callable[["Operator", Any, "TFLiteModel"], Iterable[Mismatch]]
#: (option, value, what the interpreter expects) - one option its Prepare rejects.
Rejection = tuple[str, Any, str]
#: A Prepare check: (op, model) -> the options the interpreter rejects (see :mod:`tflite2keras.ops.prepare`).
PrepareCheck = Callable[["Operator", "TFLiteModel"], Iterable[Rejection]]


@dataclass(frozen=True)
class WeightSlot:
    """An op input that holds a weight, the Keras variable it fills, and its layout."""

    slot: int
    role: str
    layout: Layout = VECTOR
    optional: bool = True
    #: the slot holds a weight even when it is a plain integer constant (a lookup table), not only
    #: when it is a float or quantized one.
    integer: bool = False

    def holds_weight(self, model: TFLiteModel, index: int) -> bool:
        """True when tensor ``index`` in this slot is a weight a Keras variable takes."""
        return is_weight(model, index) or (self.integer and model.is_constant(index))


@dataclass(frozen=True)
class OpSpec:
    """What tflite2keras knows about one TFLite op.

    Attributes:
        opcode: builtin name (``"CONV_2D"``) or custom code (``"Convolution2DTransposeBias"``).
        layers: Keras layer class names that can stand for this op.
        weights: the op's weight inputs.
        checks: lint checks comparing a Keras layer's config with the op's options (the
            fused-activation check is added by ``fused_activation``).
        fused_activation: the op applies its ``fused_activation_function`` option. ``convert``
            then builds it (:mod:`tflite2keras.ops.fused`), ``lint`` checks it, and ``align``
            knows that the op's output comes after it; an op whose spec does not declare it
            but whose options carry one does not convert.
        full_activation: the op's kernel applies its fused activation in full (TANH, SIGMOID:
            the recurrent ops' ``ApplyActivationToVector``), where other kernels only clamp.
        folds_batchnorm: TFLite folds a BatchNormalization that follows the op into its
            weights and bias; see :mod:`tflite2keras.ops.batchnorm`.
        transparent: TFLite may put the op in front of an op a Keras layer stands for, and
            the layer folds it in (``PAD``, ``QUANTIZE``): ``align`` looks through it.
        converter: builds a Keras layer for the op (used by ``convert``); optional.
        parse_options: decodes a custom op's ``custom_options`` bytes into named fields
            (used by :func:`tflite2keras.ops.custom_options.parse`); optional.
        fold: evaluates the op in numpy on known inputs, ``fold(op, values) -> outputs`` (values
            in slot order, None for an absent optional input), exactly as TFLite computes it.
            :mod:`tflite2keras.ops.fold` uses it to fold shape arithmetic with the batch kept free,
            so the op then builds no layer; optional.
        reads_shape: ``fold`` reads only its inputs' shapes (``SHAPE``), so it folds on a tensor
            whose values are unknown.
        prepare: checks of the op's options and tensor shapes that the interpreter's Prepare
            makes and that are particular to the op (``PACK``'s ``values_count`` is its number of
            inputs; a ``CONV_2D``'s input and filter have rank 4: :mod:`tflite2keras.ops.prepare_shapes`);
            ``convert`` runs them in order, up to the first that rejects, with the checks every
            op's options get (option type, strides, enums, axis: :mod:`tflite2keras.ops.prepare`),
            before any converter.
    """

    opcode: str
    layers: tuple[str, ...] = ()
    weights: tuple[WeightSlot, ...] = ()
    checks: tuple[Check, ...] = ()
    fused_activation: bool = False
    full_activation: bool = False
    folds_batchnorm: bool = False
    transparent: bool = False
    converter: Converter | None = field(default=None, compare=False)
    parse_options: Callable[[bytes], dict[str, Any]] | None = field(default=None, compare=False)
    fold: Callable[..., list[Any]] | None = field(default=None, compare=False)
    reads_shape: bool = False
    prepare: tuple[PrepareCheck, ...] = field(default=(), compare=False)

    @property
    def weight_roles(self) -> tuple[str, ...]:
        """The Keras variable names this op's weights fill, in slot order."""
        return tuple(w.role for w in self.weights)

    def slot(self, role: str) -> WeightSlot | None:
        """The weight slot that fills the Keras variable ``role`` (``"bias"`` ...), or None."""
        return next((w for w in self.weights if w.role == role), None)

    @property
    def name_slots(self) -> tuple[int, ...]:
        """Weight slots whose tensor names carry the layer's name: all but the bias, whose
        constant is often shared by several ops and named after another layer."""
        return tuple(w.slot for w in self.weights if w.role != "bias")

    def accepts(self, layer: Any) -> bool:
        """True when ``layer`` (an instance) is of one of :attr:`layers` or a subclass."""
        return any(cls.__name__ in self.layers for cls in type(layer).__mro__)



def is_weight(model: TFLiteModel, index: int) -> bool:
    """True when tensor ``index`` is a constant a Keras variable holds: a float one, or a quantized
    one (int8 weights, int32 biases); not a plain integer or bool constant (an index, a shift, a
    divisor), which converters keep in the layer config."""
    if not model.is_constant(index):
        return False
    tensor = model.tensor(index)
    quantized = tensor.quantization is not None and len(tensor.quantization.scales) > 0
    return tensor.dtype.startswith(("FLOAT", "COMPLEX")) or quantized
