"""``lint()``: architecture mismatches between a Keras model and a TFLite model, before any run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _render, patterns
from .align import align
from .mapping import MappingTable, find_table
from .matching import match_layers
from .model import Source
from .reader import read
from .registry import OpSpec, find


@dataclass(frozen=True)
class Finding:
    """One config field on which a Keras layer and its TFLite op disagree."""

    layer: str
    layer_type: str
    field: str
    keras: Any
    tflite: Any
    op_index: int
    opcode: str

    def __str__(self) -> str:
        return (f"{self.layer} ({self.layer_type}) vs op {self.op_index} {self.opcode}: "
                f"{self.field} is {_render.cell(self.keras)} in Keras, {_render.cell(self.tflite)} in TFLite")


class Findings(list):  # type: ignore[type-arg]
    """A list of :class:`Finding` that prints as a table and renders in Jupyter."""

    _HEADERS = ("layer", "type", "field", "keras", "tflite", "op")

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(f.layer, f.layer_type, f.field, f.keras, f.tflite, f"{f.op_index} {f.opcode}") for f in self]

    def __str__(self) -> str:
        if not self:
            return "lint: no mismatches"
        return f"lint: {len(self)} mismatch(es)\n" + _render.text_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        caption = f"lint: {len(self)} mismatch(es)" if self else "lint: no mismatches"
        return _render.html_table(self._HEADERS, self._rows(), caption=caption)


def lint(keras_model: Any, source: Source, table: MappingTable | None = None,
         overrides: dict[str, Any] | None = None, skip: tuple[str, ...] | list[str] = ()) -> Findings:
    """Compare every paired layer's config with its TFLite op, without running anything.

    Checks kernel size, strides, padding (SAME/VALID and explicit PAD ops), dilation,
    depth multiplier, fused activation, pool size and strides, use_bias and PReLU
    shared axes, as the op registry's checks define them.

    Args:
        keras_model: a functional Keras model.
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        table / overrides / skip: as for :func:`tflite2keras.transplant`.

    Returns:
        A list of :class:`Finding`, in Keras graph order; empty when all agree.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras import tiny
        >>> print(t2k.lint(tiny.keras_model(), tiny.tflite()))
        lint: no mismatches
        >>> for finding in t2k.lint(tiny.keras_model(pool_size=3), tiny.tflite()):
        ...     print(finding)
        pool (MaxPooling2D) vs op 1 MAX_POOL_2D: pool_size is (3,3) in Keras, (2,2) in TFLite
    """
    tfl = read(source)
    matches, _, _ = match_layers(keras_model, tfl, table or find_table(tfl), overrides, skip)
    ops = {m.layer.name: (m.layer, m.op) for m in matches}
    ops.update({p.layer.name: (p.layer, p.op) for p in align(keras_model, tfl, matches) if not p.fused})
    inside = {i for m in patterns.find(tfl) for i in m.ops}  # a pattern's ops describe its chain, not its layers
    findings = Findings()
    for layer in keras_model.layers:
        if layer.name not in ops:
            continue
        layer, op = ops[layer.name]
        if op.index in inside:
            continue
        spec = find(op.opcode)
        for check in _checks(spec):
            for field, keras, tflite in check(op, layer, tfl):
                findings.append(Finding(layer.name, type(layer).__name__, field, keras, tflite, op.index, op.opcode))
    return findings


def _checks(spec: OpSpec | None) -> tuple[Any, ...]:
    """The spec's checks, and the fused-activation check when the spec declares a fused activation."""
    from .ops.checks import activation  # importing the ops registers them: not at import time

    if spec is None:
        return ()
    return spec.checks + ((activation,) if spec.fused_activation else ())
