"""Mapping tables: plain data that say which TFLite layer fills which Keras layer.

A table holds exact ``layers`` entries ``{keras_layer: target}`` and an ordered list of
``rules`` ``(pattern, target)``: ``pattern`` is a regular expression that must match a
whole Keras layer name, and ``target`` (which may use ``\\1``-style groups) names the
TFLite side: an original layer scope such as ``conv2d_4`` (as found in
``model_1/model/conv2d_4/Conv2D``), a tensor name, or ``#17`` for op 17. ``overrides``
are exact pairs that win over everything. Lookup order: overrides, layers, rules.
Tables print as text, render in Jupyter, and round-trip through JSON.

Example:
    >>> table = MappingTable("mine", rules=[(r"block(\\d+)_pw", r"conv2d_\\1")])
    >>> table.target("block7_pw")
    ('conv2d_7', 'table mine: block(\\\\d+)_pw')
    >>> table.extend(overrides={"head": "classifier_palm_16_NO_PRUNING"}).target("head")[0]
    'classifier_palm_16_NO_PRUNING'
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _render
from ..errors import InvalidArgumentError, MappingError
from ..tflite.model import TFLiteModel


@dataclass(frozen=True)
class MappingTable:
    """Ordered rules plus overrides that map Keras layer names onto TFLite names."""

    name: str
    rules: list[tuple[str, str]] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)
    fingerprint: str | None = None
    description: str = ""

    @cached_property
    def _compiled(self) -> list[tuple[re.Pattern[str], str, str]]:
        return [(re.compile(p), t, p) for p, t in self.rules]

    def target(self, layer_name: str) -> tuple[str, str] | None:
        """(TFLite target, which rule matched) for a Keras layer name, or None."""
        if layer_name in self.overrides:
            return self.overrides[layer_name], f"table {self.name}: override"
        if layer_name in self.layers:
            return self.layers[layer_name], f"table {self.name}"
        for pattern, template, text in self._compiled:
            match = pattern.fullmatch(layer_name)
            if match:
                return match.expand(template), f"table {self.name}: {text}"
        return None

    def extend(self, rules: list[tuple[str, str]] | None = None,
               overrides: dict[str, str] | None = None, name: str | None = None) -> MappingTable:
        """A new table with ``rules`` tried before this one's and ``overrides`` added."""
        return replace(self, name=name or self.name, rules=list(rules or []) + list(self.rules),
                       overrides={**self.overrides, **(overrides or {})})

    def to_dict(self) -> dict[str, Any]:
        """Plain data, suitable for JSON."""
        return {"name": self.name, "description": self.description, "fingerprint": self.fingerprint,
                "layers": dict(self.layers), "rules": [list(r) for r in self.rules],
                "overrides": dict(self.overrides)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MappingTable:
        """Build a table from :meth:`to_dict` output (or a JSON file's content)."""
        return cls(name=data["name"], rules=[tuple(r) for r in data.get("rules", [])],  # type: ignore[misc]
                   overrides=dict(data.get("overrides", {})), layers=dict(data.get("layers", {})),
                   fingerprint=data.get("fingerprint"), description=data.get("description", ""))

    @classmethod
    def load(cls, path: str | Path) -> MappingTable:
        """Read a table from a JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    def _rows(self) -> list[tuple[str, str, str]]:
        return ([("override", k, v) for k, v in self.overrides.items()] +
                [("layer", k, v) for k, v in self.layers.items()] + [("rule", p, t) for p, t in self.rules])

    def __str__(self) -> str:
        head = (f"MappingTable {self.name!r} ({len(self.layers)} layers, {len(self.rules)} rules, "
                f"{len(self.overrides)} overrides)")
        return head + "\n" + _render.text_table(("kind", "keras layer", "tflite"), self._rows())

    def _repr_html_(self) -> str:
        return _render.html_table(("kind", "keras layer", "tflite"), self._rows(),
                                  caption=f"MappingTable {self.name}: {self.description}")


def fingerprint(model: TFLiteModel) -> str:
    """A short hash of a model's weight structure: each weight op's opcode and weight shapes."""
    from ..ops.registry import find
    from ..ops.slots import weight_ops

    parts = []
    for op in weight_ops(model):
        spec = find(op.opcode)
        shapes = [model.tensor(op.inputs[w.slot]).shape for w in spec.weights  # type: ignore[union-attr]
                  if op.has_input(w.slot)]
        parts.append(f"{op.opcode}{shapes}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def shipped_tables() -> list[MappingTable]:
    """Every table shipped in ``tflite2keras/tables`` (read once per process)."""
    return list(_load_shipped())


@lru_cache(maxsize=1)
def _load_shipped() -> tuple[MappingTable, ...]:
    folder = resources.files("tflite2keras") / "tables"
    return tuple(MappingTable.from_dict(json.loads(f.read_text())) for f in sorted(folder.iterdir(), key=str)
                 if f.name.endswith(".json"))


def as_table(table: Any) -> MappingTable | None:
    """Check a ``table`` argument: a :class:`MappingTable` or None pass through.

    Raises:
        InvalidArgumentError: anything else, such as a table's name; the message lists
            the shipped tables (:func:`shipped_tables` returns them).

    Example:
        >>> as_table(None) is None
        True
    """
    if table is None or isinstance(table, MappingTable):
        return table
    names = [t.name for t in shipped_tables()]
    hint = " (MappingTable.load(path) reads one from JSON)" if isinstance(table, (str, Path)) else ""
    raise InvalidArgumentError(
        f"table must be a MappingTable{hint}, received {type(table).__name__} {table!r}; the shipped tables, "
        f"from mapping.shipped_tables(), are {names}")


def op_index(target: Any, rule: str = "override") -> int | None:
    """The op index an override or rule target names (``17`` or ``"#17"``), or None for a name.

    Args:
        target: the target.
        rule: what gave it, leading the error message (``"override of Keras layer 'conv'"``).

    Raises:
        MappingError: a ``"#..."`` target whose index is not an integer.

    Example:
        >>> op_index("#17"), op_index(17), op_index("conv2d_4")
        (17, 17, None)
    """
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return int(target)
    if isinstance(target, str) and target.startswith("#"):
        digits = target[1:]
        if not re.fullmatch(r"\d+", digits):
            raise MappingError(f"{rule}: the target {target!r} names no op: expected '#' and an op index "
                               f"such as '#17', received {digits!r} after the '#'")
        return int(digits)
    return None


def find_table(model: TFLiteModel) -> MappingTable | None:
    """The shipped table whose fingerprint fits ``model``, if any."""
    fp = fingerprint(model)
    return next((t for t in shipped_tables() if t.fingerprint == fp), None)
