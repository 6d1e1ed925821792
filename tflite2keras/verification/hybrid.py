"""Dynamic-range ("hybrid") files: int8 weights, float activations.

TFLite's hybrid kernels quantize each op's float input to int8 on the fly and compute in
integers, so they differ from float arithmetic by about 1% of each layer's output. A converted
model computes in float with the weights dequantized exactly (``scale * (q - zero_point)``).
:func:`dequantized_weights` writes the same file with those float weights, which the stock
kernels then run in float: ``verify`` compares a hybrid file's conversion against that file, and
says so in its report.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.verification.hybrid import is_hybrid
    >>> is_hybrid(read(tiny.tflite()))
    False
"""

from __future__ import annotations

import numpy as np

from ..tflite.model import TFLiteModel
from ..tflite.schema import pack, unpack

#: Weight types a hybrid kernel reads (the tensor has quantization but the op computes in float).
WEIGHT_TYPES = ("INT8", "UINT8")


def is_hybrid(tfl: TFLiteModel) -> bool:
    """True when an op with float input and output reads a quantized constant directly (not through
    DEQUANTIZE): TFLite's dynamic-range quantization."""
    for op in tfl.operators:
        if op.opcode == "DEQUANTIZE" or not op.outputs:
            continue
        out = tfl.tensor(op.outputs[0])
        if not out.dtype.startswith("FLOAT"):
            continue
        for index in op.inputs:
            if index >= 0 and tfl.is_constant(index) and tfl.tensor(index).dtype in WEIGHT_TYPES \
                    and tfl.tensor(index).quantization is not None:
                return True
    return False


def dequantized_weights(tfl: TFLiteModel) -> bytes:
    """The file with every quantized int8/uint8 constant of subgraph 0 stored as float32."""
    from ai_edge_litert import schema_py_generated as schema

    model = unpack(tfl.data)
    graph = model.subgraphs[0]
    for tensor in tfl.tensors:
        if tensor.dtype not in WEIGHT_TYPES or tensor.quantization is None:
            continue
        if not tfl.is_constant(tensor.index) or tfl.source_of(tensor.index) is not tensor:
            continue
        value = np.asarray(tfl.constant(tensor.index), np.float32)
        target = graph.tensors[tensor.index]
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(value.astype("<f4").tobytes(), np.uint8)
        model.buffers.append(buffer)
        target.buffer = len(model.buffers) - 1
        target.type = schema.TensorType.FLOAT32
        target.quantization = None
    return pack(model)
