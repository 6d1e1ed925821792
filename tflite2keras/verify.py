"""``verify()``: compare a Keras model's outputs (and, optionally, every layer) with the interpreter.

Pass rule, per output or layer: ``max|keras - ref| <= max(atol + rtol * max|ref|, 2 * noise)``
where ``noise`` is the interpreter's own disagreement between two of its kernel sets
on the same inputs (see :mod:`tflite2keras.reference`). The noise floor is what the
reference itself can promise; a real bug gives errors far above either bound.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .align import align, input_tensors
from .lint import lint
from .mapping import MappingTable, find_table
from .matching import match_layers
from .model import Source, TFLiteModel
from .hybrid import dequantized_weights, is_hybrid
from .quantized import affine
from .reader import read
from .errors import InvalidArgumentError, VerificationError
from .reference import interpreter_module, make_interpreter, random_inputs, run
from . import streaming, verify_quant
from .verify_report import Check, VerifyReport

__all__ = ["Check", "VerifyReport", "verify"]
#: An error counts as within one quantization step up to float32 rounding of the step itself.
ONE_STEP = 1.0 + 1e-4


def verify(keras_model: Any, source: Source, inputs: Sequence[Any] | None = None, samples: int = 4,
           atol: float = 1e-4, rtol: float = 1e-5, per_layer: bool = False,
           table: MappingTable | None = None, overrides: dict[str, Any] | None = None,
           seed: int = 0, batch: int = 1) -> VerifyReport:
    """Run the Keras model and the TFLite interpreter on the same inputs and compare.

    Args:
        keras_model: the Keras model; its outputs must follow the TFLite output order.
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        inputs: extra samples to check, each an array (single-input models) or a list
            of arrays, with batch ``batch``. They are checked in addition to ``samples``
            seeded random ones.
        samples: how many seeded random samples to draw.
        atol / rtol: the tolerance (see the module docstring for the rule).
        per_layer: also check every paired layer on its own: fed the interpreter's
            tensors for its inputs, its output must match the interpreter's tensor for
            its op. Errors do not accumulate, so the first layer that fails (in graph
            order) is the one that is wrong.
        table / overrides: as for :func:`tflite2keras.transplant`, for pairing layers.
        seed: seed of the random samples.

    A model converted from a stateful file (resource variables) is instead stepped with the
    interpreter over successive frames, every step compared (:mod:`tflite2keras.verify_stream`).
        batch: the batch of every sample; the interpreter's inputs are resized to it, so a
            file written for batch 1 is compared at batch 16 with ``batch=16``.

    Returns:
        A report; ``report.ok`` is the overall result.

    Raises:
        InvalidArgumentError: a sample of ``inputs`` has the wrong number of arrays, or an
            array of the wrong shape; the message names the sample, the input and both shapes.
        VerificationError: the interpreter cannot run the model.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras import tiny
        >>> model = t2k.convert(tiny.tflite())
        >>> report = t2k.verify(model, tiny.tflite(), samples=2, per_layer=True)
        >>> report.ok, [check.name for check in report.layers]
        (True, ['conv_1', 'pool_1', 'Identity'])
        >>> t2k.verify(tiny.keras_model(seed=1), tiny.tflite(), samples=2).ok   # other weights
        False
    """
    tfl = read(source)
    if streaming.is_stateful(tfl):
        from .verify_stream import verify_stream

        return verify_stream(keras_model, tfl, seed=seed, atol=atol, rtol=rtol)
    if batch < 1:
        raise InvalidArgumentError(f"verify: batch must be at least 1, received {batch}")
    size = batch
    hybrid = is_hybrid(tfl)
    if hybrid:  # its kernels quantize activations on the fly; the Keras model states float arithmetic
        tfl = read(dequantized_weights(tfl))
    quant = verify_quant.plan(tfl, keras_model)
    user = _user_inputs(tfl, inputs or [], size)
    if quant is None:
        feed = keras_feed = random_inputs(tfl, samples, seed, size) + user
    else:
        feed, keras_feed = verify_quant.split(quant, verify_quant.draw(tfl, quant, samples, seed, size) + user,
                                              len(user))
    report = VerifyReport(interpreter=interpreter_module()[1], samples=len(feed), source=tfl.source,
                          batch=size)
    if hybrid:
        report.notes.append("dynamic-range file: compared with the same file with its int8 weights dequantized "
                            "to float32 (the hybrid kernels also round each op's input to int8)")
    try:
        builtin = make_interpreter(tfl, "builtin", preserve=per_layer, batch=size)
        # TFLite's reference kernels abort the process on some integer models: their layers' noise
        # floor is then taken as zero (outputs still compare XNNPACK with the builtin kernels).
        ref_kernels = (make_interpreter(tfl, "builtin_ref", preserve=True, batch=size)
                       if per_layer and quant is None else None)
    except VerificationError as err:  # e.g. a custom op only the default kernels implement
        builtin = ref_kernels = None
        report.notes.append(f"noise floor unavailable, bound is atol + rtol*max|ref|: {err}")
    deployed = make_interpreter(tfl, "xnnpack", preserve=per_layer and builtin is None, batch=size)
    pairs = []
    if per_layer:
        matches, _, _ = match_layers(keras_model, tfl, table or find_table(tfl), overrides, ())
        pairs = [p for p in align(keras_model, tfl, matches) if p.tensor is not None and p.sources]
    wanted = sorted({p.tensor for p in pairs} | {t for p in pairs for _, t in p.sources})
    stats = _Stats(len(tfl.outputs), len(pairs))
    order = [list(tfl.inputs).index(t) for t in input_tensors(keras_model, tfl)]
    keras_outs = _keras_run(keras_model, [[s[i] for i in order] for s in keras_feed])
    grids = [None if quant is None else affine(tfl.tensor(p.tensor)) for p in pairs]
    steps = {"output": [None] * len(tfl.outputs) if quant is None else quant.steps,
             "layer": [None if g is None else g.step for g in grids]}
    inner: list[dict[int, np.ndarray]] = []
    for i, sample in enumerate(_progress(feed)):
        ref, deployed_inner = _run(tfl, deployed, sample, wanted if builtin is None else (), quant)
        base, inner_i = _run(tfl, builtin, sample, wanted, quant) if builtin is not None else (ref, deployed_inner)
        stats.add("output", [np.array_split(k, len(feed))[i] for k in keras_outs], ref, base, steps["output"])
        inner.append(inner_i)
        if per_layer:
            other = _run(tfl, ref_kernels, sample, wanted, quant)[1] if ref_kernels is not None else inner_i
            stats.add_layers([inner_i[p.tensor] for p in pairs], [other[p.tensor] for p in pairs])
    if per_layer:
        stats.set_layer_errors(*_layer_errors(pairs, inner, grids))
    mode = None if quant is None else quant.mode
    for j, index in enumerate(tfl.outputs):
        t = tfl.tensor(index)
        report.outputs.append(stats.check("output", j, f"output {j}", t.name, t.shape, atol, rtol,
                                          step=steps["output"][j], mode=mode))
    for j, p in enumerate(pairs):
        t = tfl.tensor(p.tensor)
        report.layers.append(stats.check("layer", j, p.layer.name, t.name, t.shape, atol, rtol, p.op.index,
                                         steps["layer"][j], mode))
    report.first_divergence = next((c for c in report.layers if not c.ok), None)
    if report.first_divergence is not None:
        report.divergence_findings = [f for f in lint(keras_model, tfl, table, overrides)
                                      if f.layer == report.first_divergence.name]
    return report


def _user_inputs(tfl: TFLiteModel, inputs: Sequence[Any], batch: int = 1) -> list[list[np.ndarray]]:
    """The user's samples as float32 arrays, each checked against the interpreter's input shapes."""
    out = []
    for i, sample in enumerate(inputs):
        arrays = [np.asarray(x, np.float32) for x in (sample if isinstance(sample, (list, tuple)) else [sample])]
        if len(arrays) != len(tfl.inputs):
            raise InvalidArgumentError(f"verify: inputs[{i}] has {len(arrays)} arrays, but {tfl.source} has "
                                       f"{len(tfl.inputs)} input(s). Pass one array per model input")
        for j, (array, index) in enumerate(zip(arrays, tfl.inputs)):
            tensor = tfl.tensor(index)
            expected = (batch, *tensor.shape[1:])
            if array.shape != expected:
                raise InvalidArgumentError(
                    f"verify: inputs[{i}] for model input {j} {tensor.name!r}: expected shape "
                    f"{expected} (batch {batch}), received {array.shape}")
        out.append(arrays)
    return out


def _layer_errors(pairs: list[Any], inner: list[dict[int, np.ndarray]],
                  grids: list[Any]) -> tuple[list[float], list[float | None]]:
    """Each paired layer's own error, fed the interpreter's input tensors, against its output; and,
    for a quantized tensor, the fraction of elements within one step. A float layer's output is
    clamped to what its quantized tensor can represent, as the integer kernel's is."""
    import keras

    errors, within = [], []
    for p, grid in zip(pairs, grids):
        # keras.Function runs the existing nodes; a keras.Model of intermediate tensors would clone
        # them into the layers' inbound nodes, and the user's model would then no longer save.
        sub = keras.Function([kt for kt, _ in p.sources], p.compared)
        feed = [np.concatenate([sample[t] for sample in inner]) for _, t in p.sources]
        want = np.concatenate([sample[p.tensor] for sample in inner]).astype(np.float32)
        got = np.asarray(sub(feed), np.float32).reshape(want.shape)
        if grid is not None:
            got = np.clip(got, *grid.range())
        error = np.abs(got - want)
        errors.append(float(np.max(error, initial=0)))
        within.append(None if grid is None else float(np.mean(error <= grid.step * ONE_STEP)) if error.size else 1.0)
    return errors, within


