"""Walk a Keras functional graph and a TFLite graph side by side.

Starting from the model inputs, each Keras layer is paired with the TFLite op that
reads the TFLite tensors its inputs correspond to and that the registry says can
stand for it (a weight layer keeps the op ``transplant`` matched it with). This
pairs the weightless layers too, such as pools, so that ``lint`` can check them and
``verify(per_layer=True)`` can compare every layer with the interpreter's tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..ops.batchnorm import folded_batchnorm, is_batchnorm
from ..ops.fused import ACTIVATION_LAYERS, fused_away
from ..ops.patterns import PatternMatch
from ..ops.patterns import find as find_patterns
from ..ops.registry import find
from ..tflite.model import Operator, TFLiteModel
from ..tflite.names import input_name, sanitize
from ..tflite.quant import affine
from .pairs import Match, unpaired_error

#: Layers that round a tensor to the quantization grid the file gives it: the file's tensor is the
#: same before and after them (``align`` pairs through them).
GRID_LAYERS = ("FakeQuant", "Saturate")


@dataclass(frozen=True)
class Pair:
    """A Keras layer, its TFLite op, and the TFLite tensor its output equals (or None).

    ``sources`` are the Keras tensors, each with its TFLite tensor, from which the layer's
    output is computed without passing another compared tensor: the layer's inputs, or,
    for an activation TFLite fused into a conv, the conv's inputs.
    """

    layer: Any
    op: Operator
    tensor: int | None
    fused: bool = False
    sources: tuple[tuple[Any, int], ...] = ()
    output: Any = None

    @property
    def compared(self) -> Any:
        """The Keras tensor that equals :attr:`tensor`: the layer's output, or that of the
        ``FakeQuant`` after it, which rounds it to the tensor's grid."""
        return self.layer.output if self.output is None else self.output


def align(keras_model: Any, tfl: TFLiteModel, matches: list[Match],
          fits: Callable[[Operator, Any], bool] | None = None) -> list[Pair]:
    """Pair Keras layers with TFLite ops in Keras graph order.

    Args:
        keras_model: a functional Keras model.
        tfl: the TFLite model.
        matches: weight matches from :func:`tflite2keras.weights.matching.match_layers`.
        fits: when given, a weight layer without a match is paired only with an op for
            which ``fits(op, layer)`` holds (used for structural matching).

    Returns:
        One :class:`Pair` per Keras layer that could be paired. A layer whose output
        differs from the op's output (a conv whose activation TFLite fused in) has
        ``tensor=None``; the activation layer after it gets the fused output.
    """
    weight_op = {m.layer.name: m.op for m in matches}
    found = find_patterns(tfl)
    inside = {i for m in found for i in m.ops}
    tensor_of: dict[int, int] = {id(k): t for k, t in zip(keras_model.inputs, input_tensors(keras_model, tfl))}
    before_act: dict[int, Operator] = {}  # Keras tensors equal to an op's result before its fused activation
    claimed: set[int] = set(inside)  # no layer stands for one op of a pattern, only for the whole chain
    pairs: list[Pair] = []
    for layer in keras_model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if not nodes or type(layer).__name__ == "InputLayer" or len(nodes[0].output_tensors) != 1:
            continue
        in_ids = [id(k) for k in nodes[0].input_tensors]
        out = id(nodes[0].output_tensors[0])
        kind = type(layer).__name__
        if len(in_ids) == 1 and in_ids[0] in before_act:  # a BN folded into, or an activation fused into, op
            op = before_act[in_ids[0]]
            if is_batchnorm(layer) and fused_away(op, layer):
                before_act[out] = op
                pairs.append(Pair(layer, op, None, fused=True))
            elif is_batchnorm(layer) or kind in ACTIVATION_LAYERS:
                tensor_of[out] = op.outputs[0]
                pairs.append(Pair(layer, op, op.outputs[0], True, _sources(nodes[0].input_tensors, tensor_of)))
            continue
        ins = [tensor_of.get(i) for i in in_ids]
        if not ins or None in ins:  # (the last layer of a pattern's build may follow others of its build)
            _pair_pattern(tfl, layer, nodes[0], tensor_of, found, pairs if fits is None else [])
            continue
        quantized_in = kind in GRID_LAYERS and affine(tfl.tensor(ins[0])) is not None
        if kind in GRID_LAYERS and not (quantized_in and _on_grid(layer, tfl.tensor(ins[0]))):
            # a float tensor's QUANTIZE, or a requantization to another grid
            op = next((op for op in tfl.consumers(ins[0]) if op.opcode == "QUANTIZE" and op.index not in claimed
                       and (not quantized_in or _on_grid(layer, tfl.tensor(op.outputs[0])))), None)
            if op is not None:
                claimed.add(op.index)
                tensor_of[out] = op.outputs[0]
                pairs.append(Pair(layer, op, op.outputs[0], False, _sources(nodes[0].input_tensors, tensor_of)))
            if op is not None or not quantized_in:
                continue
        if kind in GRID_LAYERS:  # rounds a tensor to the grid it has in the file: the same tensor
            tensor_of[out] = ins[0]
            last = next((j for j in range(len(pairs) - 1, -1, -1) if pairs[j].tensor == ins[0]), None)
            if last is not None:
                pairs[last] = replace(pairs[last], output=nodes[0].output_tensors[0])
            continue
        if is_batchnorm(layer):  # folded into the op that produced its input
            producer = tfl.producer(ins[0])
            if producer is not None:
                tensor_of[out] = ins[0]
                pairs.append(Pair(layer, producer, ins[0], True, _sources(nodes[0].input_tensors, tensor_of)))
            continue
        accept = fits if (fits is not None and layer.weights) else None
        op = weight_op.get(layer.name)
        if op is None or op.index in inside:  # no weight op of its own: the last layer of a pattern's build?
            if _pair_pattern(tfl, layer, nodes[0], tensor_of, found, pairs if fits is None else []) or op:
                continue
            op = _consumer(tfl, ins, layer, claimed, accept)
        if op is None:
            continue
        claimed.add(op.index)
        if fused_away(op, layer) or folded_batchnorm(layer, find(op.opcode)) is not None:
            before_act[out] = op
            pairs.append(Pair(layer, op, None))
        else:
            tensor_of[out] = op.outputs[0]
            pairs.append(Pair(layer, op, op.outputs[0], False, _sources(nodes[0].input_tensors, tensor_of)))
    return pairs


