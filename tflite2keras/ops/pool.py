"""Pooling ops, L2_POOL_2D, and LOCAL_RESPONSE_NORMALIZATION (a window over the channels)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tflite.model import Operator, TFLiteModel
from . import checks, prepare
from .contract import ConvertContext
from .prepare_shapes import IMAGE
from .registry import Mismatch, OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor

_POOL_CHECKS = (checks.pool_size, checks.strides, checks.padding)
#: LOCAL_RESPONSE_NORMALIZATION options, each also the layer's attribute, and their TFLite defaults.
LRN_OPTIONS = {"radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}


def _pool(kind: str, ours: bool = False) -> Any:
    def convert(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
        import keras

        from ..layers import pool as ours_layers

        name = ctx.name(op)
        layer = getattr(ours_layers if ours else keras.layers, kind)(
            (op.options["filter_height"], op.options["filter_width"]),
            strides=checks.op_strides(op),
            padding=op.options.get("padding", "VALID").lower(), name=name)
        return [ctx.activate(layer(ctx.input(op, 0)), op, name)]
    return convert


def _lrn_options(op: Operator) -> dict[str, Any]:
    return {k: type(v)(op.options.get(k, v)) for k, v in LRN_OPTIONS.items()}


def convert_lrn(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import LocalResponseNormalization

    return [LocalResponseNormalization(**_lrn_options(op), name=ctx.name(op))(ctx.input(op, 0))]


def check_lrn(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: radius, bias, alpha and beta (floats compared at float32 precision, as TFLite stores them)."""
    for field, tfl in _lrn_options(op).items():
        keras = getattr(layer, field, None)
        if keras is None or not np.float32(keras) == np.float32(tfl):
            yield field, keras, tfl


register_op(OpSpec("MAX_POOL_2D", layers=("MaxPooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("MaxPooling2D"), prepare=(*IMAGE, prepare.window_fits)))
register_op(OpSpec("AVERAGE_POOL_2D", layers=("AveragePooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("AveragePooling2D"), prepare=(*IMAGE, prepare.window_fits)))
register_op(OpSpec("L2_POOL_2D", layers=("L2Pooling2D",), fused_activation=True, checks=_POOL_CHECKS,
                   converter=_pool("L2Pooling2D", ours=True), prepare=(*IMAGE, prepare.window_fits)))
register_op(OpSpec("LOCAL_RESPONSE_NORMALIZATION", layers=("LocalResponseNormalization",), checks=(check_lrn,),
                   converter=convert_lrn))