class _Stats:
    """Running maxima of error, reference magnitude and noise per compared tensor, and for quantized
    tensors how many elements are within one step."""

    def __init__(self, outputs: int, layers: int) -> None:
        self.values = {kind: np.zeros((n, 3)) for kind, n in (("output", outputs), ("layer", layers))}
        self.errors: dict[str, list[list[np.ndarray]]] = {"output": [[] for _ in range(outputs)], "layer": []}
        self.within: dict[str, list[float | None]] = {"output": [None] * outputs, "layer": [None] * layers}

    def add(self, kind: str, keras: list[np.ndarray], ref: list[np.ndarray], other: list[np.ndarray],
            steps: list[float | None] | None = None) -> None:
        for j, (k, r, o) in enumerate(zip(keras, ref, other)):
            k = np.asarray(k, np.float32).reshape(r.shape)
            r32 = r.astype(np.float32)
            error = np.abs(k - r32)
            row = (np.max(error, initial=0), np.max(np.abs(r32), initial=0),
                   np.max(np.abs(o.astype(np.float32) - r32), initial=0))
            self.values[kind][j] = np.maximum(self.values[kind][j], row)
            if steps is not None and steps[j] is not None:
                self.errors[kind][j].append(error.reshape(-1))

    def add_layers(self, ref: list[np.ndarray], other: list[np.ndarray]) -> None:
        """Reference magnitude and noise per layer (errors come from :meth:`set_layer_errors`)."""
        self.add("layer", ref, ref, other)

    def set_layer_errors(self, errors: list[float], within: list[float | None]) -> None:
        """Each layer's own error, measured on the interpreter's inputs."""
        self.values["layer"][:, 0] = errors
        self.within["layer"] = within

    def check(self, kind: str, j: int, name: str, tensor: str, shape: tuple[int, ...], atol: float,
              rtol: float, op_index: int | None = None, step: float | None = None,
              mode: str | None = None) -> Check:
        err, ref, noise = (float(v) for v in self.values[kind][j])
        if step is None or mode is None:
            return Check(name, tensor, shape, err, ref, noise, max(atol + rtol * ref, 2 * noise), op_index)
        bound = max(verify_quant.bound_steps(mode, kind == "layer") * step, 2 * noise)
        need = verify_quant.FAKE_QUANT_WITHIN if mode == "fake_quant" else 0.0
        within = self.within[kind][j]
        if kind == "output" and self.errors[kind][j]:  # within a step, or within the interpreter's own noise
            within = float(np.mean(np.concatenate(self.errors[kind][j]) <= max(step * ONE_STEP, noise)))
        return Check(name, tensor, shape, err, ref, noise, bound, op_index, step, within, need)


def _run(tfl: TFLiteModel, interpreter: Any, sample: list[Any], tensors: Any,
         quant: Any) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """:func:`~tflite2keras.reference.run`, with integer tensors dequantized for an integer file."""
    outputs, inner = run(interpreter, sample, tensors)
    if quant is None:
        return outputs, inner
    return ([verify_quant.real(tfl, t, v) for t, v in zip(tfl.outputs, outputs)],
            {t: verify_quant.real(tfl, t, v) for t, v in inner.items()})


def _keras_run(keras_model: Any, batch: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Keras outputs for every sample, in one batched call."""
    import keras

    probe = keras.Model(list(keras_model.inputs), list(keras_model.outputs))
    stacked = [np.concatenate([s[i] for s in batch], axis=0) for i in range(len(batch[0]))]
    result = probe(stacked, training=False)
    result = result if isinstance(result, (list, tuple)) else [result]
    return [np.asarray(r) for r in result]


def _progress(batch: list[Any]) -> Any:
    if len(batch) <= 4:
        return batch
    from tqdm.auto import tqdm

    return tqdm(batch, desc="verify", unit="sample", leave=False)
