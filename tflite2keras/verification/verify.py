"""``verify()``: compare a Keras model's outputs (and, optionally, every layer) with the interpreter.

Pass rule, per output or layer: ``max|keras - ref| <= max(atol + rtol * max|ref|, 2 * noise)``
where ``noise`` is the interpreter's own disagreement between two of its kernel sets
on the same inputs (see :mod:`tflite2keras.verification.reference`). The noise floor is what the
reference itself can promise; a real bug gives errors far above either bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..conversion.prepared import prepared_view
from ..errors import InvalidArgumentError, VerificationError
from ..tflite.model import Source, TFLiteModel
from ..tflite.quant import affine
from ..tflite.reader import read
from ..tflite.variables import is_stateful
from ..weights.align import align_strict
from ..weights.mapping import MappingTable, find_table
from ..weights.matching import match_layers
from . import quantized as verify_quant
from .hybrid import dequantized_weights, is_hybrid
from .inputs import Ranges, check_counts, user_samples
from .lint import lint
from .pairing import (
    check_sample,
    keras_output_names,
    keras_outputs,
    pair_inputs,
    pair_outputs,
)
from .reference import interpreter_module, make_interpreter, random_inputs, run
from .report import Check, VerifyReport, flag_degenerate

if TYPE_CHECKING:
    import keras

__all__ = ["Check", "VerifyReport", "verify"]
#: An error counts as within one quantization step up to float32 rounding of the step itself.
ONE_STEP = 1.0 + 1e-4


def verify(keras_model: keras.Model, source: Source, inputs: Sequence[Any] | np.ndarray | None = None, samples: int = 4,
           atol: float = 1e-4, rtol: float = 1e-5, per_layer: bool = False,
           table: MappingTable | None = None, overrides: dict[str, Any] | None = None,
           seed: int = 0, batch: int = 1, input_ranges: Ranges = None) -> VerifyReport:
    """Run the Keras model and the TFLite interpreter on the same inputs and compare.

    Every TFLite output is compared with one Keras output: paired by name where the Keras model
    keeps the TFLite output names (as :func:`tflite2keras.convert` names them), else by position.
    The counts must be equal and the shapes too (batch aside); an output is never reshaped to fit.

    Args:
        keras_model: the Keras model, with one output per TFLite output.
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        inputs: extra samples to check, each an array (single-input models) or a list
            of arrays, with batch ``batch``; a bare array is one sample of a single-input
            model. They are checked in addition to ``samples`` seeded random ones.
        samples: how many seeded random samples to draw (0 with ``inputs``: only those).
        atol / rtol: the tolerance (see the module docstring for the rule).
        per_layer: also check every paired layer on its own: fed the interpreter's
            tensors for its inputs, its output must match the interpreter's tensor for
            its op. Errors do not accumulate, so the first layer that fails (in graph
            order) is the one that is wrong.
        table / overrides: as for :func:`tflite2keras.transplant`, for pairing layers.
        seed: seed of the random samples.
        batch: the batch of every sample; the interpreter's inputs are resized to it, so a
            file written for batch 1 is compared at batch 16 with ``batch=16``. A model with fixed
            shapes (``model.fixed_shape``: axis 0 is data, not a free batch) is fed the file's own
            input shapes, and takes only ``batch=1``.
        input_ranges: the ``[lo, hi)`` each input is drawn from, overriding the default (a float
            input in ``[-1, 1)``, an input that indexes a table in ``[0, rows)``, another integer
            input over its dtype): one pair for every input, a list with one pair (or None) per
            input, or a dict by input name or position (:mod:`tflite2keras.verification.inputs`).

    A model converted from a stateful file (resource variables) is instead stepped with the
    interpreter over successive frames, every step compared (:mod:`tflite2keras.verification.stream`).

    Returns:
        A report; ``report.ok`` is the overall result. An output whose reference is the same
        value everywhere, on every sample, is flagged ``degenerate`` (a pass there proves little).

    Raises:
        InvalidArgumentError: ``samples`` or ``batch`` out of range (or nothing to compare), a
            sample of ``inputs`` with the wrong number of arrays or an array of the wrong shape, a
            bad ``input_ranges``, or a Keras model whose inputs differ from the file's in number or
            shape; the message names both sides.
        VerificationError: the Keras model's outputs differ from the file's in number or shape
            (naming both sides), or the interpreter or the Keras model cannot run the samples.
        MappingError: with ``per_layer``, Keras weight layers or TFLite weight ops that could not
            be paired (a file of another architecture); the message counts and names them.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> model = t2k.convert(tiny.tflite())
        >>> report = t2k.verify(model, tiny.tflite(), samples=2, per_layer=True)
        >>> report.ok, [check.name for check in report.layers]
        (True, ['conv_1', 'pool_1', 'Identity'])
        >>> t2k.verify(tiny.keras_model(seed=1), tiny.tflite(), samples=2).ok   # other weights
        False
    """
    tfl = prepared_view(read(source))[0]  # the shapes the interpreter computes: stored ones may be stale
    check_counts(samples, batch, inputs)
    if is_stateful(tfl):
        from .stream import verify_stream

        return verify_stream(keras_model, tfl, seed=seed, atol=atol, rtol=rtol, ranges=input_ranges)
    size = _batch(keras_model, batch)
    hybrid = is_hybrid(tfl)
    if hybrid:  # its kernels quantize activations on the fly; the Keras model states float arithmetic
        tfl = prepared_view(read(dequantized_weights(tfl)))[0]
    quant = verify_quant.plan(tfl, keras_model)
    user = user_samples(tfl, inputs, size)
    if quant is None:
        feed = keras_feed = random_inputs(tfl, samples, seed, size, input_ranges) + user
    else:
        feed, keras_feed = verify_quant.split(
            quant, verify_quant.draw(tfl, quant, samples, seed, size, input_ranges) + user, len(user))
    report = VerifyReport(interpreter=interpreter_module()[1], samples=len(feed), source=tfl.source,
                          batch=batch)
    if size is None:
        report.notes.append(f"fixed shapes: fed the file's own input shapes "
                            f"{[tfl.tensor(t).shape for t in tfl.inputs]} ({_fixed_reason(keras_model)})")
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
    for interpreter in (builtin, ref_kernels, deployed):
        _at_batch(tfl, interpreter, size)
    order, out_order = pair_inputs(keras_model, tfl), pair_outputs(keras_model, tfl)
    pairs = []
    if per_layer:
        mapping = table or find_table(tfl)  # a layer left unpaired would go unchecked: raise instead
        pairs = align_strict(keras_model, tfl, match_layers(keras_model, tfl, mapping, overrides, ()),
                             "verify(per_layer=True)", "Per-layer checks pair every weight layer with its op: pass "
                             "overrides={keras_layer: tflite_name} or a table, or verify per output (per_layer=False).",
                             mapping.name if mapping else None)
        pairs = [p for p in pairs if p.tensor is not None and p.sources]
    wanted = sorted({p.tensor for p in pairs} | {t for p in pairs for _, t in p.sources})
    stats = _Stats(len(tfl.outputs), len(pairs))
    grids = [None if quant is None else affine(tfl.tensor(p.tensor)) for p in pairs]
    steps = {"output": [None] * len(tfl.outputs) if quant is None else quant.steps,
             "layer": [None if g is None else g.step for g in grids]}
    inner: list[dict[int, np.ndarray]] = []
    refs: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
    for i, sample in enumerate(_progress(feed)):
        ref, deployed_inner = _run(tfl, deployed, sample, wanted if builtin is None else (), quant, "xnnpack", i)
        base, inner_i = (_run(tfl, builtin, sample, wanted, quant, "builtin", i) if builtin is not None
                         else (ref, deployed_inner))
        refs.append((ref, base))
        inner.append(inner_i)
        if per_layer:
            other = (_run(tfl, ref_kernels, sample, wanted, quant, "builtin_ref", i)[1] if ref_kernels is not None
                     else inner_i)
            stats.add_layers([inner_i[p.tensor] for p in pairs], [other[p.tensor] for p in pairs])
    names = keras_output_names(keras_model)
    keras_outs = keras_outputs(keras_model, [[s[i] for i in order] for s in keras_feed],
                               size is not None and [r.shape[0] if r.ndim else 0 for r in refs[0][0]] ==
                               [size] * len(tfl.outputs))
    for i, (ref, base) in enumerate(refs):
        ours = [keras_outs[i][k] for k in out_order]
        for j, (k, r) in enumerate(zip(ours, ref)):
            check_sample(k, r, tfl, j, names[out_order[j]], i)
        stats.add("output", ours, ref, base, steps["output"])
    if per_layer:
        stats.set_layer_errors(*_layer_errors(pairs, inner, grids, report.notes))
    mode = None if quant is None else quant.mode
    for j, index in enumerate(tfl.outputs):
        t = tfl.tensor(index)
        report.outputs.append(stats.check("output", j, f"output {j}", t.name, t.shape, atol, rtol,
                                          step=steps["output"][j], mode=mode,
                                          depth=None if quant is None else quant.depths[j]))
    for j, p in enumerate(pairs):
        t = tfl.tensor(p.tensor)
        report.layers.append(stats.check("layer", j, p.layer.name, t.name, t.shape, atol, rtol, p.op.index,
                                         steps["layer"][j], mode))
    flag_degenerate(report)
    report.first_divergence = next((c for c in report.layers if not c.ok), None)
    if report.first_divergence is not None:
        report.divergence_findings = [f for f in lint(keras_model, tfl, table, overrides)
                                      if f.layer == report.first_divergence.name]
    return report


def _at_batch(tfl: TFLiteModel, interpreter: Any, size: int | None) -> None:
    """Resize an interpreter's inputs whose axis 0 is fixed at another extent than ``size`` (a file
    written at batch 3, converted with a free batch and compared at batch 1).

    Raises:
        VerificationError: the interpreter cannot run the file at that batch.
    """
    if interpreter is None or size is None:
        return
    details = [d for d in interpreter.get_input_details() if len(d["shape"]) and d["shape"][0] != size]
    if not details:
        return
    try:
        for detail in details:
            interpreter.resize_tensor_input(detail["index"], [size, *detail["shape"][1:]], strict=False)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as err:
        raise VerificationError(f"verify: the TFLite interpreter cannot run {tfl.source} at batch {size} (its "
                                f"inputs {[tuple(d['shape']) for d in details]}): {err}") from err


def _fixed_reason(keras_model: Any) -> str:
    """Why the model's axis 0 is not a free batch: ``convert``'s record, else its inputs' shapes."""
    reason = getattr(keras_model, "fixed_shape", None)
    if reason:
        return str(reason)
    return f"its inputs have a fixed axis 0: {[tuple(x.shape) for x in keras_model.inputs]}"


