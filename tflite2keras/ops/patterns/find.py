"""Find every pattern match of a file: the rules of :data:`~tflite2keras.ops.patterns.rules.RULES`, tried in order.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> find(read(tiny.tflite()))
    []
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ...tflite.model import TFLiteModel
from ..contract import ConvertContext
from ..memo import per_model
from .base import Found, PatternMatch, Rule
from .match import match
from .rules import RULES


def find(tfl: TFLiteModel) -> list[PatternMatch]:
    """Every non-overlapping pattern match in subgraph 0, in graph order.

    Rules are tried in the order of :data:`~tflite2keras.ops.patterns.rules.RULES`, each from every
    op that can start its chain in graph order; an op belongs to at most one match.
    """
    # convert, transplant, align and lint all ask: searched once per file (a copy, as align consumes it)
    return list(per_model(tfl, "patterns", id(RULES), lambda: search(tfl, RULES)))


def held(tfl: TFLiteModel) -> set[int]:
    """The ops covered by a pattern whose weights no Keras layer takes one by one: ``transplant``
    never pairs them with a layer, nor reports them unused (the pattern's layers hold their values)."""
    return {i for m in find(tfl) for i in m.ops if i not in m.takes}


def search(tfl: TFLiteModel, rules: tuple[Rule, ...]) -> list[PatternMatch]:
    """:func:`find` over the given rules."""
    taken: set[int] = set()
    found: list[PatternMatch] = []
    for rule in rules:
        for op in tfl.operators:
            if op.index in taken or op.opcode not in rule.steps[0].opcodes:
                continue
            result = match(tfl, rule, op, taken)
            if result is None:
                continue
            hit, params = result
            taken |= set(hit.indices)
            filled: list[str] = []
            takes = tuple(hit.ops[name].index for name in rule.takes if name in hit.ops)
            found.append(PatternMatch(rule.name, hit.indices, partial(_build, rule, hit, params, filled), hit.inputs,
                                      hit.tensors[rule.output], params.get("layer", rule.layer),
                                      params.get("activation", ""), takes, filled))
    return sorted(found, key=lambda m: m.ops[-1])


def _build(rule: Rule, hit: Found, params: dict[str, Any], filled: list[str], ctx: ConvertContext) -> dict[int, Any]:
    return {hit.tensors[rule.output]: rule.build(ctx, hit, params, filled)}
