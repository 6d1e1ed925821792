"""``export_tflite``: a Keras model back to a ``.tflite`` file with builtin ops only, verified.

The model is traced with ``tf.function`` at batch 1 and converted by TensorFlow's
``TFLiteConverter`` restricted to TFLite's builtin ops, so the file runs in the stock
interpreter with no Flex delegate. Weights can stay float32, be stored as float16
behind DEQUANTIZE (as MediaPipe ships its models), or be quantized to full-integer int8
from representative data. The file is written atomically and then checked against the
Keras model with :func:`tflite2keras.verify`.

Example:
    >>> import keras, numpy as np
    >>> import tflite2keras as t2k
    >>> model = keras.Sequential([keras.Input((5, 3)), keras.layers.Dense(7, activation="relu")])
    >>> report = t2k.export_tflite(model, weights="float16")
    >>> report.ok, report.ops["FULLY_CONNECTED"]
    (True, 1)
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import _render
from .._files import write_atomically
from ..errors import InvalidArgumentError, UnsupportedOpError
from ..tflite.reader import read
from ..tflite.schema import aligned_buffer, pack, unpack
from .export_args import input_shapes, representative_samples

if TYPE_CHECKING:
    import keras

WEIGHTS = ("float32", "float16", "int8")


@dataclass
class ExportReport:
    """What :func:`export_tflite` wrote and how it compares with the Keras model.

    Attributes:
        path: the file written, or None when only bytes were asked for.
        data: the ``.tflite`` bytes.
        weights: the weight storage (``"float32"``, ``"float16"`` or ``"int8"``).
        ops: op histogram of the file, opcode -> count.
        verify: the verify report (None when ``verify=False``).
        int8_error: for ``weights="int8"``, max |int8 file - Keras| per output on the
            representative data (not asserted tight: integer rounding).
    """

    path: str | None
    data: bytes
    weights: str
    ops: Counter = field(default_factory=Counter)
    verify: Any = None
    int8_error: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the export was verified within the default tolerance (or not verified)."""
        return self.verify is None or bool(self.verify.ok)

    def _caption(self) -> str:
        where = self.path or "<bytes>"
        checked = "not verified" if self.verify is None else ("verified" if self.verify.ok else "FAILED verification")
        return f"{where}: {len(self.data)} bytes, weights {self.weights}, {sum(self.ops.values())} ops, {checked}"

    def _rows(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [("op", op, n) for op, n in self.ops.most_common()]
        if self.verify is not None:
            rows += [("output", f"{c.name} max|keras-tflite|", f"{_render.cell(c.max_error)} "
                      f"(bound {_render.cell(c.bound)})") for c in self.verify.outputs]
        rows += [("int8", f"output {i} max|int8-keras|", e) for i, e in enumerate(self.int8_error)]
        return rows

    def __str__(self) -> str:
        return self._caption() + "\n" + _render.text_table(("kind", "what", "value"), self._rows())

    def _repr_html_(self) -> str:
        return _render.html_table(("kind", "what", "value"), self._rows(), caption=self._caption())


def export_tflite(model: keras.Model, dst: str | os.PathLike[str] | None = None, *, weights: str = "float32",
                  representative_data: Iterable[Any] | Callable[[], Iterable[Any]] | None = None,
                  verify: bool = True, input_shape: Sequence[int | None] | None = None) -> ExportReport:
    """Export a Keras model to TFLite with builtin ops only.

    Args:
        model: a Keras model: a converted one, a zoo model, or a detector or classifier wrapper.
        dst: where to write the file (atomically); None returns the bytes in the report only.
        weights: ``"float32"``; ``"float16"`` (fp16 buffers behind DEQUANTIZE); or ``"int8"``
            (post-training full-integer quantization, float input and output).
        representative_data: for ``"int8"``: samples (arrays, or lists of arrays for
            several inputs), or a function returning them; batch 1 or more per sample.
        verify: compare the written file with the Keras model (:func:`tflite2keras.verify`);
            the report lists the error per output. For ``"float16"`` the model's weights are
            rounded to float16 for the comparison (and restored), so that it checks the export,
            not the rounding. Not done for ``"int8"``, whose error is reported against the
            representative data instead.
        input_shape: the single input's shape, batch first, for models whose input has
            free spatial sizes (the detector wrapper takes images of any size).

    Returns:
        An :class:`ExportReport`.

    Raises:
        InvalidArgumentError: unknown ``weights``, ``"int8"`` without representative data,
            free input dimensions without ``input_shape``, an ``input_shape`` that does not fit
            the model's input, or representative samples shaped unlike the model's inputs;
            all checked before converting.
        UnsupportedOpError: some layer has no builtin TFLite lowering; nothing is written.
    """
    if weights not in WEIGHTS:
        raise InvalidArgumentError(f"weights must be one of {WEIGHTS}, received {weights!r}")
    if weights == "int8" and representative_data is None:
        raise InvalidArgumentError("weights='int8' needs representative_data: samples shaped as the model's inputs")
    shapes = input_shapes(model, input_shape)
    samples = representative_samples(representative_data, model, shapes) if weights == "int8" else []

    import tensorflow as tf

    from ..layers.export_form import export_form

    specs = [tf.TensorSpec(shape, tensor.dtype) for shape, tensor in zip(shapes, model.inputs)]
    multi = len(specs) > 1
    function = tf.function(lambda *xs: list(_as_list(model(list(xs) if multi else xs[0], training=False))))
    with export_form():
        concrete = function.get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if weights == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif weights == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.representative_dataset = lambda: ([np.asarray(x, np.float32) for x in s] for s in samples)
    try:
        data = bytes(converter.convert())
    except Exception as err:  # the converter raises ConverterError, a plain Exception subclass
        raise UnsupportedOpError(_unsupported(model, concrete, str(err))) from err
    data = _short_names(data)
    tfl = read(data)
    custom = sorted({op.opcode for op in tfl.operators if op.is_custom or op.opcode.startswith("FLEX")})
    if custom:
        raise UnsupportedOpError(f"the export of {model.name!r} would need non-builtin ops {custom}; nothing written")
    path = None if dst is None else write_atomically(os.fspath(dst), data)
    report = ExportReport(path, data, weights, Counter(op.opcode for op in tfl.operators))
    if weights == "int8":
        report.int8_error = _int8_error(model, tfl, samples)
    elif verify:
        from ..verification.verify import verify as run_verify

        with _weights_as_stored(model, weights):
            report.verify = run_verify(model, tfl)
    return report


def op_histogram(src: Any, *, unfused: bool = False) -> Counter:
    """Opcode -> count of a TFLite model (path, bytes or :class:`~tflite2keras.TFLiteModel`).

    Args:
        src: the model.
        unfused: count what the ops compute rather than how the file groups it: an op
            with a fused activation counts that activation too (``CONV_2D`` with
            ``fused_activation_function=RELU`` is a ``CONV_2D`` and a ``RELU``), and a
            ``DEQUANTIZE`` counts once per op reading it. This is the histogram to compare an
            export with its original: TensorFlow's converter fuses a standalone ``RELU`` into
            the op before it, and shares one constant (and its ``DEQUANTIZE``) among layers
            whose weights are equal, as MediaPipe's zero biases are.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> op_histogram(tiny.tflite())["RELU"], op_histogram(tiny.tflite(), unfused=True)["RELU"]
        (0, 1)
    """
    tfl = read(src)
    counts: Counter = Counter()
    for op in tfl.operators:
        if unfused and op.opcode == "DEQUANTIZE":
            counts[op.opcode] += max(1, len(tfl.consumers(op.outputs[0])))
            continue
        counts[op.opcode] += 1
        activation = str(op.options.get("fused_activation_function") or "NONE")
        if unfused and activation != "NONE":
            counts[activation] += 1
    return counts


def _unsupported(model: Any, concrete: Any, message: str) -> str:
    """The converter's refusal, led by the layers and TF ops that have no builtin lowering.

    The converter names each op type it cannot lower (``'tf.Svd' op is neither a custom op
    nor a flex op``); the traced graph's ops of that type sit in the name scopes of the
    layers that made them (``functional_1/my_svd_1/Svd``: a layer's scope has a ``_1`` suffix).
    """
    import re

    layers, stack = set(), list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        layers.add(layer.name)
        stack.extend(getattr(layer, "layers", []))
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", message)))
    found: list[str] = []
    for node in concrete.graph.get_operations() if ops else []:
        if node.type not in ops:
            continue
        for part in reversed(node.name.split("/")[:-1]):
            name = part if part in layers else re.sub(r"_\d+$", "", part)
            if name in layers:
                found += [] if name in found else [name]
                break
    lead = f"{model.name!r} cannot be exported with builtin TFLite ops only"
    if ops:
        lead += f": layer(s) {found or '(not found)'} use TensorFlow op(s) {ops}, which TFLite's builtins lack"
    return f"{lead}. Nothing was written. The converter said: {message.strip()[:1500]}"


def _short_names(data: bytes) -> bytes:
    """The file with each tensor named after the last op fused into it, not all of them.

    The converter names a fused tensor ``"relu;bias_add;conv;squeeze"``; those names were a
    tenth of selfie_segmentation's exported file. Only the first part is kept.
    """

    model = unpack(data)
    renamed = False
    for graph in model.subgraphs or []:
        for tensor in graph.tensors or []:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")
            if ";" in name:
                tensor.name, renamed = name.split(";", 1)[0], True
    if not renamed:
        return data
    for buffer in model.buffers or []:
        buffer.__class__ = aligned_buffer()
    return pack(model)


@contextlib.contextmanager
def _weights_as_stored(model: Any, weights: str) -> Iterator[None]:
    """Within the block, the model's float32 variables hold the values the file stores.

    A float16 file rounds every weight; verifying it against the float32 weights would
    measure that choice, not the export. The weights are restored exactly afterwards.
    """
    if weights != "float16":
        yield
        return
    saved = [(v, v.numpy()) for v in model.variables if str(v.dtype) == "float32"]
    try:
        for variable, value in saved:
            variable.assign(value.astype(np.float16).astype(np.float32))
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)


def _as_list(outputs: Any) -> list[Any]:
    import keras

    return list(keras.tree.flatten(outputs))


def _int8_error(model: Any, tfl: Any, samples: list[list[np.ndarray]]) -> list[float]:
    from ..verification.reference import make_interpreter, run

    interpreter = make_interpreter(tfl)
    worst = np.zeros(len(tfl.outputs))
    for sample in samples:
        for row in range(sample[0].shape[0]):
            feed = [x[row:row + 1] for x in sample]
            got, _ = run(interpreter, feed)
            want = _as_list(model(feed if len(feed) > 1 else feed[0], training=False))
            worst = np.maximum(worst, [float(np.max(np.abs(g - np.asarray(w)))) for g, w in zip(got, want)])
    return [float(e) for e in worst]
