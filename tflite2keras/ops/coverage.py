"""The table of supported ops, generated from the registry: ``t2k.ops.coverage()``.

Example:
    >>> from tflite2keras.ops.coverage import coverage
    >>> table = coverage()
    >>> "CONV_2D" in table.opcodes and table.converters >= 49
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import _render
from .registry import specs

HEADERS = ("op", "kind", "Keras layers", "weights", "lint checks")


@dataclass(frozen=True)
class Coverage:
    """Every registered op with a converter: its Keras targets, weight roles and lint checks."""

    rows: tuple[tuple[str, str, str, str, int], ...]

    @property
    def opcodes(self) -> tuple[str, ...]:
        """The ops ``convert`` handles."""
        return tuple(row[0] for row in self.rows)

    @property
    def converters(self) -> int:
        """How many builtin ops (custom ops excluded) have a converter."""
        return sum(row[1] == "builtin" for row in self.rows)

    def _caption(self) -> str:
        return (f"{self.converters} builtin and {len(self.rows) - self.converters} custom ops convert "
                f"(DEQUANTIZE and DENSIFY of constants are decoded with the weights)")

    def markdown(self) -> str:
        """The table as Markdown, as the README shows it."""
        lines = [self._caption() + ":", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(f"`{c}`" if i == 0 else str(c) for i, c in enumerate(row)) + " |"
                  for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._caption() + "\n" + _render.text_table(HEADERS, self.rows)

    def _repr_html_(self) -> str:
        return _render.html_table(HEADERS, self.rows, caption=self._caption())


def coverage() -> Coverage:
    """The registered ops that ``convert`` can build, in opcode order."""
    rows = []
    for opcode, spec in sorted(specs().items()):
        if spec.converter is None:
            continue
        kind = "builtin" if opcode.isupper() else "custom"
        rows.append((opcode, kind, ", ".join(spec.layers) or "-", ", ".join(spec.weight_roles) or "-",
                     len(spec.checks)))
    return Coverage(tuple(rows))


__all__ = ["Coverage", "coverage"]
