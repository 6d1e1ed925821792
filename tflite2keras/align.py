"""Walk a Keras functional graph and a TFLite graph side by side.

Starting from the model inputs, each Keras layer is paired with the TFLite op that
reads the TFLite tensors its inputs correspond to and that the registry says can
stand for it (a weight layer keeps the op ``transplant`` matched it with). This
pairs the weightless layers too, such as pools, so that ``lint`` can check them and
``verify(per_layer=True)`` can compare every layer with the interpreter's tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .matching import Match
from .model import Operator, TFLiteModel
from .registry import find

#: Ops that TFLite inserts around an op and that a Keras layer may fold in.
_TRANSPARENT = ("PAD", "DEQUANTIZE", "QUANTIZE")
_ACTIVATION_LAYERS = ("ReLU", "Activation")


@dataclass(frozen=True)
class Pair:
    """A Keras layer, its TFLite op, and the TFLite tensor its output equals (or None)."""

    layer: Any
    op: Operator
    tensor: int | None
    fused: bool = False


def align(keras_model: Any, tfl: TFLiteModel, matches: list[Match]) -> list[Pair]:
    """Pair Keras layers with TFLite ops in Keras graph order.

    Args:
        keras_model: a functional Keras model.
        tfl: the TFLite model.
        matches: weight matches from :func:`tflite2keras.matching.match_layers`.

    Returns:
        One :class:`Pair` per Keras layer that could be paired. A layer whose output
        differs from the op's output (a conv whose activation TFLite fused in) has
        ``tensor=None``; the activation layer after it gets the fused output.
    """
    weight_op = {m.layer.name: m.op for m in matches}
    tensor_of: dict[int, int] = {id(k): t for k, t in zip(keras_model.inputs, tfl.inputs)}
    claimed: set[int] = set()
    pairs: list[Pair] = []
    for layer in keras_model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if not nodes or type(layer).__name__ == "InputLayer":
            continue
        ins = [tensor_of.get(id(k)) for k in nodes[0].input_tensors]
        outs = nodes[0].output_tensors
        if not ins or None in ins or len(outs) != 1:
            continue
        op = weight_op.get(layer.name) or _consumer(tfl, ins, layer, claimed)
        if op is not None:
            claimed.add(op.index)
            tensor: int | None = op.outputs[0]
            if _activation_fused_away(op, layer):
                tensor = None
            else:
                tensor_of[id(outs[0])] = op.outputs[0]
            pairs.append(Pair(layer, op, tensor))
            continue
        producer = tfl.producer(ins[0])
        if (type(layer).__name__ in _ACTIVATION_LAYERS and producer is not None
                and producer.options.get("fused_activation_function", "NONE") != "NONE"):
            tensor_of[id(outs[0])] = ins[0]
            pairs.append(Pair(layer, producer, ins[0], fused=True))
    return pairs


def _reachable(tfl: TFLiteModel, tensor: int) -> set[int]:
    """The tensor and the outputs of transparent ops applied to it."""
    seen = {tensor}
    frontier = [tensor]
    while frontier:
        for op in tfl.consumers(frontier.pop()):
            if op.opcode in _TRANSPARENT and op.outputs[0] not in seen:
                seen.add(op.outputs[0])
                frontier.append(op.outputs[0])
    return seen


def _consumer(tfl: TFLiteModel, ins: list[int], layer: Any, claimed: set[int]) -> Operator | None:
    reach = [_reachable(tfl, t) for t in ins]
    for tensor in reach[0]:
        for op in tfl.consumers(tensor):
            spec = find(op.opcode)
            if op.index in claimed or spec is None or not spec.accepts(layer):
                continue
            if all(any(t in r for t in op.inputs) for r in reach):
                return op
    return None


def _activation_fused_away(op: Operator, layer: Any) -> bool:
    fused = op.options.get("fused_activation_function", "NONE")
    keras = getattr(getattr(layer, "activation", None), "__name__", "linear")
    return fused != "NONE" and keras == "linear"
