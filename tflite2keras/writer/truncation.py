"""Cut a TFLite model down to the ops that compute chosen tensors.

The interpreter cannot run a model with custom ops it does not know (MediaPipe's
``Landmarks2TransformMatrix`` ...), but it can run the part before them. ``truncate``
keeps the ops those tensors depend on and makes the tensors the model's outputs, so the
part can be verified on its own.

For ``face_landmark_with_attention.tflite``, whose custom ops the interpreter lacks,
``examples/convert_any.py`` keeps the part before them::

    custom = [op for op in model.operators if op.is_custom]
    prefix = t2k.truncate(model, inputs_before(model, custom))

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> from tflite2keras.writer.truncation import inputs_before
    >>> model = t2k.read(tiny.tflite())
    >>> prefix = t2k.truncate(model, inputs_before(model, [model.operators[2]]))  # cut before op 2
    >>> [op.opcode for op in t2k.read(prefix).operators]
    ['CONV_2D', 'MAX_POOL_2D']
    >>> t2k.verify(t2k.convert(prefix), prefix, samples=1).ok
    True
"""

from __future__ import annotations

from typing import Sequence

from ..errors import InvalidArgumentError
from ..tflite.model import Operator, Source, TFLiteModel
from ..tflite.reader import read
from ..tflite.schema import pack, unpack


def needed_ops(tfl: TFLiteModel, tensors: Sequence[int]) -> list[int]:
    """Indices of the ops that the given tensors depend on, in graph order."""
    keep: set[int] = set()
    stack = list(tensors)
    while stack:
        op = tfl.producer(stack.pop())
        if op is not None and op.index not in keep:
            keep.add(op.index)
            stack += [t for t in op.inputs if t >= 0]
    return sorted(keep)


def inputs_before(tfl: TFLiteModel, ops: Sequence[Operator]) -> list[int]:
    """The tensors that ``ops`` read from ops running before the first of them.

    Passed to :func:`truncate`, they cut a model just before ops the interpreter cannot run.
    """
    first = min(op.index for op in ops)
    return sorted({t for op in ops for t in op.inputs
                   if t >= 0 and (producer := tfl.producer(t)) is not None and producer.index < first})


def truncate(source: Source, outputs: Sequence[int | str]) -> bytes:
    """A copy of the model that computes only ``outputs`` (tensor indices or names).

    Args:
        source: a ``.tflite`` path, its bytes, or a :class:`TFLiteModel`.
        outputs: the tensors that become the new model's outputs, in this order.

    Returns:
        The new model's bytes (subgraph 0 only; buffers are kept as they are).

    Raises:
        InvalidArgumentError: no outputs, or an output is a constant or a graph input.
    """
    tfl = read(source)
    indices = [tfl.tensor(t).index for t in outputs]
    if not indices:
        raise InvalidArgumentError("truncate needs at least one output tensor")
    for index in indices:
        if tfl.producer(index) is None:
            raise InvalidArgumentError(f"tensor {index} {tfl.tensor(index).name!r} is not computed by any op")
    keep = needed_ops(tfl, indices)
    model = unpack(tfl.data)
    graph = model.subgraphs[0]
    graph.operators = [graph.operators[i] for i in keep]
    graph.outputs = indices
    model.subgraphs = [graph]
    model.signatureDefs = []
    return pack(model)
