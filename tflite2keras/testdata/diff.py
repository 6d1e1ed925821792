"""The differential suite: small Keras models that stress layouts and options, as TFLite files.

Each model of :data:`SPECS` (from :mod:`tflite2keras.testdata.diff_models` and
:mod:`tflite2keras.testdata.diff_ops`; odd, distinct dimensions;
strides, dilations, padding modes, transposed convolutions with output padding, depth
multipliers, 'same' pooling, resize modes, negative strides and indices, axes other than
the last, reshape/transpose chains, batch matmul with adjoints, reflect padding,
LayerNorm, attention, Embedding, ...) is built with seeded weights and converted by
``tf.lite.TFLiteConverter``: ``"fp32"`` for every model, and ``"fp16"`` and ``"int8"``
(full-integer, float input and output) for those marked ``quant``. Its output must match
the interpreter once converted back to Keras; that is what ``tests/test_suite_diff.py``
checks.

The files are generated once and cached as :mod:`tflite2keras.testdata.suite` does, in
``<suite cache_dir>/diff-v<VERSION>`` (so keyed by the TensorFlow and Keras versions),
each written atomically. Importing this module imports neither TensorFlow nor Keras.

Example:
    >>> from tflite2keras.testdata import diff as suite_diff
    >>> len(suite_diff.names()) >= 60, suite_diff.kinds("conv2d_s2_same")
    (True, ('fp32', 'fp16', 'int8'))
    >>> suite_diff.kinds("flip_w")
    ('fp32',)

Generating needs TensorFlow, so this is not a doctest::

    import tflite2keras as t2k
    data = suite_diff.tflite("conv2d_t_outpad_same")     # bytes, cached
    t2k.verify(t2k.convert(data), data, batch=3).ok      # True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError
from .diff_models import LAYOUTS, Spec
from .diff_ops import OPERATIONS

#: Every model, by id: the layout models, then the op models.
SPECS: dict[str, Spec] = {**LAYOUTS, **OPERATIONS}

#: Bumped whenever a model of :data:`SPECS` changes, so stale cached files are not reused.
VERSION = 1

#: Every conversion kind; the models not marked ``quant`` have only ``"fp32"``.
KINDS: tuple[str, ...] = ("fp32", "fp16", "int8")


def names() -> tuple[str, ...]:
    """The model ids, in a fixed order.

    Example:
        >>> names()[0]
        'conv2d_s2_same'
    """
    return tuple(SPECS)


def kinds(name: str) -> tuple[str, ...]:
    """The conversions of model ``name``: ``("fp32",)``, or all of :data:`KINDS` for a ``quant`` model.

    Raises:
        InvalidArgumentError: ``name`` is unknown.

    Example:
        >>> kinds("pad_reflect")
        ('fp32', 'fp16', 'int8')
    """
    _check(name, KINDS[0])
    return KINDS if SPECS[name].quant else KINDS[:1]


def cases() -> tuple[tuple[str, str], ...]:
    """Every ``(name, kind)`` pair of the suite.

    Example:
        >>> ("pad_reflect", "int8") in cases(), ("flip_w", "int8") in cases()
        (True, False)
    """
    return tuple((name, kind) for name in names() for kind in kinds(name))


def cache_dir() -> Path:
    """The folder of the cached files, inside :func:`tflite2keras.testdata.suite.cache_dir`.

    Example:
        >>> cache_dir().name == f"diff-v{VERSION}"
        True
    """
    from .suite import cache_dir as suite_dir

    return suite_dir() / f"diff-v{VERSION}"


def path(name: str, kind: str = "fp32") -> Path:
    """The cached ``.tflite`` file of model ``name`` as ``kind``, generated on first use.

    Generating builds the Keras model once and writes each of its missing conversions.

    Args:
        name: one of :func:`names`.
        kind: one of :func:`kinds` of ``name``.

    Returns:
        ``<cache_dir>/<name>_<kind>.tflite``.

    Raises:
        InvalidArgumentError: ``name`` is unknown, or ``kind`` is not one of its kinds.

    Example (generates the file on first use, so not a doctest)::

        path("mha_self", "int8").name       # 'mha_self_int8.tflite'
    """
    from .suite import cached_file

    _check(name, kind)
    return cached_file(cache_dir(), name, kind, kinds(name), lambda missing: _build(name, missing))


def tflite(name: str, kind: str = "fp32") -> bytes:
    """The bytes of model ``name`` converted as ``kind`` (cached; see :func:`path`).

    Raises:
        InvalidArgumentError: ``name`` or ``kind`` is unknown.

    Example (generates the file on first use, so not a doctest)::

        import tflite2keras as t2k
        {op.opcode for op in t2k.read(tflite("pad_reflect")).operators}    # {'MIRROR_PAD'}
    """
    return path(name, kind).read_bytes()


def keras_model(name: str, seed: int = 0) -> Any:
    """Build model ``name`` with seeded weights; constant initializations are redrawn.

    As in :func:`tflite2keras.testdata.suite.keras_model`, every float variable its initializer left
    constant is redrawn from ``seed``: in [0.5, 1.5) where it was positive (scales,
    variances), else in [-0.25, 0.25) (biases, means), so that a dropped bias or a swapped
    mean and variance shows.

    Raises:
        InvalidArgumentError: ``name`` is unknown.

    Example:
        >>> model = keras_model("dot_axes_1_1")
        >>> [tuple(x.shape) for x in model.inputs], tuple(model.output.shape)
        ([(None, 7, 5), (None, 7, 9)], (None, 5, 9))
    """
    import keras
    import numpy as np

    _check(name, KINDS[0])
    spec = SPECS[name]
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape, dtype=spec.dtype, name=f"input_{i}") for i, shape in enumerate(spec.shapes)]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], spec.build(*inputs), name=name)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = np.asarray(variable)
        if value.dtype.kind == "f" and value.size > 1 and np.all(value == value.flat[0]):
            drawn = rng.uniform(0.5, 1.5, value.shape) if value.flat[0] > 0 else rng.uniform(-0.25, 0.25, value.shape)
            variable.assign(drawn.astype(value.dtype))
    return model


def _build(name: str, missing: tuple[str, ...]) -> dict[str, bytes]:
    """Model ``name``'s conversions of the ``missing`` kinds."""
    from . import quantized_suite, suite

    model = keras_model(name)
    files = suite.to_tflite_kinds(model, tuple(kind for kind in missing if kind != "int8"))
    if "int8" in missing:
        files["int8"] = quantized_suite.convert(model, "int8")
    return files


def _check(name: str, kind: str) -> None:
    if name not in SPECS:
        raise InvalidArgumentError(f"suite_diff: {name!r} is not a suite_diff model; expected one of {', '.join(SPECS)}")
    allowed = KINDS if SPECS[name].quant else KINDS[:1]
    if kind not in allowed:
        raise InvalidArgumentError(f"suite_diff: {name!r} is converted as {', '.join(allowed)}; received kind {kind!r}")


__all__ = ["KINDS", "SPECS", "VERSION", "cache_dir", "cases", "kinds", "keras_model", "names", "path", "tflite"]
