"""Find a detector's classification heads, widen them to new classes, freeze the rest.

An SSD detector (MediaPipe's palm, face and pose detectors, converted or from the zoo)
ends in small classification heads: a 1x1 ``Conv2D`` per pyramid level whose channels
are ``groups * classes`` (anchors per cell, or depth-to-space blocks, times classes),
followed by layers that only move those channels (``Reshape``, ``Concatenate``,
``DepthToSpace``, ``ZeroPadding2D``, a ``DepthwiseConv2D`` on each channel). The heads
are found by walking back from the classification output to those convolutions. Only
they are rebuilt; every other layer is cloned with its exact weights, so the
regressor outputs stay bit-identical.

Example:
    >>> import keras
    >>> from tflite2keras import heads
    >>> x = keras.Input((6, 6, 5))
    >>> boxes = keras.layers.Reshape((-1, 4))(keras.layers.Conv2D(8, 1)(x))
    >>> scores = keras.layers.Reshape((-1, 1), name="classificators")(keras.layers.Conv2D(2, 1)(x))
    >>> model = heads.replace_classifier(keras.Model(x, [boxes, scores]), num_classes=7)
    >>> model.output_shape
    [(None, 72, 4), (None, 72, 7)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .._render import html_table, text_table
from ..errors import InvalidArgumentError, MappingError, ShapeMismatchError

#: Layers that start a head: they mix backbone channels into ``groups * classes`` channels.
CLASSIFIER_LAYERS = ("Conv2D", "Dense")
#: Layers a head may pass through after its classifier: they keep the (group, class) channel order.
HEAD_LAYERS = ("Reshape", "Concatenate", "DepthToSpace", "ZeroPadding2D", "DepthwiseConv2D",
               "Activation", "ReLU")
#: Prior probability of the new classes' initial bias (as in the focal-loss paper).
PRIOR = 0.01
_NAME_HINTS = ("classif", "score")


@dataclass(frozen=True)
class Head:
    """The layers between a model output and the convolutions that produce it.

    Attributes:
        output: index of the model output.
        classes: values per anchor at that output (its last dimension).
        classifiers: the ``Conv2D``/``Dense`` layers that start the head.
        layers: every layer of the head, classifiers included, output first.
    """

    output: int
    classes: int
    classifiers: tuple[Any, ...]
    layers: tuple[Any, ...]


def require_batch(model: Any, what: str) -> None:
    """Refuse a model converted with fixed shapes (``model.fixed_shape``): its axis 0 is data, not
    the batch that fine-tuning trains over.

    Raises:
        InvalidArgumentError: the model has fixed shapes; the message names why (the op that pins axis 0).
    """
    reason = getattr(model, "fixed_shape", None)
    if reason:
        raise InvalidArgumentError(
            f"{what} needs a model whose axis 0 is a free batch, but {getattr(model, 'name', 'the model')!r} was "
            f"converted with fixed shapes {[tuple(x.shape) for x in model.inputs]}: {reason}")


def classification_outputs(model: Any, outputs: str | int | Sequence[str | int] | None = None) -> list[int]:
    """Indices of the model's classification outputs.

    Named by ``outputs`` (output names or indices); otherwise the output whose name holds
    "classif" or "score"; otherwise, of rank-3 outputs ``(batch, anchors, values)`` over
    the same anchors, the one with fewer values (the regressors carry at least 4).

    Raises:
        MappingError: none or several outputs qualify, or a named output does not exist.
    """
    names = list(model.output_names)
    shapes = [tuple(t.shape) for t in model.outputs]
    if outputs is not None:
        wanted = [outputs] if isinstance(outputs, (str, int)) else list(outputs)
        found = []
        for key in wanted:
            if isinstance(key, int) and -len(names) <= key < len(names):
                found.append(key % len(names))
            elif key in names:
                found.append(names.index(key))
            else:
                raise MappingError(f"outputs={key!r} names no output of {model.name!r}; its outputs are {names}")
        return found
    hinted = [i for i, n in enumerate(names) if any(h in n.lower() for h in _NAME_HINTS)]
    if len(hinted) == 1:
        return hinted
    ssd = [i for i, s in enumerate(shapes) if len(s) == 3]
    if len(ssd) == 2 and shapes[ssd[0]][1] == shapes[ssd[1]][1] and shapes[ssd[0]][2] != shapes[ssd[1]][2]:
        return [min(ssd, key=lambda i: shapes[i][2])]
    raise MappingError(
        f"could not tell which output of {model.name!r} is the classification output: searched the "
        f"output names {names} for {_NAME_HINTS} and the shapes {shapes} for two (batch, anchors, values) "
        "outputs over the same anchors; name it with outputs=...")


def find_head(model: Any, output: int) -> Head:
    """Walk back from ``model.outputs[output]`` to the convolutions that start its head.

    Raises:
        MappingError: the walk meets a layer that is neither a head layer nor a classifier
            (the output is not a detector head), or a head layer also feeds other outputs.
    """
    tensor = model.outputs[output]
    classes = int(tensor.shape[-1])
    seen: dict[int, Any] = {}
    classifiers: list[Any] = []
    stack = [tensor]
    while stack:
        history = stack.pop()._keras_history
        layer = history.operation
        if id(layer) in seen:
            continue
        kind = type(layer).__name__
        seen[id(layer)] = layer
        if kind in CLASSIFIER_LAYERS:
            classifiers.append(layer)
            continue
        if kind not in HEAD_LAYERS:
            raise MappingError(
                f"output {output} ({model.output_names[output]!r}) of {model.name!r} is not an SSD classification "
                f"head: walking back from it, layer {layer.name!r} ({kind}) is neither a head layer {HEAD_LAYERS} "
                f"nor a classifier {CLASSIFIER_LAYERS}")
        stack += list(layer._inbound_nodes[history.node_index].input_tensors)
    if not classifiers:
        raise MappingError(f"output {output} of {model.name!r}: no {CLASSIFIER_LAYERS} layer found behind it")
    head = tuple(seen.values())
    members = {id(layer) for layer in head}
    for layer in head:
        if layer.output is not tensor and any(id(n.operation) not in members for n in layer._outbound_nodes):
            raise MappingError(f"head layer {layer.name!r} of output {output} also feeds layers outside the head")
    return Head(output, classes, tuple(classifiers), head)


def replace_classifier(model: Any, num_classes: int, *, outputs: str | int | Sequence[str | int] | None = None,
                       init: str = "prior", keep_class0: bool = False, seed: int = 0) -> Any:
    """A copy of a detector with ``num_classes`` scores per anchor.

    Args:
        model: a functional Keras detector (``t2k.convert`` of an SSD file, or a zoo model).
        num_classes: scores per anchor in the new model.
        outputs: the classification output(s), by name or index, when the names and shapes
            do not tell (see :func:`classification_outputs`).
        init: ``"prior"``: kernels ~ N(0, 0.01) and biases ``log(p / (1 - p))`` with p = 0.01,
            so every new class starts at probability 0.01 (focal-loss style); ``"zeros"``
            for zero kernels with the same bias.
        keep_class0: fill class 0 with the original model's class-0 weights.
        seed: seed of the new kernels.

    Returns:
        A new ``keras.Model``; every layer outside the classification heads holds the same
        weight values as in ``model``, so the other outputs are bit-identical.

    Raises:
        InvalidArgumentError: ``num_classes`` below 1 or ``init`` unknown, or the model has fixed
            shapes (``model.fixed_shape``: its axis 0 is data, not a batch to train over).
        MappingError: no classification head is found (see :func:`find_head`).

    Example:
        >>> import tflite2keras as t2k
        >>> replace_classifier(t2k.zoo.blazepalm("lite"), num_classes=7, keep_class0=True).output_shape
        [(None, 2016, 18), (None, 2016, 7)]
    """
    import keras

    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise InvalidArgumentError(f"num_classes must be an integer >= 1, received {num_classes!r}")
    if init not in ("prior", "zeros"):
        raise InvalidArgumentError(f"init must be 'prior' or 'zeros', received {init!r}")
    require_batch(model, "replace_classifier")
    found = [find_head(model, i) for i in classification_outputs(model, outputs)]
    old_classes = {id(layer): head.classes for head in found for layer in head.layers}

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        if id(layer) in old_classes:
            config = _widened(layer, config, old_classes[id(layer)], int(num_classes))
        return layer.__class__.from_config(config)

    new = keras.models.clone_model(model, clone_function=clone)
    rng = np.random.default_rng(seed)
    for old in model.layers:
        if not old.weights:
            continue
        fresh = new.get_layer(old.name)
        weights = old.get_weights()
        if id(old) in old_classes:
            weights = _head_weights(old, fresh, weights, old_classes[id(old)], int(num_classes), init, keep_class0, rng)
        fresh.set_weights(weights)
    for head in found:
        got = tuple(new.outputs[head.output].shape)
        if got[-1] != num_classes:
            raise ShapeMismatchError(f"output {head.output} has shape {got} after widening, expected {num_classes} "
                                     "values per anchor")
    return new


def _widened(layer: Any, config: dict[str, Any], old: int, new: int) -> dict[str, Any]:
    kind = type(layer).__name__
    if kind in CLASSIFIER_LAYERS:
        key = "filters" if kind == "Conv2D" else "units"
        if config[key] % old:
            raise MappingError(f"classifier {layer.name!r} has {config[key]} channels, not a multiple of {old} classes")
        return {**config, key: config[key] // old * new}
    if kind == "Reshape":
        target = tuple(config["target_shape"])
        if target[-1] != old:
            raise MappingError(f"head reshape {layer.name!r} to {target} does not end in the {old} classes")
        return {**config, "target_shape": (*target[:-1], new)}
    return config


def _head_weights(old_layer: Any, new_layer: Any, weights: list[np.ndarray], old: int, new: int, init: str,
                  keep_class0: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """Weights of a widened head layer, channel ``g * new + c`` standing for group g, class c."""
    kind = type(old_layer).__name__
    shapes = [tuple(v.shape) for v in new_layer.weights]
    if kind in CLASSIFIER_LAYERS:
        kernel = (rng.normal(0.0, 0.01, shapes[0]) if init == "prior" else np.zeros(shapes[0])).astype(np.float32)
        out = [kernel] + [np.full(s, np.log(PRIOR / (1 - PRIOR)), np.float32) for s in shapes[1:]]
        if keep_class0:
            for fresh, value in zip(out, weights):
                fresh[..., ::new] = value[..., ::old]
        return out
    if kind == "DepthwiseConv2D":  # each class channel of a group takes that group's spatial filter
        groups = shapes[0][2] // new
        pick = np.array([g * old + min(c, old - 1) for g in range(groups) for c in range(new)])
        return [weights[0][:, :, pick, :]] + [w.reshape(-1, old_layer.depth_multiplier)[pick].reshape(-1)
                                               for w in weights[1:]]
    return weights


@dataclass(frozen=True)
class FreezeReport:
    """What :func:`freeze_backbone` left trainable."""

    trainable: tuple[tuple[str, str, int], ...]
    frozen_layers: int
    frozen_params: int

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(name, kind, params) for name, kind, params in self.trainable]

    def _caption(self) -> str:
        total = sum(p for *_, p in self.trainable)
        return (f"{len(self.trainable)} layers trainable ({total} parameters); "
                f"{self.frozen_layers} layers frozen ({self.frozen_params} parameters)")

    def __str__(self) -> str:
        return self._caption() + "\n" + text_table(("layer", "type", "parameters"), self._rows())

    def _repr_html_(self) -> str:
        return html_table(("layer", "type", "parameters"), self._rows(), caption=self._caption())


def freeze_backbone(model: Any, train: Iterable[str] = ("classifier",), *,
                    outputs: str | int | Sequence[str | int] | None = None) -> FreezeReport:
    """Set ``trainable=False`` on every layer but the detector's heads.

    Args:
        model: a detector (see :func:`replace_classifier`).
        train: which heads stay trainable: ``"classifier"``, ``"regressor"`` or both.
        outputs: the classification output(s), as for :func:`replace_classifier`.

    Returns:
        A :class:`FreezeReport` listing the layers that stay trainable.

    Raises:
        InvalidArgumentError: ``train`` names something else.

    Example:
        >>> import tflite2keras as t2k
        >>> model = t2k.zoo.blazepalm("lite", num_classes=3)
        >>> freeze_backbone(model, train=("classifier", "regressor")).trainable[0][1]
        'Conv2D'
        >>> sum(layer.trainable for layer in model.layers if layer.weights)
        4
    """
    train = (train,) if isinstance(train, str) else tuple(train)
    unknown = set(train) - {"classifier", "regressor"}
    if unknown:
        raise InvalidArgumentError(f"train must name 'classifier' and/or 'regressor', received {sorted(unknown)}")
    classes = classification_outputs(model, outputs)
    keep: dict[int, Any] = {}
    for index in range(len(model.outputs)):
        wanted = "classifier" if index in classes else "regressor"
        if wanted in train:
            keep.update({id(layer): layer for layer in find_head(model, index).layers})
    trainable, frozen, frozen_params = [], 0, 0
    for layer in model.layers:
        layer.trainable = id(layer) in keep
        params = int(sum(np.prod(w.shape) for w in layer.weights))
        if layer.trainable and layer.weights:
            trainable.append((layer.name, type(layer).__name__, params))
        elif layer.weights:
            frozen, frozen_params = frozen + 1, frozen_params + params
    return FreezeReport(tuple(trainable), frozen, frozen_params)