def align_strict(keras_model: Any, tfl: TFLiteModel, matched: tuple[list[Match], list[Any], list[Operator]],
                 what: str, hint: str, table: str | None = None) -> list[Pair]:
    """:func:`align`, once every weight layer and every weight op has its partner.

    Args:
        keras_model / tfl: as for :func:`align`.
        matched: what :func:`tflite2keras.weights.matching.match_layers` returned.
        what / hint / table: for the error's message (see :func:`tflite2keras.weights.pairs.unpaired_error`).

    Raises:
        MappingError: a weight layer that neither a weight op nor a pattern's chain stands for,
            or a weight op no layer takes; it counts both and names the first of each.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> from tflite2keras.weights.matching import match_layers
        >>> model, tfl = tiny.keras_model(), t2k.read(tiny.tflite())
        >>> [p.op.opcode for p in align_strict(model, tfl, match_layers(model, tfl, None, None, ()), "check", "")]
        ['CONV_2D', 'MAX_POOL_2D', 'CONV_2D']
    """
    matches, unmatched, unused = matched
    pairs = align(keras_model, tfl, matches)
    left = unpaired_layers(tfl, unmatched, pairs)
    if left or unused:
        raise unpaired_error(what, tfl, matches, left, unused, hint, table)
    return pairs


def unpaired_layers(tfl: TFLiteModel, unmatched: list[Any], pairs: list[Pair]) -> list[Any]:
    """The weight layers no weight op was matched with that the walk did not pair with a pattern's
    chain either (a LayerNormalization built from a chain holds the weights of its ops)."""
    inside = {i for m in find_patterns(tfl) for i in m.ops}
    chained = {id(p.layer) for p in pairs if p.op.index in inside}
    return [la for la in unmatched if id(la) not in chained]


def _sources(keras_tensors: Any, tensor_of: dict[int, int]) -> tuple[tuple[Any, int], ...]:
    """Walk back from ``keras_tensors`` to the nearest Keras tensors paired with TFLite tensors.

    Each Keras tensor is visited once: residual adds join paths that share their whole past,
    and walking every path separately would double the work with each block.
    """
    out: dict[int, tuple[Any, int]] = {}
    seen: set[int] = set()
    stack = list(keras_tensors)
    while stack:
        kt = stack.pop()
        if id(kt) in seen:
            continue
        seen.add(id(kt))
        if id(kt) in tensor_of:
            out.setdefault(id(kt), (kt, tensor_of[id(kt)]))
            continue
        history = getattr(kt, "_keras_history", None)
        if history is None:
            return ()
        stack += list(history.operation._inbound_nodes[history.node_index].input_tensors)
    return tuple(out.values())


