"""BatchNormalization folding, described once for transplant, align, matching and lint.

TFLite folds a BatchNormalization into the op before it when that op's spec says so
(``OpSpec.folds_batchnorm``: the convolutions and ``FULLY_CONNECTED``, whose bias takes the
BN's shift). A Keras layer of such an op followed by a ``BatchNormalization`` that alone
reads its output receives the folded kernel; its own bias (if any) becomes zero, and the
BN becomes an exact identity plus the folded bias: ``gamma = 1``, ``moving_mean = 0``,
``moving_variance = 1 - epsilon``, ``beta = folded bias``, so that
``gamma / sqrt(moving_variance + epsilon) == 1``. The BN has no op of its own: matching
never pairs it, and ``align`` gives the op's output to the BN instead of the layer.

Example:
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> bn = SimpleNamespace(epsilon=0.25)
    >>> {k: v.tolist() for k, v in identity(bn, np.array([0.5, -1.0], np.float32)).items()}
    {'gamma': [1.0, 1.0], 'beta': [0.5, -1.0], 'moving_mean': [0.0, 0.0], 'moving_variance': [0.75, 0.75]}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import OpSpec


def is_batchnorm(layer: Any) -> bool:
    """True for a Keras ``BatchNormalization`` layer (or one of the same class name)."""
    return type(layer).__name__ == "BatchNormalization"


def single_child(layer: Any) -> Any:
    """The only layer that reads ``layer``'s output, or None when there are none or several."""
    children = [node.operation for node in getattr(layer, "_outbound_nodes", [])]
    return children[0] if len(children) == 1 else None


def folded_batchnorm(layer: Any, spec: OpSpec | None) -> Any:
    """The BatchNormalization that TFLite folded into ``layer``'s op, or None.

    That is the BN that alone reads ``layer``'s output, when ``spec`` (the op's) folds BN.
    """
    if spec is None or not spec.folds_batchnorm:
        return None
    child = single_child(layer)
    return child if child is not None and is_batchnorm(child) else None


def identity(bn: Any, bias: np.ndarray) -> dict[str, np.ndarray]:
    """The BN variables that make it an exact identity plus ``bias`` (the op's folded bias)."""
    channels = int(np.asarray(bias).size)
    return {"gamma": np.ones(channels, np.float32), "beta": np.asarray(bias, np.float32).reshape(-1),
            "moving_mean": np.zeros(channels, np.float32),
            "moving_variance": np.full(channels, 1.0 - bn.epsilon, np.float32)}


__all__ = ["folded_batchnorm", "identity", "is_batchnorm", "single_child"]
