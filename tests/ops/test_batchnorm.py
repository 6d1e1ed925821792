"""tflite2keras.ops.batchnorm: a BatchNormalization folded into the op before it, as its spec says."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.ops import registry
from tflite2keras.ops.registry import OpSpec


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 5, 3))
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False, name="up")(inputs)
    x = keras.layers.BatchNormalization(name="bn_up")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, name="fc")(x)
    return keras.Model(inputs, keras.layers.BatchNormalization(name="bn_fc")(x))


def _trained(seed: int) -> keras.Model:
    model = _model(seed)
    rng = np.random.default_rng(seed)
    for bn in (la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)):
        n = bn.gamma.shape[0]
        bn.set_weights([rng.uniform(0.5, 2, n), rng.normal(size=n), rng.normal(size=n), rng.uniform(0.5, 2, n)])
    return model


@pytest.mark.parametrize("opcode", sorted(op for op, spec in registry.specs().items() if spec.folds_batchnorm))
def test_folding_ops_have_a_bias(opcode: str) -> None:
    assert "bias" in registry.get(opcode).weight_roles


def test_transpose_conv_and_dense_fold(to_tflite: Any) -> None:
    data = to_tflite(_trained(1))
    assert [op.opcode for op in t2k.read(data).operators].count("TRANSPOSE_CONV") == 1
    target = _model(2)
    report = t2k.transplant(target, data)
    assert {a.layer for a in report.assignments if a.rule == "batchnorm identity"} == {"bn_up", "bn_fc"}
    bn = target.get_layer("bn_fc")
    assert np.all(bn.gamma.numpy() == 1) and np.all(bn.moving_mean.numpy() == 0)
    assert not t2k.lint(target, data)
    assert t2k.verify(target, data, samples=2, per_layer=True).ok


def test_folding_is_read_from_the_spec(to_tflite: Any, scratch_registry: None) -> None:
    data = to_tflite(_trained(1))
    fc = registry.get("FULLY_CONNECTED")
    registry.register_op(OpSpec("FULLY_CONNECTED", layers=fc.layers, weights=fc.weights, checks=fc.checks,
                                fused_activation=True, converter=fc.converter), override=True)
    target = _model(2)
    report = t2k.transplant(target, data)
    assert {a.layer for a in report.assignments if a.rule == "batchnorm identity"} == {"bn_up"}
    assert not t2k.verify(target, data, samples=1).ok
