"""Patterns: chains of TFLite ops that one standard Keras layer computes (LayerNorm, GELU, ...).

``find(tfl)`` returns the matches; ``convert`` builds each match's layers in place of its ops.

A pattern is a :class:`Rule`: data naming its op chain, a function that checks the constants
and derives the layer's arguments, and one that builds the Keras layers. Each :class:`Step`
names an op's inputs and output: a plain name is a tensor (the same name twice is the same
tensor), ``$name`` a constant (twice: equal values), ``*`` anything. The rules are in the one
table :data:`tflite2keras.ops.patterns.rules.RULES` (checks in :mod:`~tflite2keras.ops.patterns.params`,
builders in :mod:`~tflite2keras.ops.patterns.build`, the search in :mod:`~tflite2keras.ops.patterns.match`).
A match needs its tensors to be float32 (a quantized chain converts op by op), every tensor the
chain computes but its output to be read only inside the chain and not be a graph output, and
the output to come from its last op.

Example:
    >>> from tflite2keras.ops.patterns.base import Step
    >>> Step("MUL", ("x", "sigmoid"), "y", commutative=True).names
    ('x', 'sigmoid')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ...errors import InvalidArgumentError
from ...tflite.model import Operator, Tensor, TFLiteModel

#: The input name that accepts any tensor, constant or absent, and binds nothing.
ANY = "*"


@dataclass(frozen=True)
class PatternMatch:
    """One occurrence of a pattern: the ops it covers and how to build their Keras layers.

    Attributes:
        pattern: the pattern's name.
        ops: the covered op indices, in graph order; only the last op's outputs are used
            outside the match.
        build: ``build(ctx) -> {tflite tensor index: keras tensor}`` for those outputs.
        inputs: the tensors the chain reads from the rest of the graph (constants excluded).
        output: the tensor the chain computes for the rest of the graph.
        layer: the class name of the Keras layer ``build`` ends with, whose output is ``output``.
        activation: that layer's activation function's name, for an ``Activation`` layer.
        takes: the covered ops whose weights a layer of the build takes through ``transplant``
            (``ctx.takes_weights``: the convolution of a dilated convolution). The weights of the
            other covered ops are held by the build's layers themselves or are no weights at all
            (a LayerNorm's epsilon): no Keras layer takes them one by one (see :func:`held`).
        filled: the Keras layers ``build`` created and whose variables it set itself from the
            file's constants (filled in when ``build`` runs); ``transplant`` must leave them alone.
    """

    pattern: str
    ops: tuple[int, ...]
    build: Callable[[Any], dict[int, Any]]
    inputs: tuple[int, ...] = ()
    output: int = -1
    layer: str = ""
    activation: str = ""
    takes: tuple[int, ...] = ()
    filled: list[str] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class Step:
    """One op of a pattern's chain.

    Attributes:
        opcode: the op's opcode, or a tuple of alternatives (``("CONV_2D", "DEPTHWISE_CONV_2D")``).
        inputs: one name per input slot: a tensor name, ``$name`` for a constant, or ``*``.
        output: the name of the op's (single) output tensor.
        options: option values the op must have. An op with a fused activation must have none
            (``"NONE"``) unless ``options`` names another or ``ANY``.
        commutative: a two-input op whose inputs may come in either order.
        optional: the op may be absent; its output name then stands for its first input
            (``MUL`` by gamma in a LayerNorm without scale).
    """

    opcode: str | tuple[str, ...]
    inputs: tuple[str, ...]
    output: str
    options: Mapping[str, Any] = field(default_factory=dict)
    commutative: bool = False
    optional: bool = False

    @property
    def opcodes(self) -> tuple[str, ...]:
        """The opcodes this step accepts."""
        return (self.opcode,) if isinstance(self.opcode, str) else tuple(self.opcode)

    @property
    def names(self) -> tuple[str, ...]:
        """The tensor names among the inputs (constants and ``*`` excluded)."""
        return tuple(n for n in self.inputs if n != ANY and not n.startswith("$"))


@dataclass(frozen=True)
class Rule:
    """A pattern: its op chain, the check of its constants, and its Keras builder.

    Attributes:
        name: the pattern's name (:attr:`PatternMatch.pattern`).
        steps: the chain, each step reading a tensor that an earlier step reads or computes
            (the first step is the anchor the search starts from).
        output: the name of the tensor the chain computes for the rest of the graph.
        params: ``params(found) -> dict | None``: the builder's arguments, or None when the
            constants or shapes rule the pattern out (the ops then convert one by one). A
            ``"layer"`` entry overrides :attr:`layer`, an ``"activation"`` entry names the
            activation function of an ``Activation`` layer (:attr:`PatternMatch.activation`).
        build: ``build(ctx, found, params, filled) -> keras tensor`` of ``output``; it appends to
            ``filled`` the names of the layers whose variables it set itself.
        layer: the class name of the Keras layer that computes ``output``.
        constants: values some ``$`` constants must have (to float32 rounding), checked as the
            chain is matched.
        takes: the outputs of the steps whose ops' weights the builder's layers take through
            ``transplant`` (:attr:`PatternMatch.takes`).
    """

    name: str
    steps: tuple[Step, ...]
    output: str
    params: Callable[[Found], dict[str, Any] | None]
    build: Callable[[Any, Found, dict[str, Any], list[str]], Any]
    layer: str = ""
    constants: Mapping[str, float] = field(default_factory=dict)
    takes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set(self.steps[0].names) if self.steps else set()
        for step in self.steps:
            if step is not self.steps[0] and not seen & set(step.names):
                raise InvalidArgumentError(f"pattern {self.name}: step {step.opcode} {step.inputs} reads no tensor "
                                           "an earlier step reads or computes")
            seen |= set(step.names) | {step.output}
        if self.output not in seen:
            raise InvalidArgumentError(f"pattern {self.name}: no step computes its output {self.output!r}")


@dataclass(frozen=True)
class Found:
    """What a rule's chain bound in one model: tensors, constant values and ops, by name."""

    tfl: TFLiteModel
    tensors: Mapping[str, int]
    values: Mapping[str, np.ndarray]
    ops: Mapping[str, Operator]

    def tensor(self, name: str) -> Tensor:
        """The TFLite tensor bound to ``name``."""
        return self.tfl.tensor(self.tensors[name])

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of the tensor bound to ``name``: its signature (-1 for a free extent)."""
        tensor = self.tensor(name)
        return tuple(tensor.shape_signature or tensor.shape)

    def op(self, output: str) -> Operator | None:
        """The op that computes tensor ``output``; None for an optional step that is absent."""
        return self.ops.get(output)

    @property
    def indices(self) -> tuple[int, ...]:
        """The matched op indices, in graph order."""
        return tuple(sorted(op.index for op in self.ops.values()))

    @property
    def last(self) -> Operator:
        """The chain's last op in graph order, which computes its output."""
        return self.tfl.operators[self.indices[-1]]

    @property
    def inputs(self) -> tuple[int, ...]:
        """The tensors the chain reads from the rest of the graph (constants excluded), in name order."""
        computed = {op.outputs[0] for op in self.ops.values()}
        return tuple(dict.fromkeys(i for n, i in self.tensors.items() if not n.startswith("$") and i not in computed))


__all__ = ["ANY", "Found", "PatternMatch", "Rule", "Step"]
