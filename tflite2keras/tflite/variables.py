"""A file's resource variables: the state a streaming model keeps between invokes.

``VAR_HANDLE`` names a variable in subgraph 0; the ``CALL_ONCE`` init subgraph assigns its
initial value with ``ASSIGN_VARIABLE`` of a constant. :func:`variables` reads both, each
subgraph through the bounds-checked reader.

A full-integer file keeps a variable in integers (int8 ring buffers), quantized like an
activation: every READ_VARIABLE output, every assigned value and the initial constant carry the
same scale and zero point (the kernels copy the integers, never requantize). Such a variable is
float state in the converted model: its initial value dequantized, its grid kept in
:attr:`StateVariable.quantization`.

Example:
    >>> import numpy as np
    >>> StateVariable("stream_6/states", (1, 2, 5), "float32", np.zeros((1, 2, 5), "float32")).key
    'stream_6_states'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedOpError
from .model import Operator, Source, TFLiteModel
from .names import sanitize
from .quant import Affine, affine
from .reader import read


@dataclass(frozen=True)
class StateVariable:
    """One resource variable: its name, shape (with the file's batch), dtype in the converted model
    (float32 for a quantized variable), initial value (dequantized) and, for a variable the file
    keeps in integers, its quantization (else None)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    initial: np.ndarray
    quantization: Affine | None = None

    @property
    def key(self) -> str:
        """The Keras input name of the variable (the output adds ``_out``)."""
        return sanitize(self.name) or "state"


def variables(tfl: TFLiteModel) -> dict[int, StateVariable]:
    """Subgraph 0's VAR_HANDLE output tensor -> its variable, initial value from the CALL_ONCE
    subgraph, in the order of the variables' names; empty for a file without resource variables.

    Raises:
        UnsupportedOpError: a variable has no constant initial value in the init subgraph, or its
            reads, assigned values and initial value are not all on one grid (each quantized with the
            same per-tensor scale and zero point, or none quantized).
        InvalidModelError: a subgraph is corrupt.
    """
    if not is_stateful(tfl):
        return {}
    initial, grids = _initial_values(tfl)
    out = {}
    for op in tfl.operators:
        if op.opcode != "VAR_HANDLE":
            continue
        name = op.options.get("shared_name", "")
        if name not in initial:
            raise UnsupportedOpError(f"op {op.index} (VAR_HANDLE) variable {name!r} has no constant initial value "
                                     "in the CALL_ONCE init subgraph")
        value = initial[name]
        grid = _grid(tfl, op, name, grids[name])
        out[op.outputs[0]] = StateVariable(name, tuple(value.shape), str(value.dtype), value, grid)
    return dict(sorted(out.items(), key=lambda item: item[1].name))


def _same(a: Affine | None, b: Affine | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.dtype == b.dtype and np.array_equal(a.scales, b.scales) and np.array_equal(a.zero_points, b.zero_points))


def _describe(grid: Affine | None) -> str:
    if grid is None:
        return "not quantized"
    return f"{grid.dtype.lower()} scale {grid.scales.tolist()} zero point {grid.zero_points.tolist()}"


def _grid(tfl: TFLiteModel, handle: Operator, name: str, initial: Affine | None) -> Affine | None:
    """The one quantization of the variable: that of its initial constant, checked against every
    READ_VARIABLE output and ASSIGN_VARIABLE value of subgraph 0 (the kernels copy the stored
    integers, so another grid would reinterpret them)."""
    where = f"op {handle.index} (VAR_HANDLE) variable {name!r}"
    if initial is not None and initial.scales.size != 1:
        raise UnsupportedOpError(f"{where} is quantized per channel ({initial.scales.size} scales); expected one "
                                 "scale and zero point per variable")
    for op in tfl.operators:
        if op.opcode == "READ_VARIABLE" and op.inputs and op.inputs[0] == handle.outputs[0] and op.outputs:
            tensor = op.outputs[0]
        elif op.opcode == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and op.inputs[0] == handle.outputs[0]:
            tensor = op.inputs[1]
        else:
            continue
        grid = affine(tfl.tensor(tensor))
        if not _same(grid, initial):
            raise UnsupportedOpError(
                f"op {op.index} ({op.opcode}) tensor {tensor} {tfl.tensor(tensor).name!r} of {where}: expected the "
                f"variable's grid ({_describe(initial)}, as its initial value in the CALL_ONCE subgraph), received "
                f"{_describe(grid)}")
    return initial


def _initial_values(tfl: TFLiteModel) -> tuple[dict[str, np.ndarray], dict[str, Affine | None]]:
    """shared name -> constant value (dequantized) and its quantization, for every ASSIGN_VARIABLE of
    every subgraph but the main one."""
    values, grids = {}, {}
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
            grids[name] = affine(graph.tensor(op.inputs[1]))
    return values, grids


def is_stateful(source: Source) -> bool:
    """True when the file keeps state in resource variables."""
    return any(op.opcode == "VAR_HANDLE" for op in read(source).operators)