def _batch(keras_model: Any, batch: int) -> int | None:
    """The batch samples are drawn at, or None for a model with fixed shapes (``model.fixed_shape``
    set by ``convert``, or an input whose axis 0 is fixed): fed the file's own input shapes.

    Raises:
        InvalidArgumentError: a batch other than 1 for a model with fixed shapes.
    """
    fixed = bool(getattr(keras_model, "fixed_shape", None)) or any(
        len(x.shape) and x.shape[0] is not None for x in keras_model.inputs)
    if not fixed:
        return batch
    if batch != 1:
        raise InvalidArgumentError(f"verify: the model has fixed shapes ({_fixed_reason(keras_model)}): it runs "
                                   f"only at the file's own input shapes; expected batch=1, received batch={batch}")
    return None


def _layer_errors(pairs: list[Any], inner: list[dict[int, np.ndarray]], grids: list[Any],
                  notes: list[str]) -> tuple[list[float], list[float | None]]:
    """Each paired layer's own error, fed the interpreter's input tensors, against its output; and,
    for a quantized tensor, the fraction of elements within one step. A float layer's output is
    clamped to what its quantized tensor can represent, as the integer kernel's is.

    Each sample is run on its own: an op that moves space into the batch (SPACE_TO_BATCH_ND puts
    block offset ``b`` of sample ``n`` at batch ``b * N + n``) would mix samples concatenated along
    the batch. A layer whose output has another shape than its tensor fails (error inf), with a note.
    """
    import keras

    errors, within = [], []
    for p, grid in zip(pairs, grids):
        # keras.Function runs the existing nodes; a keras.Model of intermediate tensors would clone
        # them into the layers' inbound nodes, and the user's model would then no longer save.
        sub = keras.Function([kt for kt, _ in p.sources], p.compared)
        error_parts = []
        for sample in inner:
            want = sample[p.tensor].astype(np.float32)
            try:
                got = np.asarray(sub([sample[t] for _, t in p.sources]), np.float32)
            except Exception as err:  # a Keras or backend error on the interpreter's tensors: this layer fails
                notes.append(f"layer {p.layer.name!r} (op {p.op.index}) cannot run on the interpreter's input "
                             f"tensors: {type(err).__name__}: {str(err)[:200]}; counted as failing")
                error_parts = [np.full(1, np.inf, np.float32)]
                break
            if got.shape != want.shape:
                notes.append(f"layer {p.layer.name!r} (op {p.op.index}) computes shape {got.shape}, but its TFLite "
                             f"tensor {p.tensor} has shape {want.shape}: not compared, counted as failing")
                error_parts = [np.full(1, np.inf, np.float32)]
                break
            if grid is not None:
                got = np.clip(got, *grid.range())
            error_parts.append(np.abs(got - want).reshape(-1))
        error = np.concatenate(error_parts) if error_parts else np.zeros(0, np.float32)
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
        #: the smallest and largest reference value of each output over every sample, and how many were seen
        self.span = np.tile([np.inf, -np.inf], (outputs, 1))
        self.seen = np.zeros(outputs, np.int64)

    def add(self, kind: str, keras: list[np.ndarray], ref: list[np.ndarray], other: list[np.ndarray],
            steps: list[float | None] | None = None) -> None:
        for j, (k, r, o) in enumerate(zip(keras, ref, other)):
            k = np.asarray(k, np.float32)
            r32 = r.astype(np.float32)
            if kind == "output" and r32.size:
                self.span[j] = np.minimum(self.span[j][0], np.min(r32)), np.maximum(self.span[j][1], np.max(r32))
                self.seen[j] += r32.size
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
              mode: str | None = None, depth: int | None = None) -> Check:
        err, ref, noise = (float(v) for v in self.values[kind][j])
        # one value seen (one sample of a one-element output) says nothing either way
        constant = kind == "output" and self.seen[j] > 1 and bool(self.span[j][0] == self.span[j][1])
        if step is None or mode is None:
            return Check(name, tensor, shape, err, ref, noise, max(atol + rtol * ref, 2 * noise), op_index,
                         degenerate=constant)
        # N steps as float32 measures them: an error of exactly N steps, dequantized, may exceed N * step by
        # the rounding of the step itself (as for ``within``).
        bound = max(verify_quant.bound_steps(mode, kind == "layer", depth) * step * ONE_STEP, 2 * noise)
        need = verify_quant.FAKE_QUANT_WITHIN if mode == "fake_quant" else 0.0
        within = self.within[kind][j]
        if kind == "output" and self.errors[kind][j]:  # within a step, or within the interpreter's own noise
            within = float(np.mean(np.concatenate(self.errors[kind][j]) <= max(step * ONE_STEP, noise)))
        return Check(name, tensor, shape, err, ref, noise, bound, op_index, step, within, need, constant)


def _run(tfl: TFLiteModel, interpreter: Any, sample: list[Any], tensors: Any, quant: Any, kernels: str = "xnnpack",
         index: int = 0) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """:func:`~tflite2keras.verification.reference.run`, with integer tensors dequantized for an integer file.

    Raises:
        VerificationError: the interpreter fails on the sample.
    """
    try:
        outputs, inner = run(interpreter, sample, tensors)
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        shapes = [(tuple(np.shape(x)), str(np.asarray(x).dtype)) for x in sample]
        raise VerificationError(f"verify: the TFLite interpreter ({kernels} kernels) fails on sample {index} "
                                f"(inputs {shapes}) of {tfl.source}: {err}") from err
    if quant is None:
        return outputs, inner
    return ([verify_quant.real(tfl, t, v) for t, v in zip(tfl.outputs, outputs)],
            {t: verify_quant.real(tfl, t, v) for t, v in inner.items()})


def _progress(batch: list[Any]) -> Any:
    if len(batch) <= 4:
        return batch
    from tqdm.auto import tqdm

    return tqdm(batch, desc="verify", unit="sample", leave=False)
