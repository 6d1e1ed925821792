"""TOCO-style uint8 test files, derived exactly from TensorFlow's int8 output.

TOCO-era full-integer files use **uint8** activations and weights with per-tensor zero points,
and often carry ReLU6 and ReLU only in an op's output range (fused activation NONE, output range
[0, 6] or [0, x]): the integer kernel's clamp to that range *is* the activation. TF 2.21 cannot
write such files, so they are derived, in steps, each of which leaves every tensor the
interpreter computes unchanged (:func:`check_same`):

1. ``int8``: TF's converter, full-integer with int8 input and output and per-tensor weights
   (``_experimental_disable_per_channel``), as TOCO quantized them;
2. ``uint8``: :func:`to_uint8` shifts every int8 tensor to uint8 with its real values kept: an
   activation by 128 (``q + 128``, zero point + 128), a constant (weights) by its own shift, which
   centres its values in [0, 255] and so gives it an asymmetric zero point as TOCO's were;
3. ``toco``: :func:`drop_range_activations` drops each fused RELU6 whose output range already is
   [0, 6] and each fused RELU whose output range starts at 0.

:func:`tflite` caches each step's file under ``<suite cache>/toco-v{VERSION}`` (keyed by the
TensorFlow and Keras versions, like :mod:`tflite2keras.testdata.suite`).

Example (generates the files on first use, so not a doctest)::

    from tflite2keras.testdata import toco
    data = toco.tflite("mobilenet_v2")          # uint8 I/O, RELU6 carried by output ranges
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._files import write_atomically
from ..errors import InvalidArgumentError, VerificationError
from ..tflite.quant import affine
from ..tflite.reader import read
from ..writer.flatjson import from_json, to_json

VERSION = 1
#: Input shapes, batch excluded: odd sizes, so that a transposed axis shows.
SHAPES: dict[str, tuple[int, ...]] = {
    "mobilenet_v1": (97, 83, 3), "mobilenet_v2": (97, 83, 3), "classifier": (29, 23, 3)}
#: The steps of the derivation, in order (see the module docstring).
STEPS = ("int8", "uint8", "toco")
CLASSES = 7


def folder() -> Path:
    """The cache folder of these files.

    Example:
        >>> folder().name
        'toco-v1'
    """
    from .suite import cache_dir

    return cache_dir() / f"toco-v{VERSION}"


def tflite(name: str, step: str = "toco") -> bytes:
    """Model ``name`` (one of :data:`SHAPES`) after derivation step ``step`` (one of :data:`STEPS`),
    generated on first use and cached.

    Raises:
        InvalidArgumentError: ``name`` or ``step`` is unknown.
    """
    if name not in SHAPES or step not in STEPS:
        raise InvalidArgumentError(f"toco: expected a model in {sorted(SHAPES)} and a step in {STEPS}, "
                                   f"received {name!r}, {step!r}")
    target = folder() / f"{name}_{step}.tflite"
    if not target.exists():
        if step == "int8":
            data = per_tensor_int8(keras_model(name))
        elif step == "uint8":
            data = to_uint8(tflite(name, "int8"))
        else:
            data = drop_range_activations(tflite(name, "uint8"))[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
    return target.read_bytes()


def keras_model(name: str) -> Any:
    """The seeded Keras model ``name``: MobileNetV1 (alpha 0.25) and MobileNetV2 (alpha 0.35) from
    ``keras.applications`` with ``weights=None``, or a small classifier (conv, pool, FC, softmax)."""
    import keras

    keras.utils.set_random_seed(0)
    shape = SHAPES[name]
    if name == "mobilenet_v1":
        model = keras.applications.MobileNet(shape, alpha=0.25, weights=None, classes=CLASSES)
    elif name == "mobilenet_v2":
        model = keras.applications.MobileNetV2(shape, alpha=0.35, weights=None, classes=CLASSES)
    else:
        inputs = keras.Input(shape)
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
        x = keras.layers.DepthwiseConv2D(3, activation="relu6")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(16, activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    _calibrate(model)
    return model


def _calibrate(model: Any) -> None:
    """As the suite does (:func:`tflite2keras.testdata.suite.keras_model`): every float variable its
    initializer left constant redrawn, then batch norms to their input's statistics on [-1, 1)."""
    from .suite import _calibrate as calibrate

    rng = np.random.default_rng(0)
    for variable in model.weights:
        value = np.asarray(variable)
        if value.dtype.kind == "f" and value.size > 0 and np.all(value == value.flat[0]):
            low, high = (0.5, 1.5) if value.flat[0] > 0 else (-0.25, 0.25)
            variable.assign(rng.uniform(low, high, value.shape).astype(value.dtype))
    calibrate(model, rng.uniform(-1, 1, (16, *model.inputs[0].shape[1:])).astype("float32"))


