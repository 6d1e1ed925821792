"""``verify`` for a stateful file: both sides stepped over the same frames, every step compared.

The interpreter keeps its resource variables between invokes; the Keras model gets its own state
threaded through (:func:`tflite2keras.conversion.streaming.step`), never the interpreter's. Each
output's error is the maximum over all steps, against the usual bound (``atol + rtol * max|ref|``
or twice the noise between the interpreter's builtin and XNNPACK kernels, each stepped the same
way). Each variable's value after every step is compared too (``state <name>`` rows), with the
interpreter's value of the tensor it is assigned.

A full-integer file (int8 frames, scores and ring buffers) is fed and read as
:mod:`tflite2keras.verification.quantized` does: the interpreter gets integers, the Keras model the
same real values, and outputs and state are dequantized and bounded in quantization steps of their
tensors (a ``float`` model's bound grows with the requantizing ops on the way, counted over the
frames: :func:`_unrolled_depths`). An output that never changes over the frames (a score
saturated at 0 on random frames) proves little: it is flagged and warned about, and the tensor
that feeds its final activation is compared as well (an ``output <j> before <op>`` row).

Example:
    >>> from tflite2keras.verification.stream import STEPS
    >>> STEPS >= 12
    True
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..conversion import streaming
from ..errors import InvalidArgumentError, VerificationError
from ..tflite.model import TFLiteModel
from ..tflite.quant import affine
from . import quantized as verify_quant
from .reference import interpreter_module, make_interpreter, random_inputs, run
from .report import DEGENERATE, Check, VerifyReport

#: How many successive frames a stateful model is stepped over, at least.
STEPS = 12
#: An error counts as within one quantization step up to float32 rounding of the step itself (as in verify).
ONE_STEP = 1.0 + 1e-4
#: Keras layers that only round, clamp or pass their input on: skipped when looking for an output's activation.
_PASS_THROUGH = {"FakeQuant", "Saturate", "Identity", "Quantize", "Dequantize"}
#: TFLite ops that pass a value on unchanged in the real numbers they represent.
_TFLITE_PASS = {"QUANTIZE", "DEQUANTIZE"}


class _Series:
    """Running maximum error, reference magnitude and noise of one compared tensor over the steps,
    its errors (for the within-one-step fraction) and whether its reference ever changed."""

    def __init__(self) -> None:
        self.error = self.ref = self.noise = 0.0
        self.errors: list[np.ndarray] = []
        self.first: np.ndarray | None = None
        self.changed = False

    def add(self, keras: Any, ref: np.ndarray, other: np.ndarray | None = None) -> None:
        k, r = np.asarray(keras, np.float32), np.asarray(ref, np.float32)
        error = np.abs(k - r)
        self.errors.append(error.reshape(-1))
        self.error = max(self.error, float(np.max(error, initial=0)))
        self.ref = max(self.ref, float(np.max(np.abs(r), initial=0)))
        if other is not None:
            self.noise = max(self.noise, float(np.max(np.abs(np.asarray(other, np.float32) - r), initial=0)))
        if self.first is None:
            self.first = r
        elif not np.array_equal(self.first, r):
            self.changed = True

    def check(self, name: str, tensor: str, shape: tuple[int, ...], atol: float, rtol: float, step: float | None,
              mode: str | None, op_index: int | None = None, depth: int | None = None) -> Check:
        degenerate = not self.changed and len(self.errors) > 1
        if step is None or mode is None:
            return Check(name, tensor, shape, self.error, self.ref, self.noise,
                         max(atol + rtol * self.ref, 2 * self.noise), op_index, degenerate=degenerate)
        bound = max(verify_quant.bound_steps(mode, depth=depth) * step * ONE_STEP, 2 * self.noise)
        errors = np.concatenate(self.errors) if self.errors else np.zeros(0, np.float32)
        within = float(np.mean(errors <= max(step * ONE_STEP, self.noise))) if errors.size else 1.0
        need = verify_quant.FAKE_QUANT_WITHIN if mode == "fake_quant" else 0.0
        return Check(name, tensor, shape, self.error, self.ref, self.noise, bound, op_index, step, within, need,
                     degenerate)


def verify_stream(keras_model: Any, tfl: TFLiteModel, steps: int = STEPS, seed: int = 0, atol: float = 1e-4,
                  rtol: float = 1e-5, ranges: Any = None) -> VerifyReport:
    """Step the Keras model and the interpreter over ``steps`` seeded frames (each input drawn from its
    range, :mod:`tflite2keras.verification.inputs`, and snapped to its grid for an integer input) and
    compare every output and every variable at each step.

    Raises:
        InvalidArgumentError: ``steps`` is below :data:`STEPS`.
        VerificationError: a step's Keras output has another shape than the interpreter's (never
            reshaped to fit), or the Keras model gives another number of outputs.
    """
    if steps < STEPS:
        raise InvalidArgumentError(f"verify: a stateful file is stepped over at least {STEPS} frames, received "
                                   f"steps={steps}")
    record = streaming.info(keras_model)
    quant = verify_quant.plan(tfl, keras_model)
    mode = None if quant is None else quant.mode
    if quant is None:
        feed = keras_feed = random_inputs(tfl, steps, seed, ranges=ranges)
    else:
        feed, keras_feed = verify_quant.split(quant, verify_quant.draw(tfl, quant, steps, seed, 1, ranges), 0)
    report = VerifyReport(interpreter=interpreter_module()[1], samples=steps, source=tfl.source)
    report.notes.append(f"stateful file: {steps} successive frames, state threaded through "
                        f"{[v.key for v in record.variables]}; per-layer checks are not made for stateful files "
                        "(the rows below the outputs are each variable's value after every step)")
    assigned = _assigned(tfl, record)
    pre = [_pre_activation(tfl, index) for index in tfl.outputs]
    deployed = make_interpreter(tfl, "xnnpack")
    try:
        builtin = make_interpreter(tfl, "builtin", preserve=True)
    except VerificationError as err:
        builtin = None
        report.notes.append(f"noise floor unavailable, and the state not compared: {err}")
    wanted = sorted({t for t in assigned if t is not None} | {p[0] for p in pre if p is not None})
    depth = _unrolled_depths(tfl, steps) if quant is not None else {}
    outputs = [_Series() for _ in tfl.outputs]
    states = [_Series() for _ in record.variables]
    pre_ref: list[dict[int, np.ndarray]] = []
    state: list[Any] | None = None
    keras_states: list[list[Any] | None] = []  # the state each step started from
    for i, (frame, reals) in enumerate(zip(feed, keras_feed)):
        try:
            ref = run(deployed, frame, reset=False)[0]
            other, inner = run(builtin, frame, wanted, reset=False) if builtin is not None else (ref, {})
        except (RuntimeError, ValueError) as err:
            raise VerificationError(f"verify: the TFLite interpreter fails on step {i} of {tfl.source}: {err}") from err
        ref = [verify_quant.real(tfl, t, v) for t, v in zip(tfl.outputs, ref)]
        other = [verify_quant.real(tfl, t, v) for t, v in zip(tfl.outputs, other)]
        inner = {t: verify_quant.real(tfl, t, v) for t, v in inner.items()}
        keras_states.append(state)
        own, state = streaming.step(keras_model, reals, state)
        if len(own) != len(ref):
            raise VerificationError(f"verify: the Keras model gives {len(own)} output(s) per step, but "
                                    f"{tfl.source} has {len(ref)}")
        for j, (k, r, o) in enumerate(zip(own, ref, other)):
            _same_shape(k, r, f"Keras output {j}", f"TFLite output {j} {tfl.tensor(tfl.outputs[j]).name!r}")
            outputs[j].add(k, r, o)
        for v, (tensor, k) in enumerate(zip(assigned, state)):
            if tensor is not None and tensor in inner:
                _same_shape(k, inner[tensor], f"Keras state output {record.variables[v].key!r}",
                            f"TFLite tensor {tensor} {tfl.tensor(tensor).name!r}")
                states[v].add(k, inner[tensor])
        pre_ref.append(inner)
    for j, index in enumerate(tfl.outputs):
        tensor = tfl.tensor(index)
        step = None if quant is None else quant.steps[j]
        report.outputs.append(outputs[j].check(f"output {j}", tensor.name, tensor.shape, atol, rtol, step, mode,
                                               depth=depth.get(index)))
    for v, (variable, tensor) in enumerate(zip(record.variables, assigned)):
        if tensor is None or not states[v].errors:
            continue
        grid = variable.quantization
        report.layers.append(states[v].check(f"state {variable.key}", tfl.tensor(tensor).name, variable.shape,
                                             atol, rtol, None if grid is None else grid.step, mode,
                                             tfl.producer(tensor).index if tfl.producer(tensor) else None,
                                             depth.get(tensor)))
    for j, check in enumerate(report.outputs):
        if check.degenerate:
            _degenerate(report, keras_model, tfl, j, pre[j], [(f, s) for f, s in zip(keras_feed, keras_states)],
                        pre_ref, atol, rtol, mode, depth)
    return report


def _same_shape(keras: Any, ref: np.ndarray, ours: str, theirs: str) -> None:
    if np.shape(keras) != np.shape(ref):
        raise VerificationError(f"verify: {ours} has shape {np.shape(keras)}, but {theirs} has shape "
                                f"{np.shape(ref)}; outputs are never reshaped to fit")


def _assigned(tfl: TFLiteModel, record: streaming.StreamingInfo) -> list[int | None]:
    """Per variable, the tensor its last ASSIGN_VARIABLE of subgraph 0 writes (its value after a step), or None."""
    handles = {}
    for op in tfl.operators:
        if op.opcode == "VAR_HANDLE" and op.outputs:
            handles[op.outputs[0]] = op.options.get("shared_name", "")
    last: dict[str, int] = {}
    for op in tfl.operators:
        if op.opcode == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and op.inputs[0] in handles:
            last[handles[op.inputs[0]]] = op.inputs[1]
    return [last.get(v.name) for v in record.variables]


def _unrolled_depths(tfl: TFLiteModel, steps: int) -> dict[int, int]:
    """Per tensor of subgraph 0, the requantizing ops on the longest path to it over ``steps`` frames:
    :func:`tflite2keras.verification.quantized.depths` with the graph unrolled, each READ_VARIABLE
    starting from the depth of what the previous frame assigned (a ring buffer only moves values and
    adds nothing; an accumulator adds its requantizations every frame). The float bound of a tensor is
    :func:`~tflite2keras.verification.quantized.bound_steps` at that depth."""
    handles = {op.outputs[0]: op.options.get("shared_name", "") for op in tfl.operators
               if op.opcode == "VAR_HANDLE" and op.outputs}
    carried: dict[str, int] = {}
    deepest: dict[int, int] = {}
    for _ in range(steps):
        depth: dict[int, int] = {}
        assigned: dict[str, int] = {}
        for op in tfl.operators:
            if op.opcode == "READ_VARIABLE" and op.inputs and op.outputs:
                depth[op.outputs[0]] = carried.get(handles.get(op.inputs[0], ""), 0)
                continue
            if op.opcode == "ASSIGN_VARIABLE" and len(op.inputs) == 2:
                assigned[handles.get(op.inputs[0], "")] = depth.get(op.inputs[1], 0)
                continue
            base = max((depth.get(t, 0) for t in op.inputs if t >= 0), default=0)
            first = affine(tfl.tensor(op.inputs[0])) if op.inputs and op.inputs[0] >= 0 else None
            for t in op.outputs:
                grid = affine(tfl.tensor(t))
                kept = (op.opcode in verify_quant.MOVES and first is not None and grid is not None
                        and np.array_equal(first.scales, grid.scales)
                        and np.array_equal(first.zero_points, grid.zero_points))
                depth[t] = base + int(grid is not None and not kept)
        carried.update(assigned)
        for t, d in depth.items():
            deepest[t] = max(deepest.get(t, 0), d)
    return deepest


def _pre_activation(tfl: TFLiteModel, index: int) -> tuple[int, str] | None:
    """The tensor that feeds the final op of output ``index`` (its activation, as SOFTMAX; QUANTIZE
    and DEQUANTIZE passed) and that op's name, or None when it has no single non-constant input."""
    op = tfl.producer(index)
    while op is not None and op.opcode in _TFLITE_PASS and op.inputs:
        op = tfl.producer(op.inputs[0])
    if op is None or op.opcode in {"READ_VARIABLE", "VAR_HANDLE"}:
        return None
    data = [t for t in op.inputs if t >= 0 and not tfl.is_constant(t)]
    return (data[0], op.opcode) if len(data) == 1 else None


