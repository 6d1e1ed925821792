"""Files with several signatures: which subgraph each runs, and a file whose subgraph 0 is another's.

Every verb builds subgraph 0. :func:`read_signature` gives the copy of a file in which the
subgraph of one signature comes first, so that ``convert`` builds it and ``verify`` runs the
interpreter on it.

Example:
    >>> from tflite2keras import read
    >>> from tflite2keras.testdata import tiny
    >>> signature_subgraphs(read(tiny.tflite()))   # traced from one function: no signatures
    {}
"""

from __future__ import annotations

import tflite

from ..errors import InvalidArgumentError, InvalidModelError
from .model import Source, TFLiteModel
from .reader import _parse, read
from .schema import pack, unpack


def signature_subgraphs(tfl: TFLiteModel) -> dict[str, int]:
    """Signature key -> the index of the subgraph it runs (as :attr:`TFLiteModel.signature_defs` keys it)."""
    root = tflite.Model.GetRootAs(tfl.data, 0)
    return {(d.SignatureKey() or b"").decode() or f"signature_{i}": int(d.SubgraphIndex())
            for i, d in ((i, root.SignatureDefs(i)) for i in range(len(tfl.signature_defs)))}


def read_signature(source: Source, key: str) -> TFLiteModel:
    """The model of signature ``key``: a copy of the file whose subgraph 0 is the one ``key`` runs.

    Every verb builds subgraph 0, so ``convert(read_signature(path, key))`` builds signature
    ``key`` and ``verify(model, read_signature(path, key))`` runs the interpreter on it.

    Raises:
        InvalidArgumentError: the file has no signature ``key``; the message lists those it has.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> read_signature(tiny.tflite(), "serving_default")   # traced from one function: no signatures
        Traceback (most recent call last):
        ...
        tflite2keras.errors.InvalidArgumentError: <bytes> has no signature 'serving_default'; expected one of []
    """
    tfl = read(source)
    graphs = signature_subgraphs(tfl)
    if key not in graphs:
        raise InvalidArgumentError(f"{tfl.source} has no signature {key!r}; expected one of {sorted(graphs)}")
    index = graphs[key]
    if index == 0:
        return tfl
    if not 0 < index <= len(tfl.subgraphs):
        raise InvalidModelError(f"{tfl.source}: signature {key!r} runs subgraph {index}, but the file has "
                                f"{len(tfl.subgraphs) + 1} subgraphs")
    return _parse(_subgraph_first(tfl.data, index), f"{tfl.source}[{key}]")


def _subgraph_first(data: bytes, index: int) -> bytes:
    """``data`` with subgraphs 0 and ``index`` swapped, and every reference to them (signatures,
    control-flow options such as ``WHILE``'s body) renumbered."""

    swap = {0: index, index: 0}
    model = unpack(data)
    model.subgraphs[0], model.subgraphs[index] = model.subgraphs[index], model.subgraphs[0]
    for graph in model.subgraphs:
        for op in graph.operators or ():
            for options in (op.builtinOptions, getattr(op, "builtinOptions2", None)):
                for name, value in vars(options).items() if options is not None else ():
                    if name.endswith("SubgraphIndex") and value in swap:
                        setattr(options, name, swap[value])
    for signature in model.signatureDefs or ():
        signature.subgraphIndex = swap.get(signature.subgraphIndex, signature.subgraphIndex)
    return pack(model)
