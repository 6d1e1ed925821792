"""``lint()``: architecture mismatches between a Keras model and a TFLite model, before any run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _render
from ..ops import patterns
from ..ops.registry import OpSpec, find, specs
from ..tflite.model import Source
from ..tflite.reader import read
from ..weights.align import GRID_LAYERS, align, unpaired_layers
from ..weights.mapping import MappingTable, find_table
from ..weights.matching import match_layers
from ..weights.pairs import op_name

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Finding:
    """One config field on which a Keras layer and its TFLite op disagree, or one that has no partner.

    ``kind`` is ``"config"`` for a disagreeing field, ``"unpaired"`` for a Keras layer no TFLite op
    stands for (``op_index`` None, ``opcode`` empty) or a TFLite weight op no Keras layer takes
    (``layer`` and ``layer_type`` empty); their ``field`` is ``"unpaired"``.
    """

    layer: str
    layer_type: str
    field: str
    keras: Any
    tflite: Any
    op_index: int | None
    opcode: str
    kind: str = "config"

    def __str__(self) -> str:
        if self.kind == "unpaired":
            if self.op_index is None:
                return f"{self.layer} ({self.layer_type}): unpaired, no TFLite op stands for it ({self.keras})"
            return f"op {self.op_index} {self.opcode} ({self.tflite}): unpaired, no Keras layer takes its weights"
        return (f"{self.layer} ({self.layer_type}) vs op {self.op_index} {self.opcode}: "
                f"{self.field} is {_render.cell(self.keras)} in Keras, {_render.cell(self.tflite)} in TFLite")


class Findings(list):  # type: ignore[type-arg]
    """A list of :class:`Finding` that prints as a table and renders in Jupyter."""

    _HEADERS = ("layer", "type", "field", "keras", "tflite", "op")

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(f.layer or "-", f.layer_type or "-", f.field, f.keras, f.tflite,
                 "-" if f.op_index is None else f"{f.op_index} {f.opcode}") for f in self]

    def __str__(self) -> str:
        if not self:
            return "lint: no mismatches"
        return self._caption() + "\n" + _render.text_table(self._HEADERS, self._rows())

    def _caption(self) -> str:
        if not self:
            return "lint: no mismatches"
        unpaired = sum(f.kind == "unpaired" for f in self)
        return f"lint: {len(self)} mismatch(es)" + (f" ({unpaired} unpaired)" if unpaired else "")

    def _repr_html_(self) -> str:
        return _render.html_table(self._HEADERS, self._rows(), caption=self._caption())


def lint(keras_model: keras.Model, source: Source, table: MappingTable | None = None,
         overrides: dict[str, Any] | None = None, skip: tuple[str, ...] | list[str] = ()) -> Findings:
    """Compare every paired layer's config with its TFLite op, without running anything.

    Checks kernel size, strides, padding (SAME/VALID and explicit PAD ops), dilation,
    depth multiplier, fused activation, pool size and strides, use_bias and PReLU
    shared axes, as the op registry's checks define them. What could not be paired is
    a finding too (``kind="unpaired"``): a Keras layer with weights, or of a kind some
    TFLite op stands for, that no op was paired with, and a TFLite weight op that no
    Keras layer takes.

    Args:
        keras_model: a functional Keras model.
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        table / overrides / skip: as for :func:`tflite2keras.transplant`.

    Returns:
        A list of :class:`Finding`: the config ones and the unpaired layers in Keras graph
        order, then the unpaired weight ops in file order; empty when all agree.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> print(t2k.lint(tiny.keras_model(), tiny.tflite()))
        lint: no mismatches
        >>> for finding in t2k.lint(tiny.keras_model(pool_size=3), tiny.tflite()):
        ...     print(finding)
        pool (MaxPooling2D) vs op 1 MAX_POOL_2D: pool_size is (3,3) in Keras, (2,2) in TFLite
    """
    from ..ops.checks import (  # importing the ops registers them: not at import time
        padding,
        padding_layer,
    )

    tfl = read(source)
    matches, unmatched, unused = match_layers(keras_model, tfl, table or find_table(tfl), overrides, skip)
    ops = {m.layer.name: (m.layer, m.op) for m in matches}
    pairs = align(keras_model, tfl, matches)
    ops.update({p.layer.name: (p.layer, p.op) for p in pairs if not p.fused})
    paired = set(ops) | {p.layer.name for p in pairs}
    # A ZeroPadding layer in front of a paired convolution or pool is that op's padding (its check counts it).
    paired |= {pad.name for layer, op in ops.values() if padding in _checks(find(op.opcode))
               and (pad := padding_layer(layer)) is not None}
    known = list(specs().values())
    unmatched = unpaired_layers(tfl, unmatched, pairs)  # (a pattern's layer holds its chain's weights)
    lost = {la.name for la in unmatched} | {la.name for la in keras_model.layers if la.name not in paired
                                           and la.name not in skip and _has_op_kind(la, known)}
    inside = {i for m in patterns.find(tfl) for i in m.ops}  # a pattern's ops describe its chain, not its layers
    findings = Findings()
    for layer in keras_model.layers:
        if layer.name in lost:
            findings.append(_unpaired_layer(layer))
        if layer.name not in ops:
            continue
        layer, op = ops[layer.name]
        if op.index in inside:
            continue
        spec = find(op.opcode)
        for check in _checks(spec):
            for field, keras, tflite in check(op, layer, tfl):
                findings.append(Finding(layer.name, type(layer).__name__, field, keras, tflite, op.index, op.opcode))
    nested = {la.name for la in keras_model.layers}
    findings += [_unpaired_layer(la) for la in unmatched if la.name not in nested]  # inside nested models
    findings += [Finding("", "", "unpaired", None, op_name(tfl, op), op.index, op.opcode, "unpaired")
                 for op in sorted(unused, key=lambda o: o.index)]
    return findings


def _has_op_kind(layer: Any, known: list[OpSpec]) -> bool:
    """The layer holds weights, or is of a kind some registered op stands for (not an InputLayer,
    nor a ``FakeQuant``, which only rounds the tensor it follows to the file's grid)."""
    if layer.weights:
        return not getattr(layer, "layers", None)
    if type(layer).__name__ in GRID_LAYERS:
        return False
    return any(spec.accepts(layer) for spec in known)


def _unpaired_layer(layer: Any) -> Finding:
    weights = ", ".join(f"{v.name} {tuple(v.shape)}" for v in layer.weights) or "no weights"
    return Finding(layer.name, type(layer).__name__, "unpaired", weights, None, None, "", "unpaired")


def _checks(spec: OpSpec | None) -> tuple[Any, ...]:
    """The spec's checks, and the fused-activation check when the spec declares a fused activation."""
    from ..ops.checks import (
        activation,  # importing the ops registers them: not at import time
    )

    if spec is None:
        return ()
    return spec.checks + ((activation,) if spec.fused_activation else ())