def _keras_pre_activation(tensor: Any) -> Any:
    """The Keras tensor that feeds the layer computing ``tensor`` (past rounding, clamping and
    identity layers), or None when that layer has several inputs."""
    for _ in range(16):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        layer = history[0]
        inputs = layer._inbound_nodes[history[1]].input_tensors
        if len(inputs) != 1:
            return None
        if type(layer).__name__ not in _PASS_THROUGH:
            return inputs[0]
        tensor = inputs[0]
    return None


def _degenerate(report: VerifyReport, keras_model: Any, tfl: TFLiteModel, j: int, final: tuple[int, str] | None,
                steps: list[tuple[list[Any], Any]], pre_ref: list[dict[int, np.ndarray]], atol: float,
                rtol: float, mode: str | None, depth: dict[int, int]) -> None:
    """Warn about output ``j``, which never changed over the frames, and compare the tensor that feeds
    its final activation (appended to ``report.layers``), or say in a note why it cannot be."""
    check = report.outputs[j]
    text = (f"verify {report.source}: {check.name} ({check.tensor!r}) never changed over the {report.samples} "
            f"frames (a saturated score?): {DEGENERATE}")
    keras_pre = _keras_pre_activation(keras_model.outputs[j])
    pre = None if final is None else final[0]
    if (pre is None or keras_pre is None or not all(pre in r for r in pre_ref)
            or tuple(keras_pre.shape[1:]) != tuple(tfl.tensor(pre).shape[1:])):
        report.notes.append(f"{check.name} never changed over the frames, and the tensor that feeds its final "
                            "activation could not be paired with a Keras tensor: not compared")
        warnings.warn(f"{text}; its pre-activation could not be compared", stacklevel=4)
        return
    import keras

    function = keras.Function(keras_model.inputs, [keras_pre])
    series = _Series()
    for (frame, state), ref in zip(steps, pre_ref):
        state = state if state is not None else [np.broadcast_to(v.initial, (1, *v.initial.shape[1:]))
                                                 for v in streaming.info(keras_model).variables]
        got = function([*frame, *state])
        got = got[0] if isinstance(got, (list, tuple)) else got
        _same_shape(got, ref[pre], f"the Keras tensor feeding {check.name}'s activation",
                    f"TFLite tensor {pre} {tfl.tensor(pre).name!r}")
        series.add(got, ref[pre])
    grid = affine(tfl.tensor(pre))
    producer = tfl.producer(pre)
    report.layers.append(series.check(f"{check.name} before {final[1]}", tfl.tensor(pre).name, tfl.tensor(pre).shape,
                                      atol, rtol, None if grid is None else grid.step, mode,
                                      producer.index if producer is not None else None, depth.get(pre)))
    warnings.warn(f"{text}; the tensor that feeds its final activation, {tfl.tensor(pre).name!r}, was compared "
                  "as well", stacklevel=4)
