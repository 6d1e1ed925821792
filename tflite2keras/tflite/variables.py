"""A file's resource variables: the state a streaming model keeps between invokes.

``VAR_HANDLE`` names a variable in subgraph 0; the ``CALL_ONCE`` init subgraph assigns its
initial value with ``ASSIGN_VARIABLE`` of a constant. :func:`variables` reads both.

Example:
    >>> import numpy as np
    >>> StateVariable("stream_6/states", (1, 2, 5), "float32", np.zeros((1, 2, 5), "float32")).key
    'stream_6_states'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidModelError, UnsupportedOpError
from .model import NUMPY_DTYPES, Source, TFLiteModel
from .names import sanitize

if TYPE_CHECKING:
    import tflite

#: Builtin opcodes of the ops involved (the schema's numbers; the reader names them).
VAR_HANDLE, ASSIGN_VARIABLE = 142, 144


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
    """
    if not is_stateful(tfl):
        return {}
    import tflite

    root = tflite.Model.GetRootAsModel(tfl.data, 0)
    initial = _initial_values(root)
    out = {}
    main = root.Subgraphs(0)
    for op in tfl.operators:
        if op.opcode != "VAR_HANDLE":
            continue
        name = _shared_name(main.Operators(op.index))
        if name not in initial:
            raise UnsupportedOpError(f"op {op.index} (VAR_HANDLE) variable {name!r} has no constant initial value "
                                     "in the CALL_ONCE init subgraph")
        value = initial[name]
        out[op.outputs[0]] = StateVariable(name, tuple(value.shape), str(value.dtype), value)
    return dict(sorted(out.items(), key=lambda item: item[1].name))


def _shared_name(op: tflite.Operator) -> str:
    import tflite

    options = tflite.VarHandleOptions()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    return (options.SharedName() or b"").decode()


def _initial_values(root: Any) -> dict[str, np.ndarray]:
    """shared name -> constant value, for every ASSIGN_VARIABLE of every subgraph but the main one."""
    from .reader import TYPE_NAMES

    values = {}
    for g in range(1, root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        handles = {}
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = root.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == VAR_HANDLE:
                handles[int(op.Outputs(0))] = _shared_name(op)
            elif builtin == ASSIGN_VARIABLE:
                tensor = graph.Tensors(int(op.Inputs(1)))
                data = root.Buffers(tensor.Buffer()).DataAsNumpy()
                dtype = NUMPY_DTYPES.get(TYPE_NAMES.get(tensor.Type(), ""), None)
                name = handles.get(int(op.Inputs(0)))
                if name is None or dtype is None or isinstance(data, int):
                    raise UnsupportedOpError(f"subgraph {g} op {i} (ASSIGN_VARIABLE) does not assign a constant "
                                             "to a VAR_HANDLE of the same subgraph")
                shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
                raw = data.tobytes()
                if len(raw) != int(np.prod(shape)) * dtype.itemsize:
                    raise InvalidModelError(f"subgraph {g} op {i} (ASSIGN_VARIABLE) assigns tensor "
                                            f"{int(op.Inputs(1))} of shape {shape} ({dtype}), expected "
                                            f"{int(np.prod(shape)) * dtype.itemsize} bytes, received {len(raw)}")
                values[name] = np.frombuffer(raw, dtype).reshape(shape).copy()
    return values


def is_stateful(source: Source) -> bool:
    """True when the file keeps state in resource variables."""
    from .reader import read

    return any(op.opcode == "VAR_HANDLE" for op in read(source).operators)
