"""Names in a TFLite file: the Keras layer scopes inside tensor names, cleaned for Keras.

The converter names a fused tensor ``model_1/model/conv2d_4/BiasAdd;...``: the layer scope
(``conv2d_4``) names the Keras layer a weight op came from. Matching (``weights/``) pairs layers
by these names; conversion names its layers with them.

Example:
    >>> scope_names("model_1/model/conv2d_4/Conv2D")
    ['conv2d_4', 'model', 'model_1']
    >>> sanitize("stream_6/states:0")
    'stream_6_states_0'
"""

from __future__ import annotations

import heapq
import re

from .model import Operator, TFLiteModel

#: Trailing TF op names after a layer scope (CamelCase, or a few lowercase ones); never layer names.
_OP_SUFFIX = re.compile(r"^([A-Z]\w*|(add|mul|sub|depthwise|concat|resize|truediv|paddings|resource|"
                        r"convolution|batchnorm|mean|split)\d*|\w*_dequantize)$")



def scope_names(tensor_name: str) -> list[str]:
    """Candidate Keras layer names in a TFLite tensor name, innermost and last-fused first.

    Example:
        >>> scope_names("Neg_1;model_1/model/p_re_lu/Relu_1;model_1/model/p_re_lu/mul")[0]
        'p_re_lu'
        >>> scope_names("conv2d_1/Kernel_dequantize")[0]
        'conv2d_1'
    """
    out: list[str] = []
    for part in reversed(tensor_name.split(";")):
        parts = [p for p in part.split("/") if p]
        while len(parts) > 1 and _OP_SUFFIX.match(parts[-1]):
            parts = parts[:-1]
        for component in reversed(parts):
            if component not in out:
                out.append(component)
    return out


def sanitize(name: str) -> str:
    """A TFLite name as a valid Keras layer name (``serving:0`` -> ``serving_0``).

    Example:
        >>> sanitize("StatefulPartitionedCall_1:0")
        'StatefulPartitionedCall_1_0'
    """
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name).strip("_")


def input_name(tensor_name: str) -> str:
    """The Keras input name a TF-exported input tensor carries (``serving_default_x:0`` -> ``x``).

    Example:
        >>> input_name("serving_default_image:0"), input_name("input_1")
        ('image', 'input_1')
    """
    if tensor_name.startswith("serving_default_") and tensor_name.endswith(":0"):
        return tensor_name[len("serving_default_"):-2]
    return tensor_name


def op_names(model: TFLiteModel, op: Operator, weight_slots: tuple[int, ...]) -> list[str]:
    """Candidate layer names of a weight op: from its weights (bias excluded), then its output.

    Names are given as valid Keras layer names (see :func:`sanitize`).
    """
    names: list[str] = []
    tensors = [model.source_of(op.inputs[s]).name for s in weight_slots
               if op.has_input(s) and model.is_constant(op.inputs[s])]
    tensors += [model.tensor(t).name for t in op.outputs]
    for name in tensors:
        names += [n for n in map(sanitize, scope_names(name)) if n and n not in names]
    return names


def assign_names(candidates: dict[int, list[str]]) -> dict[int, str]:
    """Give each op one of its candidate names, each name to one op, rarest names first.

    A fused, deduplicated constant names several layers, so ``depthwise_conv2d_20`` may be
    a candidate of three ops while only one of them is that layer. Pairs are taken in
    order of (how many unnamed ops still list the name, its rank in the op's list, op
    index), so every op first gets a name only it carries.

    Example:
        >>> assign_names({178: ["dw_20", "dw_15"], 181: ["dw_20", "dw_16"], 236: ["dw_20", "bn_55"]})
        {178: 'dw_15', 181: 'dw_16', 236: 'dw_20'}
    """
    holders: dict[str, dict[int, int]] = {}  # name -> {op still unnamed that lists it: its rank there}
    for op, names in candidates.items():
        for rank, name in enumerate(names):
            holders.setdefault(name, {}).setdefault(op, rank)
    by_rank = {name: sorted((rank, op) for op, rank in ops.items()) for name, ops in holders.items()}
    first = dict.fromkeys(by_rank, 0)  # by_rank[name][:first[name]] are named already
    out: dict[int, str] = {}

    def entry(name: str) -> tuple[int, int, int, str] | None:
        """The name's heap key now: its live holder count and its best (rank, op) holder."""
        ranked, i = by_rank[name], first[name]
        while i < len(ranked) and ranked[i][1] in out:
            i += 1
        first[name] = i
        return (len(holders[name]), *ranked[i], name) if i < len(ranked) else None

    # One heap entry per name, pushed again whenever its holders change; an entry that no longer
    # matches the name's state is stale (a newer one was pushed when it changed) and is skipped.
    heap = [key for key in map(entry, holders) if key is not None]
    heapq.heapify(heap)
    taken: set[str] = set()
    while heap:
        key = heapq.heappop(heap)
        name = key[3]
        if name in taken or key != entry(name):
            continue
        op = key[2]
        out[op] = name
        taken.add(name)
        for other in candidates[op]:  # names this op gave up are now rarer for their other holders
            if holders[other].pop(op, None) is not None and other not in taken:
                fresh = entry(other)
                if fresh is not None:
                    heapq.heappush(heap, fresh)
    return dict(sorted(out.items()))
