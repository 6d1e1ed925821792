"""Pair Keras layers with TFLite weight ops: overrides, table rules, names, then structure.

Matching only decides *which* op fills *which* layer; :mod:`tflite2keras.transplant`
then moves the tensors. The weight role of a tensor comes from the op's input slot,
never from its name: bias tensors carry fused names and may be shared by many ops.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..errors import MappingError
from ..ops.batchnorm import is_batchnorm
from ..ops.layout import Layout
from ..ops.patterns import held
from ..ops.registry import find
from ..ops.slots import weight_ops
from ..tflite.model import Operator, TFLiteModel
from ..tflite.names import op_names
from .align import align
from .mapping import MappingTable, as_table, op_index
from .pairs import Match, weight_layers


def match_layers(keras_model: Any, tfl: TFLiteModel, table: MappingTable | None,
                 overrides: dict[str, Any] | None, skip: Iterable[str]) -> tuple[list[Match], list[Any], list[Operator]]:
    """Pair the Keras model's weight layers with ``tfl``'s weight ops.

    Returns:
        The matches in Keras graph order, the unmatched Keras layers (``skip`` and
        BatchNormalization layers excluded: they are filled by the op folded into them, see
        :mod:`tflite2keras.ops.batchnorm`), and the unused TFLite weight ops.

    Raises:
        MappingError: an override or table rule names something that does not exist,
            or pairs a layer with an op of an incompatible kind.
    """
    table = as_table(table)
    skipped = set(skip)
    layers = [la for la in weight_layers(keras_model) if la.name not in skipped]
    inside = held(tfl)  # a pattern's layers hold these ops' weights: no layer takes them one by one
    ops = [op for op in weight_ops(tfl) if op.index not in inside]
    free = {op.index: op for op in ops}
    by_index = dict(free)
    names_of = {op.index: op_names(tfl, op, find(op.opcode).name_slots) for op in ops}
    matches: dict[str, Match] = {}

    def claim(layer: Any, op: Operator, rule: str) -> None:
        spec = find(op.opcode)
        if spec is None or not spec.accepts(layer):
            kinds = ", ".join(spec.layers) if spec else "none"
            raise MappingError(
                f"{rule} pairs Keras layer {layer.name!r} ({type(layer).__name__}) with op {op.index} "
                f"({op.opcode}), which fills {kinds} layers"
            )
        matches[layer.name] = Match(layer, op, spec, rule)
        free.pop(op.index, None)

    for layer in layers:  # 1. explicit overrides, 2. table rules
        target = None
        if overrides and layer.name in overrides:
            target = (overrides[layer.name], "override")
        elif table is not None:
            target = table.target(layer.name)
        if target is not None:
            claim(layer, _resolve(tfl, target[0], target[1], layer, ops, names_of, by_index), target[1])
    pending = [la for la in layers if la.name not in matches and not is_batchnorm(la)]
    for layer, index in _by_name(pending, names_of, free):  # 3. names
        claim(layer, free[index], "name")
    pending = [la for la in pending if la.name not in matches]
    if pending:  # 4. structure: follow the graph from the inputs, by op kind and weight shape
        fits = lambda op, layer: op.index in free and _fits(tfl, op, layer)  # noqa: E731
        for pair in align(keras_model, tfl, list(matches.values()), fits=fits):
            if pair.layer in pending and pair.layer.name not in matches and pair.op.index in free:
                claim(pair.layer, pair.op, "structure")
    for layer in pending:  # 5. structure, in graph order, for what the walk could not reach
        if layer.name not in matches:
            op = next((op for op in ops if op.index in free and _fits(tfl, op, layer)), None)
            if op is not None:
                claim(layer, op, "structure")
    ordered = [matches[la.name] for la in layers if la.name in matches]
    unmatched = [la for la in layers if la.name not in matches and not is_batchnorm(la)]
    return ordered, unmatched, [op for op in ops if op.index in free]


def _by_name(layers: list[Any], names_of: dict[int, list[str]], free: dict[int, Operator]) -> list[tuple[Any, int]]:
    """Pair layers with ops whose TFLite names carry the layer's name, one to one.

    Fused and deduplicated constants carry the names of several layers, so a name can
    point at several ops. Layers that only one free op names are paired first; each
    pairing removes an op, which can make another layer's choice unique. What stays
    ambiguous goes to the op where the name ranks best (its own scope before fused
    ones), then to the first in graph order. A Keras 3 export names layer ``conv``'s
    scope ``conv_1``; that counts when nothing else names the layer, and so does the name
    ``convert`` gives a layer after its op's kind and index (``add_2``: op 2, an ADD, whose
    constant may be shared with, and named after, another op).
    """
    def candidates(layer: Any) -> list[tuple[int, int]]:
        found = [(names.index(layer.name), i) for i, names in names_of.items()
                 if i in free and layer.name in names and find(free[i].opcode).accepts(layer)]
        found = found or [(0, i) for i in free if layer.name.rstrip("_") == f"{free[i].opcode.lower()}_{i}"
                          and find(free[i].opcode).accepts(layer)]  # convert's name for op i
        return found or [(0, i) for i, names in names_of.items() if i in free and names[:1] == [layer.name + "_1"]
                         and find(free[i].opcode).accepts(layer)]

    taken: set[int] = set()
    pairs: list[tuple[Any, int]] = []
    todo = {la.name: (la, candidates(la)) for la in layers}
    while todo:
        live = {n: (la, [(r, i) for r, i in c if i not in taken]) for n, (la, c) in todo.items()}
        live = {n: v for n, v in live.items() if v[1]}
        if not live:
            break
        unique = [(n, v) for n, v in live.items() if len({i for _, i in v[1]}) == 1]
        name, (layer, options) = unique[0] if unique else min(live.items(), key=lambda kv: min(kv[1][1]))
        index = min(options)[1]
        pairs.append((layer, index))
        taken.add(index)
        todo = {n: v for n, v in live.items() if n != name}
    return pairs


def _resolve(tfl: TFLiteModel, target: Any, rule: str, layer: Any, ops: list[Operator],
             names: dict[int, list[str]], by_index: dict[int, Operator]) -> Operator:
    """Find the weight op a table or override target names: '#op', a layer scope, or a tensor name."""
    index = op_index(target, f"{rule} of Keras layer {layer.name!r}")
    if index is not None:
        op = by_index.get(index)
        found = [op] if op is not None else []
    else:
        found = [op for op in ops if names[op.index][:1] == [target]]
        found = found or [op for op in ops if target in _weight_and_output_names(tfl, op)]
        found = found or [op for op in ops if target in names[op.index]]
    if not found:
        raise MappingError(
            f"{rule} maps Keras layer {layer.name!r} to {target!r}, but no weight op of the TFLite model "
            "has that index, layer scope or tensor name"
        )
    return found[0]


def _weight_and_output_names(tfl: TFLiteModel, op: Operator) -> set[str]:
    spec = find(op.opcode)
    slots = [w.slot for w in spec.weights] if spec else []
    names = {tfl.tensor(t).name for t in op.outputs}
    for s in slots:
        if op.has_input(s):
            names |= {tfl.tensor(op.inputs[s]).name, tfl.source_of(op.inputs[s]).name}
    return names


def _fits(tfl: TFLiteModel, op: Operator, layer: Any) -> bool:
    spec = find(op.opcode)
    if spec is None or not spec.accepts(layer):
        return False
    variables = {v.name: tuple(v.shape) for v in layer.weights}
    for slot in spec.weights:
        if slot.role not in variables or not op.has_input(slot.slot):
            continue
        if not _shape_fits(slot.layout, tfl.tensor(op.inputs[slot.slot]).shape, variables[slot.role]):
            return False
    return True


def _shape_fits(layout: Layout, source: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        layout.apply(np.broadcast_to(np.float32(0), source), target)
    except Exception:  # noqa: BLE001 - any failure means "does not fit"
        return False
    return True
