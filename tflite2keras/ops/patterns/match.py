"""The matcher of :mod:`tflite2keras.ops.patterns.base`: a backtracking search for one rule's chain from an anchor op.

Steps are matched in the rule's order. The first step is the anchor; each later one is tried on
the consumers of a tensor bound so far, in every input order when it is commutative, and, when
optional, also as absent. Names bind as they first appear (``$`` constants to their values) and
must agree after; the full chain must then pass the checks of :func:`accept` and the rule's
``params``. The first binding that passes is the match.

Example:
    >>> import numpy as np
    >>> is_close(np.float32(0.044715), 0.044715), is_close(np.array([0.5, 0.5]), 0.5)
    (True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tflite.model import Operator, TFLiteModel
from .base import ANY, Found, Rule, Step

_State = tuple[dict[str, int], dict[str, np.ndarray], dict[str, Operator]]


def match(tfl: TFLiteModel, rule: Rule, anchor: Operator, taken: set[int]) -> tuple[Found, dict[str, Any]] | None:
    """The first binding of ``rule`` starting at ``anchor`` that passes every check, or None."""
    def extend(k: int, state: _State) -> tuple[Found, dict[str, Any]] | None:
        if k == len(rule.steps):
            return accept(tfl, rule, state)
        step = rule.steps[k]
        for bound in _step_bindings(tfl, rule, step, anchor if k == 0 else None, state, taken):
            result = extend(k + 1, bound)
            if result is not None:
                return result
        if step.optional and step.names and step.inputs[0] in state[0] and step.output not in state[0]:
            tensors, values, ops = state
            return extend(k + 1, ({**tensors, step.output: tensors[step.inputs[0]]}, values, ops))
        return None

    return extend(0, ({}, {}, {}))


def _step_bindings(tfl: TFLiteModel, rule: Rule, step: Step, anchor: Operator | None, state: _State,
                   taken: set[int]) -> Any:
    """Every way one op can play ``step`` given what is bound so far (a generator of states)."""
    tensors, values, ops = state
    if anchor is not None:
        candidates = [anchor]
    else:
        reads = next(tensors[n] for n in step.names if n in tensors)
        candidates = tfl.consumers(reads)
    used = {op.index for op in ops.values()}
    for op in candidates:
        if (op.opcode not in step.opcodes or op.index in used or op.index in taken or len(op.outputs) != 1
                or len(op.inputs) > len(step.inputs) or not _options_ok(op, step)):
            continue
        slots = list(op.inputs) + [-1] * (len(step.inputs) - len(op.inputs))
        orders = [slots, slots[::-1]] if step.commutative and len(slots) == 2 else [slots]
        for order in orders:
            bound = _bind(tfl, rule, step.inputs, order, tensors, values)
            if bound is None:
                continue
            new_tensors, new_values = bound
            out = op.outputs[0]
            if new_tensors.get(step.output, out) != out or (step.output not in new_tensors and out in new_tensors.values()):
                continue
            yield {**new_tensors, step.output: out}, new_values, {**ops, step.output: op}


def _options_ok(op: Operator, step: Step) -> bool:
    wanted = dict(step.options)
    if "fused_activation_function" in op.options:
        wanted.setdefault("fused_activation_function", "NONE")
    return all(want == ANY or op.options.get(key) == want for key, want in wanted.items())


def _bind(tfl: TFLiteModel, rule: Rule, names: tuple[str, ...], slots: list[int], tensors: dict[str, int],
          values: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]] | None:
    tensors, values = dict(tensors), dict(values)
    for name, index in zip(names, slots):
        if name == ANY:
            continue
        if index < 0:
            return None
        constant = tfl.is_constant(index)
        if name.startswith("$"):
            if not constant:
                return None
            value = np.asarray(tfl.constant(index))
            if name in rule.constants and not is_close(value, rule.constants[name]):
                return None
            if name in values and (values[name].shape != value.shape or not np.array_equal(values[name], value)):
                return None
            values[name] = value
            tensors.setdefault(name, index)
        elif name in tensors:
            if tensors[name] != index:
                return None
        elif constant or index in tensors.values():
            return None
        else:
            tensors[name] = index
    return tensors, values


def is_close(value: np.ndarray, want: float) -> bool:
    """True for a one-element float constant equal to ``want`` up to float32 rounding."""
    value = np.asarray(value)
    return value.size == 1 and value.dtype.kind == "f" and abs(float(value.reshape(-1)[0]) - want) <= 1e-6 * abs(want)


def accept(tfl: TFLiteModel, rule: Rule, state: _State) -> tuple[Found, dict[str, Any]] | None:
    """The full-chain checks: float32 tensors, intermediates used only inside, output last; then params."""
    found = Found(tfl, *state)
    indices, output = set(found.indices), found.tensors[rule.output]
    if found.last.outputs[0] != output or any(
            tfl.tensor(i).dtype != "FLOAT32" for n, i in found.tensors.items() if not n.startswith("$")):
        return None
    for op in found.ops.values():
        inner = op.outputs[0]
        if inner != output and (inner in tfl.outputs or any(c.index not in indices for c in tfl.consumers(inner))):
            return None
    params = rule.params(found)
    return None if params is None else (found, params)


__all__ = ["accept", "is_close", "match"]
