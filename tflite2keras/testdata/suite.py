"""The standard-architecture suite: nine Keras models as TFLite files, float32 and float16.

Seven ``keras.applications`` (``weights=None``, so nothing is downloaded) and two small
models defined here (a ViT-style encoder block and a Conv1D audio classifier) are built
deterministically at small, non-square input sizes with the batch left free, and
converted with ``tf.lite.TFLiteConverter``: ``"fp32"`` as is, ``"fp16"`` with
``optimizations=[DEFAULT]`` and ``supported_types=[float16]``. After the build every float
variable that its initializer left constant (biases, batch-norm statistics, layer scales,
...) is redrawn from a seeded generator, so that a dropped bias or a swapped mean/variance
cannot hide behind zeros and ones, and every normalization is calibrated on inputs in
[-1, 1) so that the output depends on the input (see :func:`keras_model`).

Each file is generated once and cached under the user cache directory (the folder of
:func:`tflite2keras.testdata.corpus.cache_dir`, so ``$TFLITE2KERAS_CACHE`` moves it), in a folder
keyed by the TensorFlow and Keras versions and :data:`SUITE_VERSION`. Two processes racing
for a file are safe: each writes a temporary name and renames it atomically.

Importing this module imports neither TensorFlow nor Keras; :func:`tflite` and
:func:`keras_model` load them on first use (reading a cached file needs neither).

Example:
    >>> from tflite2keras.testdata import suite
    >>> suite.names()[:3], suite.KINDS
    (('mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large'), ('fp32', 'fp16'))
    >>> suite.SHAPES["conv1d_audio"]
    (201, 13)

Generating the files needs TensorFlow and takes a while the first time, so this is not
a doctest::

    import tflite2keras as t2k
    data = suite.tflite("mobilenet_v2", "fp16")    # bytes, cached in ~/.cache/tflite2keras/suite-...
    model = t2k.convert(data)
    t2k.verify(model, data, batch=16).ok            # True
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from .._files import write_atomically
from ..errors import InvalidArgumentError

#: Bumped whenever a model definition below changes, so stale cached files are not reused.
SUITE_VERSION = 1

#: The conversions of every model: float32, and float16 weights (``Optimize.DEFAULT``).
KINDS: tuple[str, ...] = ("fp32", "fp16")

#: Number of classes of every classifier head.
CLASSES = 7

#: Input shape of each model, batch excluded (images are (height, width, channels)).
SHAPES: dict[str, tuple[int, ...]] = {
    "mobilenet_v2": (35, 43, 3),
    "mobilenet_v3_small": (35, 43, 3),
    "mobilenet_v3_large": (35, 43, 3),
    "efficientnet_b0": (35, 43, 3),
    "resnet50": (35, 43, 3),
    "densenet121": (35, 43, 3),
    "convnext_tiny": (35, 43, 3),  # ConvNeXt needs at least 32x32
    "vit_block": (13, 20),  # tokens, width
    "conv1d_audio": (201, 13),  # frames, coefficients
}


def names() -> tuple[str, ...]:
    """The names of the nine suite models, in a fixed order.

    Example:
        >>> len(names()), names()[-2:]
        (9, ('vit_block', 'conv1d_audio'))
    """
    return tuple(SHAPES)


def cache_dir() -> Path:
    """The folder of the cached files: beside the corpus cache, keyed by the library versions.

    Example:
        >>> cache_dir().name.startswith(f"suite-v{SUITE_VERSION}-tf")
        True
    """
    from .corpus import cache_dir as corpus_dir

    return corpus_dir().parent / f"suite-v{SUITE_VERSION}-tf{_version('tensorflow')}-keras{_version('keras')}"


def path(name: str, kind: str = "fp32") -> Path:
    """The cached ``.tflite`` file of model ``name`` in conversion ``kind``, generated on first use.

    Generating builds the Keras model once and writes both of its conversions.

    Args:
        name: one of :func:`names`.
        kind: one of :data:`KINDS`.

    Returns:
        The path of the file (``<cache_dir>/<name>_<kind>.tflite``).

    Raises:
        InvalidArgumentError: ``name`` or ``kind`` is unknown.

    Example (generates the file on first use, so not a doctest)::

        path("resnet50", "fp16").name      # 'resnet50_fp16.tflite'
    """
    _check(name, kind)
    return cached_file(cache_dir(), name, kind, KINDS, lambda missing: to_tflite_kinds(keras_model(name), missing))


def tflite(name: str, kind: str = "fp32") -> bytes:
    """The bytes of model ``name`` converted to TFLite as ``kind`` (cached; see :func:`path`).

    Args:
        name: one of :func:`names`.
        kind: ``"fp32"`` or ``"fp16"``.

    Returns:
        The ``.tflite`` bytes; the input's batch is free (shape signature ``-1``).

    Raises:
        InvalidArgumentError: ``name`` or ``kind`` is unknown.

    Example (generates the file on first use, so not a doctest)::

        import tflite2keras as t2k
        ops = {op.opcode for op in t2k.read(tflite("vit_block")).operators}
        "BATCH_MATMUL" in ops                # True
    """
    return path(name, kind).read_bytes()


def keras_model(name: str, seed: int = 0) -> Any:
    """Build suite model ``name`` with seeded weights (``keras.utils.set_random_seed(seed)``).

    Every float variable its initializer left constant is then redrawn from ``seed``:
    uniformly in [0.5, 1.5) where the constant was positive (scales, variances), else in
    [-0.25, 0.25) (biases, shifts, means). Last, as training would, each input
    ``Normalization`` and each ``BatchNormalization`` gets the mean and variance of its
    input on a seeded batch of 16 inputs uniform in [-1, 1) (the range ``verify``
    samples): without that, an ImageNet preprocessing maps those inputs to nearly a
    constant, and the signal of an untrained deep network fades out layer after layer;
    its output would hardly depend on its input and its first layers get no gradient.

    Raises:
        InvalidArgumentError: ``name`` is unknown.

    Example:
        >>> model = keras_model("conv1d_audio")
        >>> model.input.shape, model.output.shape
        ((None, 201, 13), (None, 7))
    """
    import keras
    import numpy as np

    _check(name, KINDS[0])
    keras.utils.set_random_seed(seed)
    model = _BUILDERS[name](SHAPES[name])
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = np.asarray(variable)
        if value.dtype.kind == "f" and value.size > 0 and np.all(value == value.flat[0]):
            drawn = rng.uniform(0.5, 1.5, value.shape) if value.flat[0] > 0 else rng.uniform(-0.25, 0.25, value.shape)
            variable.assign(drawn.astype(value.dtype))  # positive scales stay positive
    _calibrate(model, rng.uniform(-1, 1, (16, *SHAPES[name])).astype("float32"))
    return model


def _calibrate(model: Any, batch: Any) -> None:
    """Give every normalization the statistics of its input on ``batch``, as training would.

    A ``Normalization`` (input preprocessing) gets its input's per-channel mean and
    variance; then every ``BatchNormalization`` stores its own in one forward pass in
    training mode (each normalizes with its batch statistics) with momentum 0.
    """
    import keras
    from keras import ops

    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization) and not layer.invert:
            x = keras.Model(model.input, layer.input)(batch)
            axes = tuple(range(len(x.shape) - 1))
            shape = (1,) * len(axes) + tuple(x.shape[-1:])
            mean, variance = ops.mean(x, axis=axes), ops.var(x, axis=axes)
            if layer.input_mean is None:  # an adaptable layer: its weights, then its constants
                layer.adapt_mean.assign(mean)
                layer.adapt_variance.assign(variance)
                layer.finalize_state()
            else:  # fixed at construction (ImageNet's): the constants its call reads
                layer.mean = ops.cast(ops.reshape(mean, shape), layer.compute_dtype)
                layer.variance = ops.cast(ops.reshape(variance, shape), layer.compute_dtype)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0
        if norms:
            model(batch, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def to_tflite(model: Any, kind: str = "fp32") -> bytes:
    """Convert a Keras model with ``tf.lite.TFLiteConverter`` (see :func:`to_tflite_kinds`).

    Args:
        model: a Keras model.
        kind: ``"fp32"``, or ``"fp16"`` (``optimizations=[DEFAULT]``, ``supported_types=[float16]``).

    Raises:
        InvalidArgumentError: ``kind`` is unknown.

    Example:
        >>> import tflite2keras as t2k
        >>> data = to_tflite(keras_model("conv1d_audio"), "fp16")
        >>> "DEQUANTIZE" in {op.opcode for op in t2k.read(data).operators}
        True
    """
    return to_tflite_kinds(model, (kind,))[kind]


def to_tflite_kinds(model: Any, kinds: tuple[str, ...] = KINDS) -> dict[str, bytes]:
    """Convert a Keras model to TFLite once per kind, exporting its SavedModel only once.

    As ``TFLiteConverter.from_keras_model`` does for a Keras 3 model, the model's call
    with ``training=False`` is exported (``keras.export.ExportArchive``) with its own
    input signature, batch free, and each kind converts that SavedModel with
    ``TFLiteConverter.from_saved_model``.

    Args:
        model: a Keras model.
        kinds: some of :data:`KINDS`.

    Returns:
        ``{kind: bytes}``.

    Raises:
        InvalidArgumentError: a kind is unknown.

    Example:
        >>> sorted(to_tflite_kinds(keras_model("vit_block")))
        ['fp16', 'fp32']
    """
    for kind in kinds:
        if kind not in KINDS:
            raise InvalidArgumentError(f"suite: kind must be one of {', '.join(KINDS)}, received {kind!r}")
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        signature = [tf.TensorSpec(x.shape, x.dtype, name=x.name) for x in model.inputs]
        archive.add_endpoint("serve", functools.partial(model.__call__, training=False),
                             signature if len(signature) == 1 else [signature])
        with contextlib.redirect_stdout(io.StringIO()):  # the export prints every captured variable
            archive.write_out(folder)
        out = {}
        for kind in kinds:
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            if kind == "fp16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            out[kind] = bytes(converter.convert())
    return out


def cached_file(folder: Path, name: str, kind: str, kinds: tuple[str, ...],
                build: Callable[[tuple[str, ...]], dict[str, bytes]]) -> Path:
    """``<folder>/<name>_<kind>.tflite``; when it is missing, ``build(missing kinds)`` makes each
    missing conversion of the model once, and each is written atomically (racing readers see all
    or nothing)."""
    target = folder / f"{name}_{kind}.tflite"
    if not target.exists():
        missing = tuple(k for k in kinds if not (folder / f"{name}_{k}.tflite").exists())
        folder.mkdir(parents=True, exist_ok=True)
        for made, data in build(missing).items():
            os.chmod(write_atomically(str(folder / f"{name}_{made}.tflite"), data), 0o644)
    return target


def _check(name: str, kind: str) -> None:
    if name not in SHAPES:
        raise InvalidArgumentError(f"suite: {name!r} is not a suite model; expected one of {', '.join(SHAPES)}")
    if kind not in KINDS:
        raise InvalidArgumentError(f"suite: kind must be one of {', '.join(KINDS)}, received {kind!r}")


def _version(package: str) -> str:
    """``package.__version__`` without importing it when its distribution metadata is there."""
    module = sys.modules.get(package)
    if module is not None and hasattr(module, "__version__"):
        return str(module.__version__)
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return str(importlib.import_module(package).__version__)


def _application(constructor: str) -> Callable[[tuple[int, ...]], Any]:
    def build(shape: tuple[int, ...]) -> Any:
        import keras

        return getattr(keras.applications, constructor)(input_shape=shape, weights=None, classes=CLASSES)

    return build


def _vit_block(shape: tuple[int, ...]) -> Any:
    """Pre-norm transformer encoder block (3 heads of 7, MLP 37 with exact GELU) and a pooled head."""
    import keras
    from keras import layers

    tokens = keras.Input(shape, name="tokens")
    x = layers.LayerNormalization(epsilon=1e-6, name="norm_1")(tokens)
    x = layers.MultiHeadAttention(num_heads=3, key_dim=7, name="attention")(x, x)
    x = layers.Add(name="residual_1")([tokens, x])
    y = layers.LayerNormalization(epsilon=1e-6, name="norm_2")(x)
    y = layers.Dense(37, activation="gelu", name="mlp_1")(y)
    y = layers.Dense(shape[-1], name="mlp_2")(y)
    x = layers.Add(name="residual_2")([x, y])
    x = layers.LayerNormalization(epsilon=1e-6, name="norm_out")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    logits = layers.Dense(CLASSES, activation="softmax", name="head")(x)
    return keras.Model(tokens, logits, name="vit_block")


def _conv1d_audio(shape: tuple[int, ...]) -> Any:
    """A small keyword-spotting style classifier over (frames, coefficients) features."""
    import keras
    from keras import layers

    features = keras.Input(shape, name="features")
    x = layers.Conv1D(17, 5, padding="same", use_bias=False, name="conv_1")(features)
    x = layers.BatchNormalization(name="bn_1")(x)
    x = layers.ReLU(name="relu_1")(x)
    x = layers.MaxPooling1D(3, strides=2, name="pool_1")(x)
    x = layers.Conv1D(23, 3, strides=2, activation="relu", name="conv_2")(x)
    x = layers.Conv1D(29, 3, padding="same", activation="relu", name="conv_3")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dropout(0.1, name="dropout")(x)
    logits = layers.Dense(CLASSES, activation="softmax", name="head")(x)
    return keras.Model(features, logits, name="conv1d_audio")


_BUILDERS: dict[str, Callable[[tuple[int, ...]], Any]] = {
    "mobilenet_v2": _application("MobileNetV2"),
    "mobilenet_v3_small": _application("MobileNetV3Small"),
    "mobilenet_v3_large": _application("MobileNetV3Large"),
    "efficientnet_b0": _application("EfficientNetB0"),
    "resnet50": _application("ResNet50"),
    "densenet121": _application("DenseNet121"),
    "convnext_tiny": _application("ConvNeXtTiny"),
    "vit_block": _vit_block,
    "conv1d_audio": _conv1d_audio,
}

__all__ = ["CLASSES", "KINDS", "SHAPES", "SUITE_VERSION", "cache_dir", "keras_model", "names", "path",
           "tflite", "to_tflite", "to_tflite_kinds"]
