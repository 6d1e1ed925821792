"""Streaming models: resource variables become explicit state inputs and outputs.

A streaming TFLite file keeps state between invokes in resource variables: ``VAR_HANDLE``
names a variable, ``READ_VARIABLE`` and ``ASSIGN_VARIABLE`` use it, and ``CALL_ONCE`` runs an
init subgraph that assigns the initial values once. ``convert`` turns each variable into an
extra model input (its value before the step, named after the variable: ``stream_6/states``
gives ``stream_6_states``) and an extra output (its value after the step,
``stream_6_states_out``), after the file's own inputs and outputs. The model stays a plain
functional Keras model; :func:`run` threads the state through a sequence of frames.

A full-integer file keeps its state in int8 variables; the converted model's state is float in
both modes, dequantized with each variable's scale and zero point
(:attr:`~tflite2keras.tflite.variables.StateVariable.quantization`). In ``fake_quant`` mode the
model rounds what it assigns to the variable's grid, as the integer kernel stores it;
:func:`tflite2keras.quantized_io` takes and returns the integers.

Example:
    >>> import numpy as np
    >>> from tflite2keras.tflite.variables import StateVariable
    >>> StateVariable("stream_6/states", (1, 2, 5), "float32", np.zeros((1, 2, 5), "float32")).key
    'stream_6_states'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..tflite.model import TFLiteModel
from ..tflite.quant import Affine
from ..tflite.variables import StateVariable


@dataclass(frozen=True)
class StreamingInfo:
    """A converted streaming model's record (``model.streaming``): its variables and how many of
    its outputs are the file's own (the state outputs follow them)."""

    variables: tuple[StateVariable, ...]
    outputs: int

    @property
    def grids(self) -> list[Affine | None]:
        """Per variable, its quantization where the file keeps it in integers, else None."""
        return [v.quantization for v in self.variables]


def initial_state(model: Any) -> list[np.ndarray]:
    """The initial value of each state input of a converted streaming model, with batch 1: the
    CALL_ONCE values, dequantized (float32) for a variable the file keeps in integers.

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
    info(model)  # raises without a streaming record, even for no frames
    results = []
    for frame in frames:
        own, state = step(model, frame, state)
        results.append(own[0] if len(own) == 1 else own)
    return results


def step(model: Any, frame: Any, state: Sequence[np.ndarray] | None = None) -> tuple[list[Any], list[Any]]:
    """One step of a converted streaming model: its own outputs and the state after the frame.

    Args:
        model: a model from ``convert`` of a stateful file.
        frame: one input, shaped as the model's own inputs (an array, or a list of arrays).
        state: the state before the frame (default: :func:`initial_state` at the frame's batch).

    Returns:
        ``(outputs, state)``: lists of arrays, the file's own outputs and each variable's new value.

    Raises:
        InvalidArgumentError: the model has no streaming record, ``state`` has another length
            than its variables, or the model has fixed shapes (``model.fixed_shape``: its axis 0 is
            data, not a batch) and the frame has another shape than its inputs.

    Example:
        >>> import numpy as np, tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> outputs, state = t2k.streaming.step(t2k.convert(tiny.tflite()), np.zeros((1, 8, 8, 3), "float32"))
        >>> [o.shape for o in outputs], state
        ([(1, 4, 4, 2)], [])
    """
    record = info(model)
    feeds = [np.asarray(x) for x in (frame if isinstance(frame, (list, tuple)) else [frame])]
    reason = getattr(model, "fixed_shape", None)
    if reason:  # no batch to broadcast the state to, nor to stack frames along
        wanted = [tuple(x.shape) for x in model.inputs[:len(feeds)]]
        if [f.shape for f in feeds] != wanted:
            raise InvalidArgumentError(f"streaming.step: the model has fixed shapes, its axis 0 is not a batch "
                                       f"({reason}): expected frames of shapes {wanted}, received "
                                       f"{[f.shape for f in feeds]}")
        state = [v.initial.copy() for v in record.variables] if state is None else state
    if state is None:
        state = [np.broadcast_to(v.initial, (feeds[0].shape[0], *v.initial.shape[1:])).copy()
                 for v in record.variables]
    if len(state) != len(record.variables):
        raise InvalidArgumentError(f"streaming.step: expected {len(record.variables)} state arrays (one per "
                                   f"variable), received {len(state)}")
    outs = model([*feeds, *state] if len(feeds) + len(state) > 1 else feeds[0], training=False)
    outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
    return outs[:record.outputs], outs[record.outputs:]


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
