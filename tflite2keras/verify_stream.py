"""``verify`` for a stateful file: both sides stepped over the same frames, every step compared.

The interpreter keeps its resource variables between invokes; the Keras model gets its state
threaded through by :func:`tflite2keras.streaming.run`. Each output's error is the maximum over
all steps, against the usual bound (``atol + rtol * max|ref|`` or twice the noise between the
interpreter's builtin and XNNPACK kernels, each stepped the same way).

Example:
    >>> from tflite2keras.verify_stream import STEPS
    >>> STEPS >= 10
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import streaming
from .errors import VerificationError
from .model import TFLiteModel
from .reference import interpreter_module, make_interpreter, random_inputs, run
from .verify_report import Check, VerifyReport

#: How many successive frames a stateful model is stepped over.
STEPS = 12


def verify_stream(keras_model: Any, tfl: TFLiteModel, steps: int = STEPS, seed: int = 0, atol: float = 1e-4,
                  rtol: float = 1e-5) -> VerifyReport:
    """Step the Keras model and the interpreter over ``steps`` seeded frames and compare each step."""
    frames = random_inputs(tfl, steps, seed)
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
    for frame, keras_out in zip(frames, got):
        ref = run(deployed, frame, reset=False)[0]
        other = run(builtin, frame, reset=False)[0] if builtin is not None else ref
        keras_out = keras_out if isinstance(keras_out, list) else [keras_out]
        for j, (k, r, o) in enumerate(zip(keras_out, ref, other)):
            r32 = r.astype(np.float32)
            row = (np.max(np.abs(np.asarray(k, np.float32).reshape(r.shape) - r32), initial=0),
                   np.max(np.abs(r32), initial=0), np.max(np.abs(o.astype(np.float32) - r32), initial=0))
            values[j] = np.maximum(values[j], row)
    for j, index in enumerate(tfl.outputs):
        tensor = tfl.tensor(index)
        err, ref, noise = (float(v) for v in values[j])
        report.outputs.append(Check(f"output {j}", tensor.name, tensor.shape, err, ref, noise,
                                    max(atol + rtol * ref, 2 * noise)))
    return report