def per_tensor_int8(model: Any) -> bytes:
    """``model`` through TF's converter: full-integer, int8 input and output, per-tensor weights."""
    import tensorflow as tf

    from .quantized_suite import representative

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = representative(tuple(model.inputs[0].shape))
    converter.representative_dataset = lambda: ([x] for x in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel = True
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def to_uint8(data: bytes) -> bytes:
    """``data`` with every int8 tensor as uint8 and its real values kept: activations ``q + 128``
    (zero point + 128); each constant buffer shifted so that its values centre in [0, 255], its
    tensors' zero points with it (asymmetric per-tensor uint8, as TOCO wrote weights).

    Raises:
        InvalidArgumentError: an int8 tensor is quantized per channel (uint8 kernels take one scale).

    Example (``data`` is an int8 file)::

        shifted = to_uint8(data)      # same results, uint8 tensors
    """
    doc = json.loads(to_json(data))
    shifts: dict[int, int] = {}
    for graph in doc["subgraphs"]:
        for tensor in graph["tensors"]:
            if tensor["type"] != "INT8":
                continue
            quantization = tensor.get("quantization") or {}
            if len(quantization.get("scale", [])) != 1:
                raise InvalidArgumentError(f"to_uint8: tensor {tensor['name']!r} expected one scale (per-tensor), "
                                           f"received {len(quantization.get('scale', []))}")
            buffer = doc["buffers"][tensor.get("buffer", 0)]
            shift = 128
            if "data" in buffer or "base64" in buffer:
                shift = shifts.setdefault(tensor["buffer"], _shift_constant(buffer))
            tensor["type"] = "UINT8"
            quantization["zero_point"] = [z + shift for z in quantization.get("zero_point", [0])]
    return from_json(json.dumps(doc))


def _shift_constant(buffer: dict[str, Any]) -> int:
    """Shift an int8 buffer into uint8 in place, centred in [0, 255]; the shift."""
    raw = (np.array(buffer["data"], np.int8) if "data" in buffer
           else np.frombuffer(base64.b64decode(buffer["base64"]), np.int8)).astype(np.int16)
    shift = (255 - int(raw.max(initial=0)) - int(raw.min(initial=0))) // 2
    values = (raw + shift).astype(np.uint8)
    buffer.clear()
    buffer.update(dtype="UINT8", shape=[values.size], base64=base64.b64encode(values.tobytes()).decode())
    return shift


def drop_range_activations(data: bytes) -> tuple[bytes, int]:
    """``data`` with every fused RELU6 dropped whose output range is [0, 6] (within half a step, where
    the kernel's own RELU6 clamps), and every fused RELU whose output range starts at 0; and how many
    were dropped.

    Example (``data`` is an integer file)::

        toco, dropped = drop_range_activations(data)
    """
    tfl = read(data)
    doc = json.loads(to_json(data))
    dropped = 0
    for op, entry in zip(tfl.operators, doc["subgraphs"][0]["operators"]):
        options = entry.get("builtin_options") or {}
        edge = affine(tfl.tensor(op.outputs[0])) if op.outputs else None
        activation = options.get("fused_activation_function")
        if activation not in ("RELU6", "RELU") or edge is None or edge.scales.size != 1:
            continue
        low, high = edge.range()
        if low == 0 and (activation == "RELU" or abs(high - 6) <= edge.step / 2):
            options["fused_activation_function"] = "NONE"
            dropped += 1
    return from_json(json.dumps(doc)), dropped


def check_same(before: bytes, after: bytes, samples: int = 2, wide: float = 1.0, seed: int = 0,
               allowed: int = 0) -> dict[str, int]:
    """Check that the interpreter computes the same real values from ``before`` and ``after`` at every
    op output, on both kernel sets (XNNPACK and builtin): integers compared, in steps, after removing
    each tensor's zero point. Integer inputs are drawn over all integers; float ones over ``wide``
    times [-1, 1).

    Args:
        allowed: the largest difference in steps that passes (0: identical).

    Returns:
        Every tensor that differs at all, as ``"<kernels> <tensor name>"``: its largest difference in steps.

    Raises:
        VerificationError: a tensor differs by more than ``allowed`` steps (named, with the kernel set).

    Example (``int8`` is an int8 file)::

        check_same(int8, to_uint8(int8))   # {} where the uint8 kernels compute as the int8 ones
    """
    from ..verification.reference import make_interpreter, run

    ta, tb = read(before), read(after)
    produced = [t for op in ta.operators for t in op.outputs]
    rng = np.random.default_rng(seed)
    differ: dict[str, int] = {}
    for kernels in ("xnnpack", "builtin"):
        first, second = (make_interpreter(t, kernels, preserve=True) for t in (ta, tb))
        for _ in range(samples):
            xs, ys = [], []
            for a, b in zip(first.get_input_details(), second.get_input_details()):
                x = _draw(rng, a, wide)
                xs.append(x)
                ys.append(x if x.dtype == b["dtype"] else (x.astype(np.int16) + _zero(tb, b["index"]) -
                                                            _zero(ta, a["index"])).astype(b["dtype"]))
            _, got_a = run(first, xs, produced)
            _, got_b = run(second, ys, produced)
            for t in produced:
                diff = int(np.max(np.abs((got_a[t].astype(np.int64) - _zero(ta, t)) -
                                         (got_b[t].astype(np.int64) - _zero(tb, t))), initial=0))
                key = f"{kernels} {ta.tensor(t).name}"
                if diff:
                    differ[key] = max(diff, differ.get(key, 0))
    worst = {k: v for k, v in differ.items() if v > allowed}
    if worst:
        raise VerificationError(f"check_same: expected every tensor within {allowed} steps, received larger "
                                f"differences (steps): {worst}")
    return differ


def _draw(rng: np.random.Generator, detail: dict[str, Any], wide: float) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return rng.uniform(-wide, wide, detail["shape"]).astype(np.float32)
    info = np.iinfo(detail["dtype"])
    return rng.integers(info.min, info.max + 1, detail["shape"]).astype(detail["dtype"])


def _zero(tfl: Any, index: int) -> int:
    """The tensor's (per-tensor) zero point, 0 where it has none or is not an integer of 8 bits."""
    tensor = tfl.tensor(index)
    edge = affine(tensor)
    if edge is None or tensor.dtype not in ("INT8", "UINT8") or edge.zero_points.size != 1:
        return 0
    return int(edge.zero_points[0])
