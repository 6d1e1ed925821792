"""One Keras loss for both outputs of an SSD detector: focal (or BCE) on the classifiers.

MediaPipe's SSD detectors (palm, face, pose) have two outputs, in this order:
regressors ``(B, N, R)`` and classificators ``(B, N, C)`` (logits). Given one loss
object, Keras applies it to every output, so the loss reads from the *target's* last
dimension which output it is scoring (the targets come from
:func:`tflite2keras.heads.ssd_dataset`):

============================  ==============================================================
target last dimension         meaning
============================  ==============================================================
``0``                         a regressor not trained: the loss is 0 (no gradient reaches it)
``R + 1`` (``regression``)    the 4 MediaPipe-encoded box values (x, y, w, h), ``R - 4``
                              unused columns (keypoints) and a last column of 1 on positive
                              anchors: smooth-L1 over the box values of positive anchors
``C`` (the prediction's)      one-hot (multi-hot allowed) classes per anchor, all 0 for
                              background, -1 in every channel for ignored anchors: focal or
                              sigmoid cross-entropy loss
============================  ==============================================================

Both terms are summed over anchors (and values) and divided by ``max(1, P)``, P the
number of positive anchors in the global batch, the focal-loss convention. ``call``
returns per-sample values ``R * B * sum_b / max(1, P)`` (R replicas, B samples each) so
that Keras's default ``"sum_over_batch_size"`` reduction (a mean over the B samples,
then its division by R for the gradients summed over replicas) yields exactly
``sum / max(1, P)``. Under ``tf.distribute`` P is summed over the replicas first
(JAX's ``keras.distribution`` runs one global program), so distributed training takes
the same steps as one device whatever the replicas' shares of positive anchors.

Example:
    >>> import numpy as np
    >>> anchors = np.array([[0.25, 0.5, 1.0, 1.0], [0.75, 0.5, 1.0, 1.0]], np.float32)
    >>> loss = ssd_classification_loss(anchors)
    >>> y_true = np.array([[[1.0], [0.0]]], np.float32)  # anchor 0 positive, anchor 1 background
    >>> round(float(loss(y_true, np.zeros((1, 2, 1), np.float32))), 4)
    0.1733
    >>> float(loss(np.zeros((1, 2, 0)), np.zeros((1, 2, 18))))  # an untrained regressor
    0.0
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from ..errors import InvalidArgumentError, ShapeMismatchError

KINDS = ("focal", "bce")
#: Box values (x, y, w, h) at the start of every regressor row.
BOX_VALUES = 4
_REDUCTIONS = ("sum_over_batch_size", "none", None)
_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="tflite2keras")
class SSDClassificationLoss(keras.losses.Loss):
    """Focal or BCE loss on an SSD's classifiers, zero (or smooth-L1) on its regressors.

    See the module docstring for the target encoding and the normalization. Build it
    with :func:`ssd_classification_loss`, which takes the anchors array.

    Args:
        num_anchors: N, the anchors of the model's outputs (checked on every call).
        kind: ``"focal"`` (Lin et al., ``-alpha_t (1 - p_t)^gamma log(p_t)``) or
            ``"bce"`` (sigmoid cross-entropy, no ``alpha`` nor ``gamma``).
        alpha: weight of the positive targets in ``[0, 1]`` (negatives get ``1 - alpha``).
        gamma: focusing exponent, ``>= 0`` (0 gives alpha-weighted cross-entropy).
        from_logits: the classifier outputs logits (MediaPipe's do); otherwise
            probabilities, clipped to ``[1e-7, 1 - 1e-7]``.
        regression: also train the box regression (targets of last dimension ``R + 1``).
        name: the loss's name.
        reduction: ``"sum_over_batch_size"`` (the normalization above) or ``None``/
            ``"none"`` (the per-sample values); other reductions would re-scale it.
        dtype: computation dtype (default ``keras.backend.floatx()``).

    Raises:
        InvalidArgumentError: an unknown ``kind`` or ``reduction``, or ``alpha``,
            ``gamma`` or ``num_anchors`` out of range.
    """

    def __init__(self, num_anchors: int, *, kind: str = "focal", alpha: float = 0.25, gamma: float = 2.0,
                 from_logits: bool = True, regression: bool = False, name: str = "ssd_classification_loss",
                 reduction: str | None = "sum_over_batch_size", dtype: Any = None) -> None:
        if kind not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {KINDS}, received {kind!r}")
        if reduction not in _REDUCTIONS:
            raise InvalidArgumentError(f"reduction must be one of {_REDUCTIONS}, received {reduction!r}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise InvalidArgumentError(f"alpha must be in [0, 1], received {alpha!r}")
        if not float(gamma) >= 0.0:
            raise InvalidArgumentError(f"gamma must be >= 0, received {gamma!r}")
        if int(num_anchors) < 1:
            raise InvalidArgumentError(f"num_anchors must be >= 1, received {num_anchors!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.num_anchors = int(num_anchors)
        self.kind = kind
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.from_logits = bool(from_logits)
        self.regression = bool(regression)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss ``(B,)`` of one output; which one is read from ``y_true``'s shape.

        Raises:
            ShapeMismatchError: the prediction does not have N anchors, a shape is not
                rank 3, or the target's last dimension fits no output kind.
        """
        true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if len(pred_shape) != 3 or len(true_shape) != 3:
            raise ShapeMismatchError(f"expected targets and predictions of shape (batch, anchors, values), "
                                     f"received target {true_shape} and prediction {pred_shape}")
        if pred_shape[1] is not None and pred_shape[1] != self.num_anchors:
            raise ShapeMismatchError(f"expected {self.num_anchors} anchors from the anchors array, received "
                                     f"{pred_shape[1]} in a prediction of shape {pred_shape}")
        last, values = true_shape[-1], pred_shape[-1]
        if last == 0 and not self.regression:
            return ops.zeros_like(y_pred[:, 0, 0])
        if values is not None and last == values + 1 and values >= BOX_VALUES and self.regression:
            return self._box_loss(y_true, y_pred)
        if last is not None and last == values:
            return self._class_loss(y_true, y_pred)
        hint = (" (built with regression=True: use ssd_dataset(..., regression=True))" if self.regression
                else " (regressor targets of last dimension R + 1 need regression=True)")
        raise ShapeMismatchError(f"expected a target of last dimension 0, {values} + 1 or {values} for the "
                                 f"prediction of shape {pred_shape}, received target {true_shape}{hint}")

    def _normalize(self, per_sample: Any, positives: Any, y_pred: Any) -> Any:
        batch = ops.cast(ops.shape(y_pred)[0], per_sample.dtype)
        count, replicas = _global_sum(ops.sum(positives))
        return per_sample * (batch * replicas) / ops.maximum(count, 1.0)

    def _class_loss(self, y_true: Any, y_pred: Any) -> Any:
        valid = ops.cast(y_true > -0.5, y_pred.dtype)
        target = y_true * valid
        logits = y_pred
        if not self.from_logits:
            p = ops.clip(y_pred, _EPSILON, 1.0 - _EPSILON)
            logits = ops.log(p) - ops.log1p(-p)
        log_p, log_not_p = ops.log_sigmoid(logits), ops.log_sigmoid(-logits)
        loss = -(target * log_p + (1.0 - target) * log_not_p)
        if self.kind == "focal":
            # (1 - p_t)^gamma as exp(gamma * log(1 - p_t)): finite, with a finite gradient, at any logit.
            modulating = ops.exp(self.gamma * (target * log_not_p + (1.0 - target) * log_p))
            loss = loss * modulating * (target * self.alpha + (1.0 - target) * (1.0 - self.alpha))
        per_sample = ops.sum(loss * valid, axis=(1, 2))
        positives = ops.cast(ops.max(target, axis=-1) > 0.5, y_pred.dtype)
        return self._normalize(per_sample, positives, y_pred)

    def _box_loss(self, y_true: Any, y_pred: Any) -> Any:
        mask = y_true[:, :, -1]
        diff = ops.abs(y_pred[:, :, :BOX_VALUES] - y_true[:, :, :BOX_VALUES])
        huber = ops.where(diff < 1.0, 0.5 * ops.square(diff), diff - 0.5)
        per_sample = ops.sum(ops.sum(huber, axis=-1) * mask, axis=-1)
        return self._normalize(per_sample, mask, y_pred)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (the anchors are kept as their count)."""
        config = super().get_config()
        config.update(num_anchors=self.num_anchors, kind=self.kind, alpha=self.alpha, gamma=self.gamma,
                      from_logits=self.from_logits, regression=self.regression)
        return config


def _global_sum(value: Any) -> tuple[Any, float]:
    """``value`` summed over the replicas of a ``tf.distribute`` replica context, and their count."""
    if keras.backend.backend() != "tensorflow":
        return value, 1.0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value, 1.0
    return context.all_reduce("SUM", value), float(context.num_replicas_in_sync)


def ssd_classification_loss(anchors: Any, *, kind: str = "focal", alpha: float = 0.25, gamma: float = 2.0,
                            from_logits: bool = True, regression: bool = False) -> SSDClassificationLoss:
    """The loss to compile an SSD detector with for classifier-only fine-tuning.

    Use it as the single loss of the two-output model, with targets from
    :func:`tflite2keras.heads.ssd_dataset` (built with the same ``anchors`` and
    ``regression``). Keras then reports ``loss`` as the classification term (plus the
    box term with ``regression=True``); the regressor output's own term is 0.

    Without ``regression``, no gradient reaches the layers that feed only the
    regressors: Keras warns once that they have none. Freeze them
    (``heads.freeze_backbone``) to keep them out of the optimizer.

    Args:
        anchors: the ``(N, 4)`` anchors (x_center, y_center, width, height); only N is kept.
        kind: ``"focal"`` or ``"bce"``.
        alpha: focal weight of the positive targets, in ``[0, 1]``.
        gamma: focal exponent, ``>= 0``.
        from_logits: the classifier outputs logits rather than probabilities.
        regression: also train the boxes (smooth-L1 on MediaPipe-encoded values).

    Returns:
        A serializable :class:`SSDClassificationLoss`.

    Raises:
        InvalidArgumentError: ``anchors`` is not ``(N, 4)``, or another argument is out of range.

    Example:
        >>> import numpy as np
        >>> loss = ssd_classification_loss(np.full((2016, 4), 0.5, np.float32), kind="bce")
        >>> loss.get_config()["num_anchors"], loss.kind
        (2016, 'bce')
    """
    shape = np.shape(anchors)
    if len(shape) != 2 or shape[1] != 4 or shape[0] < 1:
        raise InvalidArgumentError(f"anchors must be an (N, 4) array of (x_center, y_center, width, height), "
                                   f"received shape {shape}")
    return SSDClassificationLoss(shape[0], kind=kind, alpha=alpha, gamma=gamma, from_logits=from_logits,
                                 regression=regression)


__all__ = ["KINDS", "SSDClassificationLoss", "ssd_classification_loss"]
