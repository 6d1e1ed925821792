"""Streaming models: resource variables become explicit state inputs and outputs.

A streaming TFLite file keeps state between invokes in resource variables: ``VAR_HANDLE``
names a variable, ``READ_VARIABLE`` and ``ASSIGN_VARIABLE`` use it, and ``CALL_ONCE`` runs an
init subgraph that assigns the initial values once. ``convert`` turns each variable into an
extra model input (its value before the step, named after the variable: ``stream_6/states``
gives ``stream_6_states``) and an extra output (its value after the step,
``stream_6_states_out``), after the file's own inputs and outputs. The model stays a plain
functional Keras model; :func:`run` threads the state through a sequence of frames.

Example:
    >>> import numpy as np
    >>> from tflite2keras.conversion.streaming import StateVariable
    >>> StateVariable("stream_6/states", (1, 2, 5), "float32", np.zeros((1, 2, 5), "float32")).key
    'stream_6_states'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, UnsupportedOpError
from ..tflite.model import Source, TFLiteModel
from ..weights.mapping import sanitize

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


@dataclass(frozen=True)
class StreamingInfo:
    """A converted streaming model's record (``model.streaming``): its variables and how many of
    its outputs are the file's own (the state outputs follow them)."""

    variables: tuple[StateVariable, ...]
    outputs: int


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
    from ..tflite.model import NUMPY_DTYPES
    from ..tflite.reader import TYPE_NAMES

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
                values[name] = np.frombuffer(data.tobytes(), dtype).reshape(shape).copy()
    return values


def initial_state(model: Any) -> list[np.ndarray]:
    """The initial value of each state input of a converted streaming model, with batch 1.

    Raises:
        InvalidArgumentError: the model has no streaming record (not converted from a stateful
            file, or reloaded: convert again).

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> t2k.streaming.initial_state(t2k.convert(tiny.tflite()))   # a file without state
        []
    """
    return [v.initial.copy() for v in info(model).variables]


def run(model: Any, frames: Sequence[Any], state: Sequence[np.ndarray] | None = None) -> list[Any]:
    """Step a converted streaming model over ``frames``, threading its state through.

    Args:
        model: a model from ``convert`` of a stateful file.
        frames: T inputs, each shaped as the model's own inputs (an array, or a list of arrays
            for several inputs), with the same batch.
        state: the state before the first frame (default: :func:`initial_state`, broadcast to
            the frames' batch).

    Returns:
        T per-step outputs: each an array, or a list of arrays when the file has several outputs.

    Example:
        >>> import numpy as np, tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> model = t2k.convert(tiny.tflite())
        >>> [o.shape for o in t2k.streaming.run(model, [np.zeros((1, 8, 8, 3), "float32")] * 2)]
        [(1, 4, 4, 2), (1, 4, 4, 2)]
    """
    record = info(model)
    results = []
    for frame in frames:
        feeds = [np.asarray(x) for x in (frame if isinstance(frame, (list, tuple)) else [frame])]
        if state is None:
            state = [np.broadcast_to(v.initial, (feeds[0].shape[0], *v.initial.shape[1:])).copy()
                     for v in record.variables]
        if len(state) != len(record.variables):
            raise InvalidArgumentError(f"streaming.run: {len(state)} state arrays for {len(record.variables)} variables")
        outs = model([*feeds, *state] if len(feeds) + len(state) > 1 else feeds[0], training=False)
        outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        state = outs[record.outputs:]
        own = outs[:record.outputs]
        results.append(own[0] if len(own) == 1 else own)
    return results


def info(model: Any) -> StreamingInfo:
    """The streaming record of a converted model (its variables and own output count).

    Raises:
        InvalidArgumentError: the model has none.
    """
    record = getattr(model, "streaming", None)
    if record is None:
        raise InvalidArgumentError("the model has no `streaming` record: it was not made by tflite2keras.convert "
                                   "(or was reloaded; convert the file again)")
    return record


def describe(tfl: TFLiteModel, found: dict[int, StateVariable]) -> StreamingInfo:
    """The record ``convert`` keeps on a model."""
    return StreamingInfo(tuple(found.values()), len(tfl.outputs))


def is_stateful(source: Source) -> bool:
    """True when the file keeps state in resource variables."""
    from ..tflite.reader import read

    return any(op.opcode == "VAR_HANDLE" for op in read(source).operators)
