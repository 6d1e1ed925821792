"""``transplant()``: copy a TFLite model's weights into a Keras model, all or nothing.

A BatchNormalization that TFLite folded into the op before it becomes an exact identity
plus the folded bias (see :mod:`tflite2keras.ops.batchnorm`), so fine-tuning starts from the
exact pretrained function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from .. import _render
from ..errors import MappingError, ShapeMismatchError
from ..ops.batchnorm import folded_batchnorm, identity
from ..ops.layout import contiguous
from ..tflite.model import Source, TFLiteModel
from ..tflite.reader import read
from .mapping import MappingTable, find_table
from .matching import match_layers
from .pairs import Match, all_layers, op_label, unpaired_error

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Assignment:
    """One Keras variable and the TFLite tensor that fills it."""

    layer: str
    variable: str
    tensor: str
    tensor_index: int | None
    op_index: int | None
    opcode: str
    rule: str
    layout: str
    shape: tuple[int, ...]


@dataclass
class TransplantReport:
    """What ``transplant`` did (or, with ``dry_run``, would do), one row per Keras variable.

    Attributes:
        assignments: every Keras variable written, with its source tensor and rule.
        table: the mapping table used, if any.
        skipped: Keras layers left alone because they were in ``skip``.
        unmatched_layers / unused_tensors: leftovers (only non-empty with ``strict=False``).
        dry_run: True when nothing was written.
    """

    assignments: list[Assignment] = field(default_factory=list)
    table: str | None = None
    skipped: list[str] = field(default_factory=list)
    unmatched_layers: list[str] = field(default_factory=list)
    unused_tensors: list[str] = field(default_factory=list)
    dry_run: bool = False
    source: str = ""

    @property
    def rules(self) -> dict[str, int]:
        """How many variables each kind of rule matched."""
        counts: dict[str, int] = {}
        for a in self.assignments:
            counts[a.rule] = counts.get(a.rule, 0) + 1
        return counts

    def _summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        text = (f"transplant from {self.source}: {verb} {len(self.assignments)} variables"
                f" (table: {self.table or 'none'}; rules: {self.rules})")
        if self.skipped:
            text += f"; skipped layers: {', '.join(self.skipped)}"
        if self.unmatched_layers or self.unused_tensors:
            text += (f"; unmatched Keras layers: {', '.join(self.unmatched_layers) or 'none'}"
                     f"; unused TFLite tensors: {', '.join(self.unused_tensors) or 'none'}")
        return text

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(f"{a.layer}/{a.variable}", a.tensor, a.op_index, a.rule, a.layout, a.shape) for a in self.assignments]

    _HEADERS = ("keras variable", "tflite tensor", "op", "rule", "layout", "shape")

    def __str__(self) -> str:
        return self._summary() + "\n" + _render.text_table(self._HEADERS, self._rows(), max_width=56)

    def _repr_html_(self) -> str:
        return _render.html_table(self._HEADERS, self._rows(), caption=self._summary())


def transplant(keras_model: keras.Model, source: Source, table: MappingTable | None = None,
               overrides: dict[str, Any] | None = None, skip: Iterable[str] = (),
               strict: bool = True, dry_run: bool = False) -> TransplantReport:
    """Copy the weights of a TFLite model into a Keras model.

    Matching, in order: ``overrides`` (Keras layer name -> TFLite tensor name, layer
    scope or ``"#op_index"``), the mapping table's rules, name matching (the TFLite
    scope ``model_1/model/conv2d_4/Conv2D`` fills Keras layer ``conv2d_4``), and last
    structural matching in graph order by op kind and weight shape. Every shape is
    checked before anything is written; on any error the Keras weights are unchanged.

    Args:
        keras_model: the Keras model to fill.
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        table: a mapping table; ``None`` picks the shipped table whose fingerprint fits.
        overrides: explicit pairs that win over every rule.
        skip: Keras layer names to leave untouched (e.g. a re-sized classifier head).
        strict: require every Keras weight (outside ``skip``) and every TFLite weight
            tensor to be used; otherwise list the leftovers in the report.
        dry_run: match and check everything, write nothing.

    Returns:
        A report with one row per Keras variable.

    Raises:
        MappingError: under ``strict``, Keras weight layers or TFLite weight ops left unpaired
            (counted, and the first of each named; a file of another architecture ends here,
            before any shape but an override's is checked), or a rule names something missing.
        ShapeMismatchError: a tensor does not fit its variable after the layout change.

    Example:
        >>> import numpy as np
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> model = tiny.keras_model(seed=1)        # the architecture of tiny.tflite(), other weights
        >>> report = t2k.transplant(model, tiny.tflite())
        >>> report.rules, [f"{a.layer}/{a.variable}" for a in report.assignments]
        ({'name': 4}, ['conv/kernel', 'conv/bias', 'head/kernel', 'head/bias'])
        >>> bool(np.array_equal(model.get_layer("head").bias.numpy(), tiny.keras_model(seed=0).get_layer("head").bias.numpy()))
        True
    """
    tfl = read(source)
    if table is None:
        table = find_table(tfl)
    skip = list(skip)
    known = {la.name for la in all_layers(keras_model)}
    for what, names in (("skip", skip), ("overrides", list(overrides or {}))):
        missing = sorted(set(names) - known)
        if missing:
            raise MappingError(f"{what} names layers the Keras model does not have: {', '.join(missing)}")
    matches, unmatched, unused = match_layers(keras_model, tfl, table, overrides, skip)
    if strict and (unmatched or unused):
        for match in matches:  # a pair the caller named explicitly: its own error comes first
            if match.rule == "override":
                _plan_layer(tfl, match)
        raise unpaired_error("transplant", tfl, matches, unmatched, unused, table=table.name if table else None,
                             hint="Pass overrides={keras_layer: tflite_name}, a table, skip=[...], or strict=False.")
    plan = [step for match in matches for step in _plan_layer(tfl, match)]
    plan += _plan_batchnorms(tfl, matches, plan, skip)
    report = TransplantReport(
        assignments=[a for _, _, a in plan], table=table.name if table else None,
        skipped=sorted(skip), dry_run=dry_run, source=tfl.source,
        unmatched_layers=sorted(la.name for la in unmatched),
        unused_tensors=[op_label(tfl, op) for op in sorted(unused, key=lambda o: o.index)],
    )
    if not dry_run:
        _assign_all(plan)
    return report


def _plan_layer(tfl: TFLiteModel, match: Match) -> list[tuple[Any, np.ndarray, Assignment]]:
    layer, op = match.layer, match.op
    variables = {v.name: v for v in layer.weights}
    plan = []
    for slot in match.spec.weights:
        variable = variables.get(slot.role)
        if not op.has_input(slot.slot):
            if not slot.optional:
                raise MappingError(f"op {op.index} ({op.opcode}) has no input {slot.slot} ({slot.role})")
            if variable is not None:  # TFLite dropped an all-zero bias
                zero = np.zeros(tuple(variable.shape), np.float32)
                plan.append((variable, zero, Assignment(layer.name, slot.role, "(none: zero)", None, op.index,
                                                        op.opcode, match.rule, str(slot.layout), zero.shape)))
            continue
        if variable is None and slot.optional and not slot.holds_weight(tfl, op.inputs[slot.slot]):
            continue  # a slot that holds a weight only when a float constant (a binary op's either operand)
        tensor = tfl.source_of(op.inputs[slot.slot])
        what = (f"Keras layer {layer.name!r} variable {slot.role!r} <- TFLite tensor {tensor.index} "
                f"{tensor.name!r} (op {op.index} {op.opcode}, matched by {match.rule})")
        if variable is None:
            folded = folded_batchnorm(layer, match.spec) is not None
            if slot.role == "bias" and (folded or not np.any(tfl.constant(tensor.index))):
                continue  # the BN after this layer takes the folded bias; or a zero bias needs no variable
            raise ShapeMismatchError(f"{what}: the layer has no such variable (use_bias=False?)")
        value = slot.layout.apply(tfl.constant(tensor.index), tuple(variable.shape), what)
        plan.append((variable, value, Assignment(layer.name, slot.role, tensor.name, tensor.index, op.index,
                                                 op.opcode, match.rule, str(slot.layout), value.shape)))
    for name in set(variables) - set(match.spec.weight_roles):
        raise ShapeMismatchError(
            f"Keras layer {layer.name!r} has variable {name!r}, which op {op.index} ({op.opcode}) cannot fill"
        )
    return plan


def _plan_batchnorms(tfl: TFLiteModel, matches: list[Match], plan: list[tuple[Any, np.ndarray, Assignment]],
                     skip: list[str]) -> list[tuple[Any, np.ndarray, Assignment]]:
    """BN after a filled layer: exact identity plus the folded bias (moved out of the layer)."""
    extra = []
    for match in matches:
        bn = folded_batchnorm(match.layer, match.spec)
        if bn is None or bn.name in skip:
            continue
        channels = int(bn.moving_mean.shape[0])
        bias, tensor, tensor_index = np.zeros(channels, np.float32), "(none: zero)", None
        bias_slot = match.spec.slot("bias")
        if bias_slot is not None and match.op.has_input(bias_slot.slot):
            source = tfl.source_of(match.op.inputs[bias_slot.slot])
            bias, tensor, tensor_index = tfl.constant(source.index).reshape(-1), source.name, source.index
        for i, (variable, value, a) in enumerate(plan):  # the layer's own bias becomes zero
            if a.layer == match.layer.name and a.variable == "bias":
                plan[i] = (variable, np.zeros_like(value), a)
        values = identity(bn, bias)
        for v in bn.weights:
            if v.name not in values:
                continue
            beta = v.name == "beta"
            extra.append((v, values[v.name], Assignment(
                bn.name, v.name, tensor if beta else "(identity)", tensor_index if beta else None, match.op.index,
                match.op.opcode, "batchnorm identity", "O", (channels,))))
    return extra


def _assign_all(plan: list[tuple[Any, np.ndarray, Assignment]]) -> None:
    """Write every variable. Shapes were checked while planning and values are cast here,
    before the first write, so nothing that can fail on bad input happens mid-way."""
    cast = [(variable, np.asarray(value, dtype=variable.dtype)) for variable, value, _ in plan]  # views, mostly
    for (variable, value), (_, _, a) in zip(cast, plan):
        if value.shape != tuple(variable.shape):
            raise ShapeMismatchError(f"Keras layer {a.layer!r} variable {a.variable!r}: expected shape "
                                     f"{tuple(variable.shape)}, received {value.shape} from {a.tensor!r}")
    for variable, value in cast:  # one contiguous copy at a time: each reuses the memory of the one before
        variable.assign(contiguous(value))