def input_tensors(keras_model: Any, tfl: TFLiteModel) -> list[int]:
    """The TFLite input tensor of each Keras input, paired by name where possible.

    The TF converter may order inputs differently from Keras; its signature def (and
    ``serving_default_<name>:0`` tensor names) keep the Keras input names.
    """
    by_name: dict[str, int] = {}
    for signature in tfl.signature_defs.values():
        by_name.update(signature.get("inputs", {}))
    for index in tfl.inputs:
        name = tfl.tensor(index).name
        by_name.setdefault(name, index)
        by_name.setdefault(input_name(name), index)
    names = [getattr(k, "name", None) for k in keras_model.inputs]
    if len(keras_model.inputs) > 1 and all(n in by_name for n in names) and len({by_name[n] for n in names}) == len(names):
        return [by_name[n] for n in names]
    return list(tfl.inputs)


def _on_grid(layer: Any, tensor: Any) -> bool:
    """A grid layer (:data:`GRID_LAYERS`) rounds or clamps to ``tensor``'s own
    grid or range, not to that of a requantization of it."""
    edge = affine(tensor)
    if edge is None:
        return False
    if type(layer).__name__ == "Saturate":
        return bool(np.allclose((layer.low, layer.high), edge.range()))
    config = layer.get_config()
    return bool(np.allclose(np.reshape(config["scale"], -1), edge.scales)
                and np.array_equal(np.reshape(config["zero_point"], -1), edge.zero_points))


def _reachable(tfl: TFLiteModel, tensor: int) -> set[int]:
    """The tensor and the outputs of transparent ops (``OpSpec.transparent``) applied to it."""
    seen = {tensor}
    frontier = [tensor]
    while frontier:
        for op in tfl.consumers(frontier.pop()):
            spec = find(op.opcode)
            if spec is not None and spec.transparent and op.outputs[0] not in seen:
                seen.add(op.outputs[0])
                frontier.append(op.outputs[0])
    return seen


def _pair_pattern(tfl: TFLiteModel, layer: Any, node: Any, tensor_of: dict[int, int], found: list[PatternMatch],
                  pairs: list[Pair]) -> bool:
    """Pair ``layer`` with the pattern match whose output it computes, if any: a layer of the match's
    final kind (and activation), with its output's shape, computed from its inputs (through the
    other layers of the build). Structural matching passes no ``pairs``: it only walks on."""
    sources = _sources(node.input_tensors, tensor_of)
    shape = tuple(node.output_tensors[0].shape)
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    for match in found:
        tensor = tfl.tensor(match.output)
        want = tuple(tensor.shape_signature or tensor.shape)
        if (match.layer == type(layer).__name__ and match.activation in ("", activation)
                and {t for _, t in sources} == set(match.inputs) and len(shape) == len(want)
                and all(g is None or w < 0 or g == w for g, w in zip(shape[1:], want[1:]))):
            found.remove(match)
            tensor_of[id(node.output_tensors[0])] = match.output
            pairs.append(Pair(layer, tfl.operators[match.ops[-1]], match.output, False, sources))
            return True
    return False


def _consumer(tfl: TFLiteModel, ins: list[int], layer: Any, claimed: set[int],
              accept: Callable[[Operator, Any], bool] | None = None) -> Operator | None:
    reach = [_reachable(tfl, t) for t in ins]
    candidates = []
    for tensor in reach[0]:
        for op in tfl.consumers(tensor):
            spec = find(op.opcode)
            if op.index in claimed or spec is None or not spec.accepts(layer):
                continue
            if accept is not None and not accept(op, layer):
                continue
            if all(any(t in r for t in op.inputs) for r in reach):
                candidates.append(op)
    # Sibling ops of one layer kind on the same inputs (three slices of x; GREATER and LESS of |x|):
    # the first that computes the layer's shape and, among those, is the op it is named after.
    return min(candidates, key=lambda op: (not _computes_shape(tfl, op, layer), not _named_after(tfl, op, layer)),
               default=None)


def _computes_shape(tfl: TFLiteModel, op: Operator, layer: Any) -> bool:
    """The op's first output has the layer's output shape (same rank, known extents equal, batch aside)."""
    shape = tuple(layer._inbound_nodes[0].output_tensors[0].shape)
    tensor = tfl.tensor(op.outputs[0])
    want = tuple(tensor.shape_signature or tensor.shape)
    return len(shape) == len(want) and all(g is None or w < 0 or g == w for g, w in zip(shape[1:], want[1:]))


def _named_after(tfl: TFLiteModel, op: Operator, layer: Any) -> bool:
    """``convert`` named the layer after the op: its output tensor, or its opcode and index."""
    name = layer.name.rstrip("_")  # convert's unique names add underscores
    return name in (sanitize(tfl.tensor(op.outputs[0]).name), f"{op.opcode.lower()}_{op.index}")

