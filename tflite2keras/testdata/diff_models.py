"""The differential suite's models as data (layouts): one :class:`Spec` per model, keyed by a readable id.

Every dimension is odd or at least distinct from its neighbours (images 13x11x5, sequences
11x5 or 9x13), so that a swapped axis or a wrong layout cannot go unseen. Each builder gets
the Keras inputs and returns the output; ``L`` and ``K`` stand for ``keras.layers`` and
``keras.ops``, imported only when a model is built (importing this module imports neither
Keras nor TensorFlow). ``quant=True`` marks the models also converted to float16 and int8.

:data:`LAYOUTS` are the models that stress layouts (convolutions, pooling, resizing, slicing,
axes, reshapes, padding); :mod:`tflite2keras.testdata.diff_ops` holds those that stress ops.

Example:
    >>> spec = LAYOUTS["conv2d_s2_same"]
    >>> spec.shapes, spec.quant
    (((13, 11, 5),), True)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


class _Lazy:
    """A module imported on first attribute access (``L.Conv2D`` imports ``keras.layers`` then)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


L = _Lazy("keras.layers")
K = _Lazy("keras.ops")

IMAGE = (13, 11, 5)  # height, width, channels: all distinct
SEQ = (11, 5)  # steps, features
WIDE = (9, 13)  # steps, features (attention, norms)
EVEN = (12, 10, 3)  # even sizes: 'same' pads one more after than before
VOLUME = (7, 9, 5, 3)  # depth, height, width, channels
VOCAB = 23  # rows of every Embedding: integer inputs are indices in [0, VOCAB)


@dataclass(frozen=True)
class Spec:
    """One model: its inputs (shapes without the batch, one dtype), builder and variants.

    Attributes:
        shapes: the shape of each input, batch excluded.
        build: ``build(*inputs) -> output`` on Keras symbolic tensors.
        quant: also convert it to float16 and to full-integer int8 (float input and output).
        dtype: the dtype of every input.
    """

    shapes: tuple[tuple[int, ...], ...]
    build: Callable[..., Any]
    quant: bool = False
    dtype: str = "float32"


def one(shape: tuple[int, ...], build: Callable[..., Any], quant: bool = False, dtype: str = "float32") -> Spec:
    """A model of one input of ``shape``."""
    return Spec((shape,), build, quant, dtype)


def conv_then(layer: Callable[[], Any]) -> Callable[[Any], Any]:
    """A 1x1 Conv2D first, so that the layer under test does not read a graph input."""
    return lambda x: layer()(L.Conv2D(7, 1)(x))


