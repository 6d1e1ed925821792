"""Small registered Keras layers for TFLite ops that have no exact standard layer.

Every layer here is serializable (``get_config``) and registered under the
``tflite2keras`` package, so models that use them reload with
``keras.saving.load_model(path, safe_mode=True)``. Importing this package imports Keras.

Example:
    >>> import keras
    >>> from tflite2keras.layers import ChannelPadding
    >>> tuple(ChannelPadding(pad_after=3)(keras.ops.zeros((1, 4, 4, 5))).shape)
    (1, 4, 4, 8)
"""

from __future__ import annotations

from .activation import PReLU
from .detection import NonMaxSuppression, SSDDecode
from .keypoints import HeatmapKeypoints
from .math import Binary, Cast, Compare, Select, Unary
from .mediapipe import Landmarks2TransformMatrix, TransformLandmarks, TransformTensorBilinear
from .padding import ChannelPadding
from .reduce import Gather, Pack, Reduce
from .quantize import Dequantize, FakeQuant, Quantize
from .reshape import BatchReshape
from .preprocess import ImagePreprocess, ProjectToImage
from .resize import Resize
from .tensor_ops import AddConstant, DepthToSpace, MultiplyConstant, StridedSlice

__all__ = [
    "BatchReshape", "Dequantize", "FakeQuant", "Quantize",
    "Binary", "Cast", "Compare", "Gather", "Pack", "Reduce", "Select", "Unary",
    "HeatmapKeypoints", "ImagePreprocess", "ProjectToImage",
    "AddConstant", "ChannelPadding", "DepthToSpace", "Landmarks2TransformMatrix", "MultiplyConstant",
    "NonMaxSuppression", "PReLU", "Resize", "SSDDecode", "StridedSlice", "TransformLandmarks", "TransformTensorBilinear",
]
