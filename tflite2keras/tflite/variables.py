"""A file's resource variables: the state a streaming model keeps between invokes.

``VAR_HANDLE`` names a variable in subgraph 0; the ``CALL_ONCE`` init subgraph assigns its
initial value with ``ASSIGN_VARIABLE`` of a constant. :func:`variables` reads both, each
subgraph through the bounds-checked reader.

Example:
    >>> import numpy as np
    >>> StateVariable("stream_6/states", (1, 2, 5), "float32", np.zeros((1, 2, 5), "float32")).key
    'stream_6_states'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedOpError
from .model import Source, TFLiteModel
from .names import sanitize
from .reader import read


@dataclass(frozen=True)
class StateVariable:
    """One resource variable: its name, shape (with the file's batch), dtype and initial value."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    initial: np.ndarray

    @property
    def key(self) -> str:
        """The Keras input name of the variable (the output adds ``_out``)."""
        return sanitize(self.name) or "state"


def variables(tfl: TFLiteModel) -> dict[int, StateVariable]:
    """Subgraph 0's VAR_HANDLE output tensor -> its variable, initial value from the CALL_ONCE
    subgraph, in the order of the variables' names; empty for a file without resource variables.

    Raises:
        UnsupportedOpError: a variable has no constant initial value in the init subgraph.
        InvalidModelError: a subgraph is corrupt.
    """
    if not is_stateful(tfl):
        return {}
    initial = _initial_values(tfl)
    out = {}
    for op in tfl.operators:
        if op.opcode != "VAR_HANDLE":
            continue
        name = op.options.get("shared_name", "")
        if name not in initial:
            raise UnsupportedOpError(f"op {op.index} (VAR_HANDLE) variable {name!r} has no constant initial value "
                                     "in the CALL_ONCE init subgraph")
        value = initial[name]
        out[op.outputs[0]] = StateVariable(name, tuple(value.shape), str(value.dtype), value)
    return dict(sorted(out.items(), key=lambda item: item[1].name))


def _initial_values(tfl: TFLiteModel) -> dict[str, np.ndarray]:
    """shared name -> constant value, for every ASSIGN_VARIABLE of every subgraph but the main one."""
    values = {}
    for info in tfl.subgraphs:
        graph = read(tfl, subgraph=info.index)
        handles = {op.outputs[0]: op.options.get("shared_name", "") for op in graph.operators
                   if op.opcode == "VAR_HANDLE" and op.outputs}
        for op in graph.operators:
            if op.opcode != "ASSIGN_VARIABLE":
                continue
            name = handles.get(op.inputs[0]) if len(op.inputs) == 2 else None
            if name is None or not graph.is_constant(op.inputs[1]):
                raise UnsupportedOpError(f"subgraph {info.index} op {op.index} (ASSIGN_VARIABLE) does not assign a "
                                         "constant to a VAR_HANDLE of the same subgraph")
            values[name] = np.array(graph.constant(op.inputs[1]))
    return values


def is_stateful(source: Source) -> bool:
    """True when the file keeps state in resource variables."""
    return any(op.opcode == "VAR_HANDLE" for op in read(source).operators)
