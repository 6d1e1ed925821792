"""Integer and streaming test files, generated with ``tf.lite.TFLiteConverter`` and cached.

Like :mod:`tflite2keras.testdata.suite`, nothing is downloaded: the Keras models come from
:func:`tflite2keras.testdata.suite.keras_model`, and each file is written once under
``<suite cache>/quantized``.

Kinds:
    - ``int8``: full-integer (``TFLITE_BUILTINS_INT8``) with float input and output;
    - ``int8_io`` / ``uint8_io``: the same with integer input and output;
    - ``int16x8``: int16 activations, int8 weights;
    - ``dynamic``: dynamic-range (int8 weights, float activations).

The calibration data are 16 seeded uniform samples in ``[-1, 1)``. :func:`streaming_tflite` is a
streaming keyword-spotting style model whose ring buffers live in resource variables;
:func:`streaming_int8_tflite` is the same model full-integer, its ring buffers int8 variables.

Example (generates the file on first use, so not a doctest)::

    from tflite2keras.testdata import quantized_suite
    data = quantized_suite.tflite("mobilenet_v2", "int8_io")
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from .._files import write_atomically
from ..errors import InvalidArgumentError

#: (suite model, kind) pairs that the tests use.
CASES: tuple[tuple[str, str], ...] = (
    ("mobilenet_v2", "int8"), ("mobilenet_v2", "int8_io"), ("mobilenet_v2", "uint8_io"),
    ("mobilenet_v3_small", "int8"), ("mobilenet_v3_small", "int8_io"), ("mobilenet_v3_small", "dynamic"),
    ("conv1d_audio", "int8"), ("conv1d_audio", "int8_io"), ("conv1d_audio", "int16x8"),
)
KINDS = ("int8", "int8_io", "uint8_io", "int16x8", "dynamic")
VERSION = 1


def folder() -> Path:
    """The cache folder of these files.

    Example:
        >>> folder().name
        'quantized-v1'
    """
    from .suite import cache_dir

    return cache_dir() / f"quantized-v{VERSION}"


def tflite(name: str, kind: str) -> bytes:
    """The bytes of suite model ``name`` converted as ``kind`` (generated on first use).

    Raises:
        InvalidArgumentError: ``kind`` is unknown.
    """
    if kind not in KINDS:
        raise InvalidArgumentError(f"quantized_suite: kind must be one of {', '.join(KINDS)}, received {kind!r}")
    target = folder() / f"{name}_{kind}.tflite"
    if not target.exists():
        from . import suite

        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, convert(suite.keras_model(name), kind))
    return target.read_bytes()


def representative(shape: tuple[int | None, ...], samples: int = 16, seed: int = 0) -> list[Any]:
    """The seeded calibration samples, each a batch of 1."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (1, *shape[1:])).astype(np.float32) for _ in range(samples)]


def convert(model: Any, kind: str) -> bytes:
    """Convert a Keras model to TFLite as ``kind`` (see the module docstring)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind != "dynamic":
        data = representative(tuple(model.inputs[0].shape))
        converter.representative_dataset = lambda: ([x] for x in data)
    ops = tf.lite.OpsSet
    if kind in ("int8", "int8_io", "uint8_io"):
        converter.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8]
    elif kind == "int16x8":
        converter.target_spec.supported_ops = [ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if kind.endswith("_io"):
        converter.inference_input_type = converter.inference_output_type = getattr(tf, kind.split("_")[0])
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def streaming_tflite() -> bytes:
    """A streaming keyword-spotting style model: two ring buffers of past frames in resource
    variables (``stream_6/states``, ``stream_7/states``), each feeding a Conv1D of a Keras model's
    weights, then a Dense softmax head. Input: one frame ``(1, 1, 13)``. Generated once, cached."""
    target = folder() / "streaming_kws.tflite"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, _streaming())
    return target.read_bytes()


def streaming_int8_tflite() -> bytes:
    """:func:`streaming_tflite`'s model full-integer: int8 frame and scores, and its two ring buffers
    int8 resource variables quantized like activations (TF's converter with
    ``_experimental_variable_quantization``), calibrated on 32 seeded frames stepped in sequence.
    Generated once, cached."""
    target = folder() / "streaming_kws_int8.tflite"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, _streaming(integer=True))
    return target.read_bytes()


def _streaming(integer: bool = False) -> bytes:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    frames = keras.Input((5, 13))
    x = keras.layers.Conv1D(11, 5, activation="relu", name="conv_1")(frames)
    x = keras.layers.ZeroPadding1D((2, 0))(x)
    x = keras.layers.Conv1D(7, 3, activation="relu", name="conv_2")(x)
    head = keras.layers.Dense(4, activation="softmax", name="head")
    head(keras.layers.Flatten()(x))
    w1, b1 = (tf.constant(v.numpy()) for v in keras.Model(frames, x).get_layer("conv_1").weights)
    w2, b2 = (tf.constant(v.numpy()) for v in keras.Model(frames, x).get_layer("conv_2").weights)
    wh, bh = (tf.constant(v.numpy()) for v in head.weights)

    class Streaming(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.states_6 = tf.Variable(tf.zeros((1, 4, 13)), name="stream_6/states")
            self.states_7 = tf.Variable(tf.fill((1, 2, 11), 0.25), name="stream_7/states")

        @tf.function(input_signature=[tf.TensorSpec((1, 1, 13), tf.float32, name="frame")])
        def __call__(self, frame: Any) -> Any:
            buffer = tf.concat([self.states_6, frame], axis=1)
            self.states_6.assign(buffer[:, 1:])
            y = tf.nn.relu(tf.nn.conv1d(buffer, w1, 1, "VALID") + b1)
            history = tf.concat([self.states_7, y], axis=1)
            self.states_7.assign(history[:, 1:])
            z = tf.nn.relu(tf.nn.conv1d(history, w2, 1, "VALID") + b2)
            return tf.nn.softmax(tf.reshape(z, (1, 7)) @ wh + bh)

    module = Streaming()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    if integer:
        data = representative((1, 1, 13), samples=32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x] for x in data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        converter._experimental_variable_quantization = True  # int8 state, as integer keyword spotters keep it
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())
