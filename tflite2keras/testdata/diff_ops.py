"""The differential suite's models as data (ops): normalizations, attention, activations, math.

As in :mod:`tflite2keras.testdata.diff_models` (which holds the layout models and the helpers),
one :class:`~tflite2keras.testdata.diff_models.Spec` per model; importing this module imports
neither Keras nor TensorFlow.

Example:
    >>> OPERATIONS["embedding"].dtype, OPERATIONS["mha_self"].quant
    ('int32', True)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .diff_models import (
    EVEN,
    IMAGE,
    SEQ,
    VOCAB,
    VOLUME,
    WIDE,
    K,
    L,
    Spec,
    conv_then,
    one,
)


def _mha(causal: bool) -> Callable[[Any], Any]:
    def build(x: Any) -> Any:
        return L.MultiHeadAttention(num_heads=3, key_dim=7, value_dim=5)(x, x, use_causal_mask=causal)

    return build


OPERATIONS: dict[str, Spec] = {
    # normalizations
    "layernorm_last": one(WIDE, lambda x: L.LayerNormalization()(x), quant=True),
    "layernorm_axis1": one(WIDE, lambda x: L.LayerNormalization(axis=1)(x), quant=True),
    "layernorm_axes12": one(IMAGE, lambda x: L.LayerNormalization(axis=(1, 2))(x)),
    "layernorm_no_center": one(WIDE, lambda x: L.LayerNormalization(center=False, epsilon=1e-3)(x)),
    "batchnorm_conv": one(IMAGE, lambda x: L.BatchNormalization()(L.Conv2D(7, 3)(x)), quant=True),
    "batchnorm_axis1": one(IMAGE, lambda x: L.BatchNormalization(axis=1)(x)),
    "groupnorm": one(IMAGE, conv_then(lambda: L.GroupNormalization(groups=7)), quant=True),
    "unit_norm_axis1": one(SEQ, lambda x: L.UnitNormalization(axis=1)(x)),
    # attention, embedding, sequences
    "mha_self": one(WIDE, _mha(False), quant=True),
    "mha_causal": one(WIDE, _mha(True)),
    "mha_cross": Spec(((7, 13), (11, 9)), lambda q, v: L.MultiHeadAttention(2, 5, output_shape=3)(q, v)),
    "embedding": one((9,), lambda i: L.Embedding(VOCAB, 7)(i), dtype="int32"),
    "embedding_pool_dense": one((9,), lambda i: L.Dense(3)(L.GlobalAveragePooling1D()(L.Embedding(VOCAB, 7)(i))),
                                 dtype="int32"),
    "dense_seq": one(SEQ, lambda x: L.Dense(7)(x), quant=True),
    "dense_seq_gelu_dense": one(SEQ, lambda x: L.Dense(3)(L.Dense(9, activation="gelu")(x)), quant=True),
    "conv1d_seq_dense": one(SEQ, lambda x: L.Dense(3)(L.Conv1D(7, 3, padding="same")(x))),
    # activations
    "act_gelu_exact": one(SEQ, lambda x: L.Activation("gelu")(3.0 * x)),
    "act_gelu_tanh": one(SEQ, lambda x: K.gelu(3.0 * x, approximate=True)),
    "act_swish": one(IMAGE, lambda x: L.Activation("swish")(3.0 * x), quant=True),
    "act_hard_sigmoid": one(SEQ, lambda x: L.Activation("hard_sigmoid")(4.0 * x)),
    "act_hard_swish": one(SEQ, lambda x: L.Activation("hard_swish")(4.0 * x), quant=True),
    "act_elu": one(SEQ, lambda x: L.ELU(alpha=0.7)(2.0 * x), quant=True),
    "act_leaky_relu": one(IMAGE, lambda x: L.LeakyReLU(negative_slope=0.17)(x), quant=True),
    "act_prelu_shared": one(IMAGE, conv_then(lambda: L.PReLU(shared_axes=(1, 2))), quant=True),
    "act_relu_options": one(SEQ, lambda x: L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2)(x)),
    "act_selu_softplus": one(SEQ, lambda x: K.softplus(L.Activation("selu")(2.0 * x))),
    # broadcasting binaries
    "multiply_bcast": Spec((IMAGE, (1, 1, 5)), lambda a, b: L.Multiply()([a, b])),
    "subtract_bcast": Spec((IMAGE, (1, 11, 1)), lambda a, b: K.subtract(a, b)),
    "subtract_rank3_from_rank4": Spec((IMAGE, (11, 1)), lambda a, b: K.subtract(a, b)),
    "maximum_bcast": Spec((IMAGE, (13, 1, 5)), lambda a, b: L.Maximum()([a, b])),
    "divide_where": one(SEQ, lambda x: K.where(x > 0, x / (2.0 + x), 0.3 * x)),
    "squared_diff_clip": Spec((SEQ, (1, 5)), lambda a, b: K.clip(K.square(a - b), 0.1, 1.5)),
    # repetition
    "tile_repeat": one(SEQ, lambda x: K.repeat(K.tile(x, (1, 1, 2)), 3, axis=1)),
    "repeat_vector": one((5,), lambda x: L.RepeatVector(3)(x)),
    # more matmul, attention
    "dot_axes_2_1": Spec(((7, 5), (5, 9)), lambda a, b: L.Dot(axes=(2, 1))([a, b])),
    "einsum_bik_bjk": Spec(((7, 5), (9, 5)), lambda a, b: K.einsum("bik,bjk->bij", a, b)),
    "matmul_const_left": one(SEQ, lambda x: K.matmul(np.linspace(-1, 1, 77, dtype="float32").reshape(7, 11), x)),
    "dense_rank4": one(IMAGE, lambda x: L.Dense(7)(x), quant=True),
    "dense_nobias_softmax": one(SEQ, lambda x: L.Dense(7, use_bias=False, activation="softmax")(x)),
    "attention_scaled": Spec(((7, 5), (11, 5)), lambda q, v: L.Attention(use_scale=True)([q, v])),
    "additive_attention": Spec(((7, 5), (11, 5)), lambda q, v: L.AdditiveAttention()([q, v])),
    "mha_2d_axes": one((5, 7, 6), lambda x: L.MultiHeadAttention(2, 3, attention_axes=(1, 2))(x, x)),
    # recurrent layers (unrolled: TF's converter cannot lower the TensorList of a loop)
    "lstm_sequences": one(SEQ, lambda x: L.LSTM(7, return_sequences=True, unroll=True)(x)),
    "lstm_last": one(SEQ, lambda x: L.LSTM(6, unroll=True)(x)),
    "gru_sequences": one(SEQ, lambda x: L.GRU(5, return_sequences=True, unroll=True)(x)),
    "simple_rnn": one(SEQ, lambda x: L.SimpleRNN(7, unroll=True)(x)),
    "bidirectional_lstm": one(SEQ, lambda x: L.Bidirectional(L.LSTM(4, return_sequences=True, unroll=True))(x)),
    # gathers, top-k
    "take_2d_indices": one(SEQ, lambda x: K.take(x, [[0, 4], [10, -2]], axis=1)),
    "top_k_values": one(SEQ, lambda x: K.top_k(x, 3)[0]),
    # element-wise math
    "math_unary": one(SEQ, lambda x: K.sin(x) + K.cos(2 * x) + K.exp(-K.abs(x)) + K.sqrt(K.abs(x) + 0.1)),
    "floor_round_sign": one(SEQ, lambda x: K.floor(3 * x) + 0.5 * K.round(2.3 * x) + K.sign(x)),
    "rsqrt_tanh": one(SEQ, lambda x: K.rsqrt(K.square(x) + 0.5) * K.tanh(2 * x), quant=True),
    "pow_mod": one(SEQ, lambda x: K.power(K.abs(x) + 0.5, 1.7) + K.mod(3 * x, 0.7)),
    "compare_cast": one(SEQ, lambda x: K.cast(x > 0.2, "float32") * x + K.cast(K.less_equal(x, -0.3), "float32")),
    # Keras's newer activations
    "act_glu_celu": one(SEQ, lambda x: K.celu(K.glu(K.concatenate([x, x * 0.5], axis=-1)), alpha=0.7)),
    "act_log_sigmoid_silu": one(SEQ, lambda x: K.log_sigmoid(3 * x) + K.silu(2 * x), quant=True),
    "act_shrinks": one(SEQ, lambda x: K.soft_shrink(x, 0.3) + K.hard_shrink(x, 0.4) + K.tanh_shrink(x)),
    "act_squareplus_sparse_plus": one(SEQ, lambda x: K.squareplus(2 * x, b=3) + K.sparse_plus(2 * x)),
    "act_softsign_mish": one(SEQ, lambda x: L.Activation("softsign")(3 * x) * L.Activation("mish")(2 * x)),
    "act_exponential_relu6": one(SEQ, lambda x: K.exp(x) * K.relu6(5 * x)),
    "act_hard_tanh_threshold": one(SEQ, lambda x: K.hard_tanh(2 * x) + K.threshold(x, 0.2, -0.5)),
    "act_log_softmax_last": one(SEQ, lambda x: L.Activation("log_softmax")(3 * x), quant=True),
    # more layers: einsum-dense, image ops, preprocessing, 3-D and 1-D globals
    "einsum_dense_seq": one(SEQ, lambda x: L.EinsumDense("abc,cd->abd", output_shape=(None, 7), bias_axes="d")(x),
                            quant=True),
    "einsum_dense_image": one(IMAGE, lambda x: L.EinsumDense("abcd,de->abce", output_shape=(None, None, 3))(x)),
    "rgb_to_grayscale": one(EVEN, lambda x: K.image.rgb_to_grayscale(x), quant=True),
    "l2_normalize_axis1": one(SEQ, lambda x: K.normalize(x, axis=1)),
    "moments_axis2": one(IMAGE, lambda x: K.concatenate(K.moments(x, axes=[2], keepdims=True), axis=2)),
    "discretization": one(SEQ, lambda x: L.Discretization(bin_boundaries=[-0.5, 0.0, 0.25, 0.7])(x)),
    "masking": one(SEQ, lambda x: L.Masking(0.0)(K.where(x > 0.6, 0.0, x))),
    "conv1x1_s2_tanh": one(IMAGE, lambda x: L.Conv2D(6, 1, strides=2, activation="tanh")(x), quant=True),
    "conv_t_relu_nobias": one(IMAGE, lambda x: L.Conv2DTranspose(5, 3, strides=2, activation="relu",
                                                                 use_bias=False)(x), quant=True),
    "depthwise_bn_relu6": one(IMAGE, lambda x: L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3)(x))),
                              quant=True),
    "global_max1d_keepdims": one(SEQ, lambda x: L.GlobalMaxPooling1D(keepdims=True)(x)),
    "global_avg3d": one(VOLUME, lambda x: L.GlobalAveragePooling3D()(x)),
    "pad_crop3d": one(VOLUME, lambda x: L.Cropping3D(((1, 0), (0, 2), (1, 1)))(L.ZeroPadding3D((1, 0, 2))(x))),
    "gather_last_negative": one(IMAGE, lambda x: K.take(x, [4, 0, -3], axis=-1), quant=True),
    "split_last_negative": one(IMAGE, lambda x: K.split(x, [2], axis=-1)[1] * 2.0),
    "concat_constant": one(SEQ, lambda x: K.concatenate([x, K.ones_like(x[:, :2]) * 0.5], axis=1)),
    # more ops: RMS norm, fused attention, axis moves, differences, more math
    "rms_norm_last": one(WIDE, lambda x: L.RMSNormalization()(x), quant=True),
    "dot_product_attention": Spec(((7, 3, 5), (11, 3, 5)), lambda q, k: K.dot_product_attention(q, k, k * 0.5)),
    "dot_product_attention_causal": one((9, 3, 5), lambda x: K.dot_product_attention(x, x, x, is_causal=True)),
    "swapaxes_12": one(IMAGE, lambda x: K.swapaxes(x, 1, 2) * 2.0),
    "moveaxis_31": one(IMAGE, lambda x: K.moveaxis(x, 3, 1) + 1.0),
    "diff_axis1": one(SEQ, lambda x: K.diff(x, axis=1), quant=True),
    "tril_triu": one((11, 11), lambda x: K.tril(x, -1) + 0.5 * K.triu(x, 2)),
    "pad_images": one(IMAGE, lambda x: K.image.pad_images(x, 1, 3, target_height=17, target_width=16)),
    "crop_images": one(IMAGE, lambda x: K.image.crop_images(x, 2, 1, target_height=9, target_width=7)),
    "atan2_hypot": Spec((SEQ, SEQ), lambda a, b: K.arctan2(a, b + 1.5) + K.hypot(a, b)),
    "floor_divide_float": one(SEQ, lambda x: K.floor_divide(3 * x, 0.7)),
    "log_family": one(SEQ, lambda x: K.log2(K.abs(x) + 0.1) + K.log10(K.abs(x) + 0.2) + K.expm1(x) + K.log1p(x + 1)),
    # activations TFLite fuses into the op before them
    "add_relu_fused": Spec((IMAGE, IMAGE), lambda a, b: L.ReLU()(L.Add()([a, b]))),
    "sub_relu6_fused": Spec((SEQ, (1, 5)), lambda a, b: K.relu6(4 * (a - b))),
    "mul_clip_n1_fused": Spec((SEQ, SEQ), lambda a, b: K.clip(3 * a * b, -1.0, 1.0)),
    "conv_clip_n1_fused": one(IMAGE, lambda x: K.clip(L.Conv2D(6, 3)(x), -1.0, 1.0), quant=True),
    "pool_relu_fused": one(IMAGE, lambda x: L.ReLU()(L.AveragePooling2D(3, 2, padding="same")(x - 0.2)), quant=True),
    "dense_relu6_2d": one((5,), lambda x: L.Dense(7, activation="relu6")(3 * x), quant=True),
}

__all__ = ["OPERATIONS"]
