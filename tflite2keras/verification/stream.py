"""``verify`` for a stateful file: both sides stepped over the same frames, every step compared.

The interpreter keeps its resource variables between invokes; the Keras model gets its state
threaded through by :func:`tflite2keras.conversion.streaming.run`. Each output's error is the maximum over
all steps, against the usual bound (``atol + rtol * max|ref|`` or twice the noise between the
interpreter's builtin and XNNPACK kernels, each stepped the same way).

Example:
    >>> from tflite2keras.verification.stream import STEPS
    >>> STEPS >= 10
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conversion import streaming
from ..errors import VerificationError
from ..tflite.model import TFLiteModel
from .reference import interpreter_module, make_interpreter, random_inputs, run
from .report import Check, VerifyReport, flag_degenerate

#: How many successive frames a stateful model is stepped over.
STEPS = 12


def verify_stream(keras_model: Any, tfl: TFLiteModel, steps: int = STEPS, seed: int = 0, atol: float = 1e-4,
                  rtol: float = 1e-5, ranges: Any = None) -> VerifyReport:
    """Step the Keras model and the interpreter over ``steps`` seeded frames (each input drawn from its
    range, :mod:`tflite2keras.verification.inputs`) and compare each step.

    Raises:
        VerificationError: a step's Keras output has another shape than the interpreter's (never
            reshaped to fit), or the Keras model gives another number of outputs.
    """
    frames = random_inputs(tfl, steps, seed, ranges=ranges)
    report = VerifyReport(interpreter=interpreter_module()[1], samples=steps, source=tfl.source)
    report.notes.append(f"stateful file: {steps} successive frames, state threaded through "
                        f"{[v.key for v in streaming.info(keras_model).variables]}; per-layer checks are not "
                        "made for stateful files")
    deployed = make_interpreter(tfl, "xnnpack")
    try:
        builtin = make_interpreter(tfl, "builtin")
    except VerificationError as err:
        builtin = None
        report.notes.append(f"noise floor unavailable: {err}")
    got = streaming.run(keras_model, [f if len(f) > 1 else f[0] for f in frames])
    values = np.zeros((len(tfl.outputs), 3))
    seen: list[set[float]] = [set() for _ in tfl.outputs]  # up to two distinct reference values per output
    for step, (frame, keras_out) in enumerate(zip(frames, got)):
        try:
            ref = run(deployed, frame, reset=False)[0]
            other = run(builtin, frame, reset=False)[0] if builtin is not None else ref
        except (RuntimeError, ValueError) as err:
            raise VerificationError(
                f"verify: the TFLite interpreter fails on step {step} of {tfl.source}: {err}") from err
        keras_out = keras_out if isinstance(keras_out, list) else [keras_out]
        if len(keras_out) != len(ref):
            raise VerificationError(f"verify: the Keras model gives {len(keras_out)} output(s) per step, but "
                                    f"{tfl.source} has {len(ref)}")
        for j, (k, r, o) in enumerate(zip(keras_out, ref, other)):
            r32 = r.astype(np.float32)
            if np.shape(k) != r.shape:
                raise VerificationError(f"verify: Keras output {j} has shape {np.shape(k)}, but TFLite output {j} "
                                        f"{tfl.tensor(tfl.outputs[j]).name!r} has shape {r.shape}; outputs are "
                                        "never reshaped to fit")
            row = (np.max(np.abs(np.asarray(k, np.float32) - r32), initial=0),
                   np.max(np.abs(r32), initial=0), np.max(np.abs(o.astype(np.float32) - r32), initial=0))
            values[j] = np.maximum(values[j], row)
            if len(seen[j]) < 2:
                seen[j].update(np.unique(r32)[:2].tolist())
    for j, index in enumerate(tfl.outputs):
        tensor = tfl.tensor(index)
        err, ref, noise = (float(v) for v in values[j])
        report.outputs.append(Check(f"output {j}", tensor.name, tensor.shape, err, ref, noise,
                                    max(atol + rtol * ref, 2 * noise), degenerate=len(seen[j]) == 1 and steps > 1))
    flag_degenerate(report)
    return report
