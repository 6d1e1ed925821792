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

from .activation import L2Normalize, PReLU
from .binary import Binary, Compare, Select
from .detection import NonMaxSuppression, SSDDecode
from .fixed import FixedReshape, FixedTranspose
from .index import BatchGather, Bucketize, Gather, GatherND, OneHot
from .keypoints import HeatmapKeypoints
from .lstm_integer import IntegerSequenceLSTM
from .math import Cast, Unary
from .matmul import BatchMatMul
from .matrix import MatrixDiag, MatrixSetDiag, ReverseSequence
from .mediapipe import (
    Landmarks2TransformMatrix,
    TransformLandmarks,
    TransformTensorBilinear,
)
from .padding import ChannelPadding, Pad
from .pool import L2Pooling2D, LocalResponseNormalization
from .preprocess import ImagePreprocess, ProjectToImage
from .quantize import Dequantize, FakeQuant, Quantize, Saturate
from .reduce import ArgReduce, CumSum, Pack, Reduce, TopK
from .reshape import BatchReshape
from .resize import Resize
from .scatter import ScatterND, UnsortedSegment
from .sequence import SequenceLSTM
from .shape import BroadcastTo, Fill, Range, SliceUpdate, Split, Tile, Unstack
from .signal import RFFT2D, ComplexPart
from .space import BatchToSpace, SpaceToBatch
from .svdf import SVDF
from .tensor_ops import (
    AddConstant,
    DepthToSpace,
    MultiplyConstant,
    SpaceToDepth,
    StridedSlice,
)

__all__ = [
    "BroadcastTo", "Fill", "MatrixDiag", "MatrixSetDiag", "Pad", "Range", "ReverseSequence", "SliceUpdate",
    "SpaceToDepth", "Split", "Tile", "Unstack",
    "ComplexPart", "RFFT2D", "SequenceLSTM", "IntegerSequenceLSTM", "SVDF",
    "BatchMatMul", "BatchToSpace", "L2Pooling2D", "LocalResponseNormalization", "SpaceToBatch",
    "BatchReshape", "FixedReshape", "FixedTranspose", "Dequantize", "FakeQuant", "Quantize", "Saturate",
    "Binary", "Cast", "Compare", "Gather", "Pack", "Reduce", "Select", "Unary",
    "ArgReduce", "BatchGather", "Bucketize", "CumSum", "GatherND", "OneHot", "ScatterND", "TopK", "UnsortedSegment",
    "HeatmapKeypoints", "ImagePreprocess", "ProjectToImage",
    "AddConstant", "ChannelPadding", "DepthToSpace", "Landmarks2TransformMatrix", "MultiplyConstant",
    "L2Normalize", "NonMaxSuppression", "PReLU", "Resize", "SSDDecode", "StridedSlice", "TransformLandmarks", "TransformTensorBilinear",
]
