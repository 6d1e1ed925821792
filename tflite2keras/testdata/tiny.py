"""A tiny model built on the spot, for examples and doctests: no download, a second to build.

:func:`keras_model` is a three-layer Keras model (a 3x3 convolution with ReLU, a 2x2
max-pool, a 1x1 convolution) on 8x8 RGB images; :func:`tflite` converts it with
``tf.lite.TFLiteConverter`` into the bytes of a three-op TFLite model. Both import
TensorFlow.

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> [op.opcode for op in t2k.read(tiny.tflite()).operators]
    ['CONV_2D', 'MAX_POOL_2D', 'CONV_2D']
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: The input shape, batch excluded.
SHAPE = (8, 8, 3)


def keras_model(seed: int = 0, pool_size: int = 2) -> Any:
    """The Keras model, its weights drawn with ``seed``; ``pool_size`` changes the pool's window.

    Example:
        >>> [layer.name for layer in keras_model().layers]
        ['image', 'conv', 'pool', 'head']
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPE, name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer="random_uniform",
                            name="conv")(inputs)
    x = keras.layers.MaxPooling2D(pool_size, strides=2, name="pool")(x)
    outputs = keras.layers.Conv2D(2, 1, bias_initializer="random_uniform", name="head")(x)
    return keras.Model(inputs, outputs, name="tiny")


@lru_cache(maxsize=4)
def tflite(seed: int = 0) -> bytes:
    """:func:`keras_model` with ``seed`` as TFLite bytes (batch 1, float32); cached per seed."""
    import tensorflow as tf

    model = keras_model(seed)
    function = tf.function(model).get_concrete_function(tf.TensorSpec((1, *SHAPE), tf.float32))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([function]).convert())


__all__ = ["SHAPE", "keras_model", "tflite"]
