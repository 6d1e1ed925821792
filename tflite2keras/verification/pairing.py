"""Which Keras input and output stands for which TFLite one, for :func:`tflite2keras.verify`.

Inputs pair as :func:`tflite2keras.weights.align.input_tensors` pairs them (by name where the Keras
inputs keep the TFLite names, else by position). Outputs pair by name where the Keras model keeps
the TFLite output names (:func:`tflite2keras.convert` names each output layer after its tensor),
else by position. Either way the counts must be equal and every shape must agree, batch aside:
a Keras output is never reshaped to fit, and a mismatch raises, naming both sides.

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.verification.pairing import pair_outputs
    >>> tfl = t2k.read(tiny.tflite())
    >>> pair_outputs(t2k.convert(tfl), tfl)
    [0]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, Tflite2KerasError, VerificationError
from ..tflite.model import TFLiteModel
from ..tflite.names import input_name, sanitize
from ..weights.align import input_tensors


def _shape(tensor: Any) -> tuple[Any, ...]:
    return tuple(tensor.shape_signature or tensor.shape)


def _fits(keras_shape: Sequence[Any], want: Sequence[int]) -> bool:
    """Same rank and every extent both sides know, batch aside."""
    return len(keras_shape) == len(want) and all(
        k is None or w < 0 or k == w for k, w in zip(tuple(keras_shape)[1:], tuple(want)[1:]))


def _describe(tfl: TFLiteModel, indices: Sequence[int]) -> str:
    return ", ".join(f"{tfl.tensor(t).name!r} {_shape(tfl.tensor(t))}" for t in indices)


def _keras_describe(tensors: Sequence[Any], names: Sequence[str]) -> str:
    return ", ".join(f"{n!r} {tuple(t.shape)}" for n, t in zip(names, tensors))


def keras_output_names(keras_model: Any) -> list[str]:
    """The name of the layer that computes each Keras output."""
    names = []
    for k, tensor in enumerate(keras_model.outputs):
        history = getattr(tensor, "_keras_history", None)
        names.append(history.operation.name if history is not None else f"output {k}")
    return names


def pair_inputs(keras_model: Any, tfl: TFLiteModel) -> list[int]:
    """For each Keras input, the position of its TFLite input; counts and shapes checked.

    Raises:
        InvalidArgumentError: the Keras model has another number of inputs, or an input of
            another shape (batch aside); the message names both sides.
    """
    keras_inputs = list(keras_model.inputs)
    names = [getattr(k, "name", f"input {i}") for i, k in enumerate(keras_inputs)]
    if len(keras_inputs) != len(tfl.inputs):
        raise InvalidArgumentError(
            f"verify: the Keras model has {len(keras_inputs)} input(s) [{_keras_describe(keras_inputs, names)}], "
            f"but {tfl.source} has {len(tfl.inputs)} [{_describe(tfl, tfl.inputs)}]")
    indices = input_tensors(keras_model, tfl)
    for tensor, name, index in zip(keras_inputs, names, indices):
        want = _shape(tfl.tensor(index))
        if not _fits(tensor.shape, want):
            raise InvalidArgumentError(
                f"verify: Keras input {name!r} has shape {tuple(tensor.shape)}, but the TFLite input it stands for, "
                f"{tfl.tensor(index).name!r}, has shape {want} (batch aside, they must agree)")
    return [list(tfl.inputs).index(t) for t in indices]


def pair_outputs(keras_model: Any, tfl: TFLiteModel) -> list[int]:
    """For each TFLite output (in file order), the position of the Keras output that stands for it.

    By name when every Keras output's layer carries a distinct TFLite output name (as
    :func:`tflite2keras.convert` names them), else by position.

    Raises:
        VerificationError: the counts differ, or a paired output has another shape (batch aside);
            the message names the Keras output and the TFLite output with both shapes.
    """
    outputs = list(keras_model.outputs)
    names = keras_output_names(keras_model)
    if len(outputs) != len(tfl.outputs):
        raise VerificationError(
            f"verify: the Keras model has {len(outputs)} output(s) [{_keras_describe(outputs, names)}], but "
            f"{tfl.source} has {len(tfl.outputs)} [{_describe(tfl, tfl.outputs)}]: every TFLite output must be "
            "compared, and nothing else")
    by_name = _by_name(tfl)
    found = [by_name.get(_base(n)) for n in names]
    if None not in found and len(set(found)) == len(found):
        order = [found.index(j) for j in range(len(tfl.outputs))]
    else:
        order = list(range(len(tfl.outputs)))
    for j, k in enumerate(order):
        index = tfl.outputs[j]
        if not _fits(outputs[k].shape, _shape(tfl.tensor(index))):
            raise VerificationError(
                f"verify: Keras output {k} {names[k]!r} has shape {tuple(outputs[k].shape)}, but the TFLite output "
                f"it is paired with, {j} {tfl.tensor(index).name!r}, has shape {_shape(tfl.tensor(index))} "
                "(batch aside, they must agree; outputs pair by name, else by position)")
    return order


def _base(name: str) -> str:
    """A Keras output layer's name without what convert adds to it (a ``_fake_quant`` layer, ``_`` to
    make it unique)."""
    name = name.rstrip("_")
    return name[: -len("_fake_quant")].rstrip("_") if name.endswith("_fake_quant") else name


def _by_name(tfl: TFLiteModel) -> dict[str, int]:
    """TFLite output position by every name it goes by: its tensor name (sanitized as convert does)
    and its signature output name."""
    position = {t: j for j, t in enumerate(tfl.outputs)}
    out: dict[str, int] = {}
    for j, index in enumerate(tfl.outputs):
        name = tfl.tensor(index).name
        for candidate in (name, sanitize(name), sanitize(input_name(name))):
            out.setdefault(candidate, j)
    for signature in tfl.signature_defs.values():
        for name, index in signature.get("outputs", {}).items():
            if index in position:
                out.setdefault(name, position[index])
    return out


def check_sample(keras_out: np.ndarray, ref: np.ndarray, tfl: TFLiteModel, j: int, name: str, sample: int) -> None:
    """A Keras output and its reference for one sample must have the very same shape.

    Raises:
        VerificationError: they differ; the message names both sides.
    """
    if tuple(keras_out.shape) != tuple(ref.shape):
        raise VerificationError(
            f"verify: on sample {sample}, Keras output {name!r} has shape {tuple(keras_out.shape)}, but TFLite "
            f"output {j} {tfl.tensor(tfl.outputs[j]).name!r} has shape {tuple(ref.shape)}; outputs are never "
            "reshaped to fit")


def keras_outputs(keras_model: Any, samples: list[list[np.ndarray]], batched: bool) -> list[list[np.ndarray]]:
    """Keras outputs (in the model's order) of every sample: in one call over the samples concatenated
    along the batch when each output's first dimension is the batch, else one call per sample.

    Raises:
        VerificationError: the Keras model fails on the samples.
    """
    import keras

    probe = keras.Model(list(keras_model.inputs), list(keras_model.outputs))

    def call(arrays: list[np.ndarray]) -> list[np.ndarray]:
        try:
            result = probe(arrays, training=False)
        except Tflite2KerasError:
            raise
        except Exception as err:  # a Keras, backend or numpy error: name the model and what it was fed
            shapes = [(a.shape, str(a.dtype)) for a in arrays]
            raise VerificationError(f"verify: the Keras model {getattr(keras_model, 'name', '')!r} fails on "
                                    f"inputs {shapes}: {type(err).__name__}: {err}") from err
        return [np.asarray(r) for r in (result if isinstance(result, (list, tuple)) else [result])]

    if not batched or len(samples) == 1:
        return [call(s) for s in samples]
    stacked = call([np.concatenate([s[i] for s in samples], axis=0) for i in range(len(samples[0]))])
    return [[np.array_split(out, len(samples))[i] for out in stacked] for i in range(len(samples))]