LAYOUTS: dict[str, Spec] = {
    # convolutions: strides, dilations, padding modes, depth multipliers, groups
    "conv2d_s2_same": one(IMAGE, lambda x: L.Conv2D(7, 3, strides=2, padding="same")(x), quant=True),
    "conv2d_s23_valid": one(IMAGE, lambda x: L.Conv2D(7, (3, 5), strides=(2, 3))(x), quant=True),
    "conv2d_s3_same_k4": one(IMAGE, lambda x: L.Conv2D(6, 4, strides=3, padding="same")(x)),
    "conv2d_dilated_same": one(IMAGE, lambda x: L.Conv2D(7, 3, dilation_rate=(2, 3), padding="same")(x),
                                quant=True),
    "conv2d_dilated_valid": one(IMAGE, lambda x: L.Conv2D(6, (3, 2), dilation_rate=2, use_bias=False)(x)),
    "conv2d_groups": one((13, 11, 6), lambda x: L.Conv2D(9, 3, groups=3, padding="same")(x), quant=True),
    "conv2d_relu6": one(IMAGE, lambda x: L.Conv2D(7, 1, activation="relu6")(x), quant=True),
    "conv1d_s2_same": one((17, 5), lambda x: L.Conv1D(7, 4, strides=2, padding="same")(x), quant=True),
    "conv1d_s3_valid": one((17, 5), lambda x: L.Conv1D(6, 5, strides=3)(x), quant=True),
    "conv1d_causal_dilated": one((17, 5), lambda x: L.Conv1D(7, 3, dilation_rate=2, padding="causal")(x)),
    "depthwise_s2_same": one(IMAGE, lambda x: L.DepthwiseConv2D(3, strides=2, padding="same")(x), quant=True),
    "depthwise_mult3_valid": one(IMAGE, lambda x: L.DepthwiseConv2D((3, 5), depth_multiplier=3)(x), quant=True),
    "depthwise_dilated_mult2": one(IMAGE, lambda x: L.DepthwiseConv2D(3, dilation_rate=2, depth_multiplier=2,
                                                                       padding="same")(x), quant=True),
    "depthwise1d_s2_mult2": one((17, 5), lambda x: L.DepthwiseConv1D(5, strides=2, depth_multiplier=2,
                                                                     padding="same")(x)),
    "separable_s2_mult2": one(IMAGE, lambda x: L.SeparableConv2D(7, 3, strides=2, padding="same",
                                                                  depth_multiplier=2)(x), quant=True),
    "separable_dilated_valid": one(IMAGE, lambda x: L.SeparableConv2D(6, 3, dilation_rate=2)(x), quant=True),
    "separable1d_same": one((17, 5), lambda x: L.SeparableConv1D(7, 3, padding="same")(x)),
    # transposed convolutions: strides, output padding
    "conv2d_t_s2_same": one(IMAGE, lambda x: L.Conv2DTranspose(7, 3, strides=2, padding="same")(x), quant=True),
    "conv2d_t_s23_valid": one(IMAGE, lambda x: L.Conv2DTranspose(6, (3, 4), strides=(2, 3))(x)),
    "conv2d_t_outpad_same": one(IMAGE, lambda x: L.Conv2DTranspose(7, 3, strides=2, output_padding=1,
                                                                    padding="same")(x), quant=True),
    "conv2d_t_outpad_valid": one(IMAGE, lambda x: L.Conv2DTranspose(6, 3, strides=3, output_padding=(1, 2))(x), quant=True),
    "conv1d_t_s2_same": one((9, 5), lambda x: L.Conv1DTranspose(7, 3, strides=2, padding="same")(x), quant=True),
    "conv1d_t_outpad": one((9, 5), lambda x: L.Conv1DTranspose(6, 4, strides=3, output_padding=2)(x), quant=True),
    # pooling, 'same' and odd sizes
    "maxpool2d_s2_same": one(IMAGE, lambda x: L.MaxPooling2D(3, strides=2, padding="same")(x), quant=True),
    "avgpool2d_s23_same": one(IMAGE, lambda x: L.AveragePooling2D((3, 5), strides=(2, 3), padding="same")(x),
                               quant=True),
    "avgpool2d_s2_valid": one(IMAGE, lambda x: L.AveragePooling2D(3, strides=2)(x), quant=True),
    "maxpool1d_s2_same": one((17, 5), lambda x: L.MaxPooling1D(3, strides=2, padding="same")(x), quant=True),
    "avgpool1d_s3_same": one((17, 5), lambda x: L.AveragePooling1D(5, strides=3, padding="same")(x), quant=True),
    "global_avg2d_keepdims": one(IMAGE, lambda x: L.GlobalAveragePooling2D(keepdims=True)(x), quant=True),
    "global_max2d": one(IMAGE, lambda x: L.GlobalMaxPooling2D()(x), quant=True),
    "global_avg1d": one(SEQ, lambda x: L.GlobalAveragePooling1D()(x)),
    # resizing
    "upsample_nearest_23": one(IMAGE, lambda x: L.UpSampling2D((2, 3))(x), quant=True),
    "upsample_bilinear": one(IMAGE, lambda x: L.UpSampling2D(2, interpolation="bilinear")(x), quant=True),
    "resizing_bilinear": one(IMAGE, lambda x: L.Resizing(17, 9, "bilinear")(x), quant=True),
    "resizing_nearest": one(IMAGE, lambda x: L.Resizing(7, 19, "nearest")(x), quant=True),
    "resizing_crop": one(IMAGE, lambda x: L.Resizing(9, 3, crop_to_aspect_ratio=True)(x)),
    "resize_nearest_down": one(IMAGE, lambda x: K.image.resize(x, (7, 5), interpolation="nearest")),
    # slicing: negative strides and indices
    "reverse_h": one(IMAGE, lambda x: x[:, ::-1], quant=True),
    "flip_w": one(IMAGE, lambda x: K.flip(x, axis=2)),
    "slice_negative": one(IMAGE, lambda x: x[:, -3:-1, 1:-2], quant=True),
    "slice_steps": one(IMAGE, lambda x: x[:, 1::2, ::3, 1:], quant=True),
    "slice_reverse_step": one(IMAGE, lambda x: x[:, ::-2, 9:2:-3]),
    "take_negative": one(IMAGE, lambda x: K.take(x, [-1, 0, 2], axis=2)),
    # axes other than the last
    "concat_axis1": Spec((IMAGE, (4, 11, 5)), lambda a, b: L.Concatenate(axis=1)([a, b])),
    "concat_axis2": Spec((IMAGE, (13, 3, 5)), lambda a, b: L.Concatenate(axis=2)([b, a])),
    "softmax_axis1": one(IMAGE, lambda x: L.Softmax(axis=1)(x), quant=True),
    "softmax_axis1_seq": one(SEQ, lambda x: L.Softmax(axis=1)(x)),
    "mean_axis1": one(IMAGE, lambda x: K.mean(x, axis=1), quant=True),
    "max_axes12": one(IMAGE, lambda x: K.max(x, axis=(1, 2)), quant=True),
    "sum_axis2_keepdims": one(IMAGE, lambda x: K.sum(x, axis=2, keepdims=True), quant=True),
    "min_axis_m2": one(IMAGE, lambda x: K.min(x, axis=-2)),
    "prod_axis1": one(SEQ, lambda x: K.prod(1.0 + 0.1 * x, axis=1)),
    "logsumexp_axis1": one(SEQ, lambda x: K.logsumexp(x, axis=1)),
    "cumsum_axis1": one(SEQ, lambda x: K.cumsum(x, axis=1)),
    # reshape and transpose chains
    "permute_312": one(IMAGE, lambda x: L.Permute((3, 1, 2))(x), quant=True),
    "reshape_permute_chain": one(IMAGE, lambda x: L.Permute((2, 3, 1))(L.Reshape((5, 13, 11))(
        L.Permute((2, 1))(L.Reshape((143, 5))(x)))), quant=True),
    "flatten_dense": one(IMAGE, lambda x: L.Dense(7)(L.Flatten()(L.Conv2D(3, 3, strides=2)(x))), quant=True),
    "split_swap_concat": one(IMAGE, lambda x: K.concatenate(K.split(x, [2, 7], axis=1)[::-1], axis=1)),
    "expand_squeeze": one(SEQ, lambda x: K.squeeze(K.expand_dims(x, 2) * 2.0, 2)),
    # batch matmul with adjoints
    "matmul_adj_b": Spec(((7, 5), (9, 5)), lambda a, b: K.matmul(a, K.transpose(b, (0, 2, 1)))),
    "matmul_adj_a": Spec(((5, 7), (5, 9)), lambda a, b: K.matmul(K.transpose(a, (0, 2, 1)), b)),
    "dot_axes_1_1": Spec(((7, 5), (7, 9)), lambda a, b: L.Dot(axes=(1, 1))([a, b])),
    "dot_axes_2_normalize": Spec(((7, 5), (9, 5)), lambda a, b: L.Dot(axes=2, normalize=True)([a, b])),
    # padding and cropping
    "pad_reflect": one(IMAGE, lambda x: K.pad(x, ((0, 0), (2, 1), (1, 3), (0, 0)), mode="reflect"), quant=True),
    "pad_symmetric": one(IMAGE, lambda x: K.pad(x, ((0, 0), (3, 0), (2, 1), (0, 0)), mode="symmetric"), quant=True),
    "pad_constant": one(SEQ, lambda x: K.pad(x, ((0, 0), (1, 2), (0, 3)), constant_values=0.5)),
    "zero_pad2d_asym": one(IMAGE, lambda x: L.ZeroPadding2D(((1, 2), (3, 0)))(x), quant=True),
    "crop2d_asym": one(IMAGE, lambda x: L.Cropping2D(((1, 2), (3, 1)))(x), quant=True),
    "crop1d_pad1d": one(SEQ, lambda x: L.ZeroPadding1D((0, 3))(L.Cropping1D((2, 1))(x))),
    # even sizes: 'same' padding splits unevenly
    "conv2d_s2_same_even": one(EVEN, lambda x: L.Conv2D(5, 4, strides=2, padding="same")(x), quant=True),
    "depthwise_s21_same_even": one(EVEN, lambda x: L.DepthwiseConv2D((4, 3), strides=(2, 1), padding="same")(x),
                                    quant=True),
    "maxpool2d_23_s12_same_even": one(EVEN, lambda x: L.MaxPooling2D((2, 3), strides=(1, 2), padding="same")(x),
                                       quant=True),
    "avgpool2d_k4_s2_same_even": one(EVEN, lambda x: L.AveragePooling2D(4, strides=2, padding="same")(x),
                                      quant=True),
    "conv2d_t_k4_s2_same_even": one(EVEN, lambda x: L.Conv2DTranspose(5, 4, strides=2, padding="same")(x),
                                     quant=True),
    "conv2d_big_kernel_same": one((5, 7, 3), lambda x: L.Conv2D(4, (7, 9), padding="same")(x), quant=True),
    "conv1d_groups_s2": one((17, 6), lambda x: L.Conv1D(4, 3, strides=2, groups=2)(x)),
    "separable1d_s2_valid": one((17, 5), lambda x: L.SeparableConv1D(6, 4, strides=2, depth_multiplier=3)(x)),
    # channels_first layers
    "conv2d_channels_first": one((5, 13, 11), lambda x: L.Conv2D(7, 3, strides=2, padding="same",
                                                                 data_format="channels_first")(x), quant=True),
    "maxpool2d_channels_first": one((5, 13, 11), lambda x: L.MaxPooling2D(3, 2, padding="same",
                                                                          data_format="channels_first")(x)),
    "avgpool1d_channels_first": one((5, 17), lambda x: L.AveragePooling1D(3, 2, data_format="channels_first")(x)),
    "upsample_channels_first": one((5, 13, 11), lambda x: L.UpSampling2D((3, 2), data_format="channels_first")(x)),
    "global_avg_channels_first": one((5, 13, 11), lambda x: L.GlobalAveragePooling2D(
        data_format="channels_first")(x)),
    # 1-D and 3-D
    "conv3d_s2_same": one(VOLUME, lambda x: L.Conv3D(4, 3, strides=2, padding="same")(x)),
    "conv3d_t_s2": one(VOLUME, lambda x: L.Conv3DTranspose(4, (3, 2, 3), strides=(2, 1, 2), padding="same")(x)),
    "upsample3d": one(VOLUME, lambda x: L.UpSampling3D((2, 1, 3))(x)),
    "upsample1d": one(SEQ, lambda x: L.UpSampling1D(3)(x), quant=True),
    # more resizing and preprocessing
    "resize_bilinear_down": one(IMAGE, lambda x: K.image.resize(x, (6, 4)), quant=True),
    "resize_bilinear_up_odd": one(IMAGE, lambda x: K.image.resize(x, (19, 23))),
    "resize_pad_to_aspect": one(IMAGE, lambda x: K.image.resize(x, (9, 9), pad_to_aspect_ratio=True)),
    "center_crop": one(IMAGE, lambda x: L.CenterCrop(9, 7)(x), quant=True),
    "rescaling": one(IMAGE, lambda x: L.Rescaling(1 / 3, offset=0.2)(x)),
    "normalization": one(IMAGE, lambda x: L.Normalization(mean=[0.1, -0.2, 0.3, 0.0, 0.5],
                                                           variance=[1.0, 2.0, 0.5, 3.0, 0.25])(x), quant=True),
    # more axes
    "softmax_axes12": one(IMAGE, lambda x: L.Softmax(axis=(1, 2))(x), quant=True),
    "log_softmax_axis1": one(IMAGE, lambda x: K.log_softmax(x, axis=1), quant=True),
    "var_axis1": one(IMAGE, lambda x: K.var(x, axis=1)),
    "norm_axis2": one(IMAGE, lambda x: K.norm(x, axis=2)),
    "mean_axes13": one(IMAGE, lambda x: K.mean(x, axis=(1, 3)), quant=True),
    "any_axis1": one(IMAGE, lambda x: K.cast(K.any(x > 0.5, axis=1), "float32")),
    "transpose_rank5": one(IMAGE, lambda x: K.transpose(K.reshape(x, (-1, 13, 11, 1, 5)), (0, 4, 2, 1, 3)),
                            quant=True),
    "reshape_minus1": one(IMAGE, lambda x: L.Reshape((11, -1))(x)),
    "multi_output": one(IMAGE, lambda x: [x[:, 2:5] * 2.0, L.Permute((2, 1, 3))(x)]),
    # layouts that meet: a permuted tensor into a convolution, a reduction broadcast back, shrunk axes
    "permute_then_conv": one(IMAGE, lambda x: L.Conv2D(4, 3, strides=(1, 2))(L.Permute((2, 1, 3))(x)), quant=True),
    "permute_then_conv1d": one(SEQ, lambda x: L.Conv1D(6, 3, padding="same")(L.Permute((2, 1))(x)), quant=True),
    "center_by_mean_axis1": one(IMAGE, lambda x: x - K.mean(x, axis=1, keepdims=True), quant=True),
    "concat_with_permuted": one((11, 11, 5), lambda x: K.concatenate([x, L.Permute((2, 1, 3))(x)], axis=2)),
    "shrink_axis_slices": one(IMAGE, lambda x: [x[:, 3], x[:, :, 4, :], x[..., 2]]),
    "new_axis_slice": one(SEQ, lambda x: x[:, None, 2:9:3]),
    "squeeze_middle": one((13, 1, 5), lambda x: K.squeeze(x, 2) * 2.0),
    "stack_unstack": one(SEQ, lambda x: K.stack(K.unstack(x, axis=2)[::-1], axis=1)),
    "split_three_outputs": one(IMAGE, lambda x: K.split(x, [3, 4], axis=3)),
    "flip_axes12": one(IMAGE, lambda x: K.flip(x, axis=(1, 2)), quant=True),
    "broadcast_by_ones": one((1, 11, 1), lambda x: x * K.ones((13, 11, 5))),
    "take_along_axis1": one(SEQ, lambda x: K.take_along_axis(x, K.argsort(x, axis=1), axis=1)),
    "sort_last": one(SEQ, lambda x: K.sort(x, axis=-1)),
    "one_hot": one((9,), lambda i: K.one_hot(i, VOCAB) * 2.0, dtype="int32"),
    "extract_patches": one(IMAGE, lambda x: K.image.extract_patches(x, (3, 3), strides=(2, 2), padding="same")),
    "ops_pools": one(IMAGE, lambda x: K.max_pool(x, 3, 2, "same") + K.average_pool(x, (3, 3), (2, 2), "same"),
                      quant=True),
    "batchnorm_dense_seq": one(SEQ, lambda x: L.BatchNormalization()(L.Dense(7)(x))),
    "dense_after_conv2d": one(IMAGE, lambda x: L.Dense(4)(L.Conv2D(7, 3)(x))),
    "mean_all_then_dense": one(IMAGE, lambda x: L.Dense(3)(K.mean(x, axis=(1, 2)))),
    # common blocks: squeeze-excitation, channel shuffle, pixel shuffle, token mixing, spatial attention
    "squeeze_excite": one(IMAGE, lambda x: x * L.Conv2D(5, 1, activation="sigmoid")(L.Conv2D(3, 1, activation="relu")(
        L.GlobalAveragePooling2D(keepdims=True)(x))), quant=True),
    "channel_shuffle": one((13, 11, 6), lambda x: L.Reshape((13, 11, 6))(L.Permute((1, 2, 4, 3))(
        L.Reshape((13, 11, 2, 3))(x))), quant=True),
    "pixel_shuffle": one((13, 11, 12), lambda x: L.Reshape((26, 22, 3))(L.Permute((1, 3, 2, 4, 5))(
        L.Reshape((13, 11, 2, 2, 3))(x)))),
    "token_mixing": one(WIDE, lambda x: L.Permute((2, 1))(L.Dense(5)(L.Permute((2, 1))(x))), quant=True),
    "spatial_attention": one(IMAGE, lambda x: x * L.Conv2D(1, 7, padding="same", activation="sigmoid")(
        K.concatenate([K.mean(x, axis=3, keepdims=True), K.max(x, axis=3, keepdims=True)], axis=3)), quant=True),
    "flat_to_image_conv": one((715,), lambda x: L.Conv2D(4, 3, padding="same")(L.Reshape(IMAGE)(x))),
    "rows_as_sequence_conv1d": one(IMAGE, lambda x: L.Conv1D(6, 3, strides=2)(L.Reshape((13, 55))(x)), quant=True),
    "einsum_contract_axis1": one(SEQ, lambda x: L.EinsumDense("abc,bd->adc", output_shape=(7, 5))(x)),
    "batchnorm_axis2": one(IMAGE, lambda x: L.BatchNormalization(axis=2)(x)),
    "layernorm_axis2_image": one(IMAGE, lambda x: L.LayerNormalization(axis=2)(x)),
    "avgpool1d_k7_same_short": one((5, 3), lambda x: L.AveragePooling1D(7, strides=2, padding="same")(x)),
    "maxpool2d_13_same": one(IMAGE, lambda x: L.MaxPooling2D((1, 3), strides=1, padding="same")(x), quant=True),
    "resize_nearest_up_odd": one(IMAGE, lambda x: K.image.resize(x, (20, 17), interpolation="nearest")),
    "conv_t_then_crop": one(IMAGE, lambda x: L.Cropping2D(((1, 0), (0, 1)))(L.Conv2DTranspose(4, 4, strides=2)(x))),
}

__all__ = ["EVEN", "IMAGE", "K", "L", "LAYOUTS", "SEQ", "Spec", "VOCAB", "VOLUME", "WIDE", "conv_then", "one"]
