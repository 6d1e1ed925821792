"""A Keras weight layer paired with a TFLite weight op, and how messages name both sides.

:mod:`tflite2keras.weights.matching` makes the pairs, :mod:`tflite2keras.weights.align` walks
the graphs with them, and :func:`unpaired_error` reports what neither could pair.

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> tfl = t2k.read(tiny.tflite())
    >>> op_label(tfl, tfl.operators[0])
    'op 0 CONV_2D conv_1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import MappingError
from ..ops.spec import OpSpec
from ..tflite.model import Operator, TFLiteModel
from ..tflite.names import op_names


@dataclass(frozen=True)
class Match:
    """One Keras layer paired with one TFLite op, and the rule that paired them."""

    layer: Any
    op: Operator
    spec: OpSpec
    rule: str


def all_layers(model: Any) -> list[Any]:
    """Every layer, nested models included (each model before its own layers), in graph order."""
    out: list[Any] = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out += all_layers(layer)
    return out


def weight_layers(model: Any) -> list[Any]:
    """Every layer that owns variables, nested models flattened, in graph order."""
    return [la for la in all_layers(model) if la.weights and not getattr(la, "layers", None)]


def op_name(tfl: TFLiteModel, op: Operator) -> str:
    """The name of a weight op: its first weight's layer scope, else its output tensor's name."""
    names = op_names(tfl, op, (1,))
    return names[0] if names else tfl.tensor(op.outputs[0]).name


def op_label(tfl: TFLiteModel, op: Operator) -> str:
    """``op 88 DEPTHWISE_CONV_2D depthwise_conv2d_9``: how messages name a weight op."""
    return f"op {op.index} {op.opcode} {op_name(tfl, op)}"


def layer_label(layer: Any) -> str:
    """``'stem_act' (PReLU: alpha (96, 96, 24))``: how messages name a Keras weight layer."""
    shapes = ", ".join(f"{v.name} {tuple(v.shape)}" for v in layer.weights)
    return f"{layer.name!r} ({type(layer).__name__}{': ' + shapes if shapes else ''})"


def unpaired_error(what: str, tfl: TFLiteModel, matches: list[Match], unmatched: list[Any],
                   unused: list[Operator], hint: str, table: str | None = None) -> MappingError:
    """The error for a pairing that left Keras weight layers or TFLite weight ops over.

    It counts both sides, names the first of each (the unpaired op with the layer the weight op
    before it filled, where the two graphs part), then lists them all (the first 20 of each).

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> tfl = t2k.read(tiny.tflite())
        >>> print(str(unpaired_error("transplant", tfl, [], [], tfl.operators[:1], "Pass overrides.")).splitlines()[0])
        transplant from <bytes>: 0 of 0 Keras weight layers and 1 of 1 TFLite weight ops could not be paired
    """
    ops = {m.op.index for m in matches} | {op.index for op in unused}
    lines = [f"{what} from {tfl.source}: {len(unmatched)} of {len(matches) + len(unmatched)} Keras weight layers "
             f"and {len(unused)} of {len(ops)} TFLite weight ops could not be paired"
             + (f" (mapping table {table})" if table else "")]
    if unmatched:
        lines.append(f"  first Keras layer with no TFLite op: {layer_label(unmatched[0])}.")
    if unused:
        op = min(unused, key=lambda o: o.index)
        shapes = " ".join("x".join(map(str, tfl.tensor(t).shape)) for t in op.inputs[1:] if t >= 0)
        filled = {m.op.index: m.layer.name for m in matches}
        before = max((i for i in filled if i < op.index), default=None)
        context = (f"; the weight op before it, op {before}, filled Keras layer {filled[before]!r}"
                   if before is not None else "")
        lines.append(f"  first TFLite weight op with no Keras layer: {op_label(tfl, op)} (weights {shapes}){context}.")
    for title, names in (("Keras layers with no TFLite op", [la.name for la in unmatched]),
                         ("TFLite weight ops no Keras layer takes",
                          [op_label(tfl, op) for op in sorted(unused, key=lambda o: o.index)])):
        if names:
            more = f", ... ({len(names) - 20} more)" if len(names) > 20 else ""
            lines.append(f"  {title} ({len(names)}): {', '.join(names[:20])}{more}")
    lines.append(f"  {hint}")
    return MappingError("\n".join(lines))
