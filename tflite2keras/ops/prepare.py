"""The options the interpreter's Prepare rejects, rejected by ``convert`` before any converter runs.

A corrupt but readable file (a stride of 0, a padding enum out of range, an axis of 2**31 - 1, a
``CONV_2D`` carrying ``Pool2DOptions``) must not reach Keras, which would fail with its own
errors or, worse, build a model the interpreter never runs. :func:`validate` checks every op:

- its options table is of the type its opcode reads (:func:`options_type`): the interpreter reads
  a table of another type as absent, and the converters would read the other table's fields; and
  a convolution or pool has a table at all (without one the interpreter reads its strides as 0);
- every option named in :data:`FIELD_RULES` (strides, dilations and window sizes at least 1,
  enums a known value, an ``axis`` within the tensors' rank), for every op;
- its number of inputs (:data:`INPUT_COUNTS`: an ADD reads two);
- the checks particular to the op, on its spec (``OpSpec.prepare``: :func:`count_of` and
  :func:`window_fits` are two; the tensor ranks and shapes are :mod:`.prepare_shapes`'), up to
  the first that rejects.

Each failure raises :class:`~tflite2keras.errors.InvalidModelError` naming the op index, its
opcode, the option, its value and what the interpreter expects.

Example:
    >>> from tflite2keras.tflite.model import Operator
    >>> op = Operator(3, "MAX_POOL_2D", 1, (0,), (1,), {"stride_h": 0, "stride_w": 2, "padding": "SAME"})
    >>> list(field_rejections(op, None))
    [('stride_h', 0, 'an integer >= 1')]
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Callable

import tflite

from ..errors import InvalidModelError
from ..tflite.model import Operator, TFLiteModel
from ..tflite.options import _ENUM_FIELDS, has_fields, snake_case
from .registry import PrepareCheck, Rejection, find

#: Opcodes whose options type is not their name in CamelCase (``MAX_POOL_2D`` reads ``Pool2DOptions``).
OPTIONS_TYPES: dict[str, str] = {
    **dict.fromkeys(("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"), "Pool2DOptions"),
    **dict.fromkeys(("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL"),
                    "ReducerOptions"),
    **dict.fromkeys(("MAXIMUM", "MINIMUM"), "MaximumMinimumOptions"),
    "L2_NORMALIZATION": "L2NormOptions",
    "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "BIDIRECTIONAL_SEQUENCE_RNN": "BidirectionalSequenceRNNOptions",
}


def _counts(arity: int | tuple[int, int | None], *opcodes: str) -> dict[str, tuple[int, int | None]]:
    return dict.fromkeys(opcodes, arity if isinstance(arity, tuple) else (arity, arity))


#: opcode -> (fewest, most) inputs the interpreter's Prepare accepts (``-1`` absent inputs count;
#: None: no limit). Ops not listed are not checked.
INPUT_COUNTS: dict[str, tuple[int, int | None]] = {
    **_counts(1, "ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "HARD_SWISH", "LEAKY_RELU", "LOG", "LOGISTIC",
              "LOG_SOFTMAX", "NEG", "RELU", "RELU6", "RELU_0_TO_1", "RELU_N1_TO_1", "ROUND", "RSQRT", "SIN", "SQRT",
              "SQUARE", "TANH", "SOFTMAX", "L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION", "MAX_POOL_2D",
              "AVERAGE_POOL_2D", "L2_POOL_2D", "SQUEEZE", "SHAPE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "SIGN",
              "LOGICAL_NOT", "ZEROS_LIKE", "QUANTIZE", "DEQUANTIZE", "CAST", "DENSIFY", "UNPACK", "MATRIX_DIAG",
              "Landmarks2TransformMatrix"),
    **_counts(2, "ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "FLOOR_MOD", "MAXIMUM", "MINIMUM", "POW",
              "SQUARED_DIFFERENCE", "PRELU", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL",
              "LOGICAL_AND", "LOGICAL_OR", "ATAN2", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "MEAN", "SUM",
              "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL", "ARG_MAX", "ARG_MIN",
              "EXPAND_DIMS", "GATHER", "GATHER_ND", "TILE", "BATCH_MATMUL", "BROADCAST_TO", "TRANSPOSE", "MIRROR_PAD",
              "SPLIT", "CUMSUM", "TOPK_V2", "REVERSE_V2", "TransformTensorBilinear", "TransformLandmarks"),
    **_counts(3, "SELECT", "SELECT_V2", "SLICE", "SPLIT_V", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "PADV2",
              "Convolution2DTransposeBias"),
    **_counts((2, 3), "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "PAD"),
    **_counts((3, 4), "TRANSPOSE_CONV"),
    **_counts((1, 2), "RESHAPE"),
    **_counts(4, "STRIDED_SLICE"),
    **_counts((1, None), "CONCATENATION", "PACK", "ADD_N"),
}


def input_count(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """The op has as many inputs as :data:`INPUT_COUNTS` says its kernel takes."""
    low, high = INPUT_COUNTS.get(op.opcode, (0, None))
    if not low <= len(op.inputs) <= (len(op.inputs) if high is None else high):
        want = str(low) if low == high else f"{low} to {'any number' if high is None else high}"
        yield "number of inputs", len(op.inputs), want


def input_shape(slot: int, shape: tuple[int, ...]) -> PrepareCheck:
    """A check that input ``slot`` has ``shape`` (``RESIZE_BILINEAR``'s size is 2 values)."""
    def check(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
        if model is not None and op.has_input(slot) and model.tensor(op.inputs[slot]).shape != shape:
            yield f"input {slot} shape", model.tensor(op.inputs[slot]).shape, str(shape)
    return check


def _at_least_one(value: Any, op: Operator, model: TFLiteModel | None) -> bool:
    return isinstance(value, int) and value >= 1


def _known_enum(value: Any, op: Operator, model: TFLiteModel | None) -> bool:
    return isinstance(value, str)  # options.decode names the values it knows; others stay integers


def _padding(value: Any, op: Operator, model: TFLiteModel | None) -> bool:
    return value in ("SAME", "VALID")


def _axis(value: Any, op: Operator, model: TFLiteModel | None) -> bool:
    """Within the rank of input 0 or of output 0, whichever is larger (``PACK`` adds an axis)."""
    if model is None:
        return True
    ranks = [len(model.tensor(t).shape) for t in (op.inputs[:1] + op.outputs[:1]) if t >= 0]
    rank = max(ranks, default=0)
    return isinstance(value, int) and -max(rank, 1) <= value < max(rank, 1)


#: option name -> (test(value, op, model), what the interpreter expects), for every op's options.
FIELD_RULES: dict[str, tuple[Callable[[Any, Operator, TFLiteModel | None], bool], str]] = {
    **dict.fromkeys(("stride_h", "stride_w", "stride_d", "dilation_h_factor", "dilation_w_factor",
                     "dilation_d_factor", "filter_height", "filter_width"), (_at_least_one, "an integer >= 1")),
    **dict.fromkeys((snake_case(name) for name in _ENUM_FIELDS), (_known_enum, "a value of its enum")),
    "padding": (_padding, "SAME or VALID"),
    "axis": (_axis, "an axis within the rank of its tensors"),
}


@lru_cache(maxsize=None)
def _options_classes() -> dict[str, str]:
    """Upper-case name without underscores -> options class name, for both options unions."""
    names = [n for union in (tflite.BuiltinOptions, tflite.BuiltinOptions2) for n in vars(union)
             if not n.startswith("_") and n != "NONE"]
    return {n.removesuffix("Options").upper(): n for n in names}


@lru_cache(maxsize=None)
def _second_union() -> frozenset[str]:
    """The options classes of ``BuiltinOptions2`` (the StableHLO ops'); unknown types count as the first's."""
    return frozenset(n for n in vars(tflite.BuiltinOptions2) if not n.startswith("_") and n != "NONE")


@lru_cache(maxsize=None)
def _has_strides(name: str) -> bool:
    """True for an options class with strides (convolutions, pools)."""
    cls = getattr(tflite, name, None)
    return cls is not None and hasattr(cls, "StrideH")


def options_type(opcode: str) -> str | None:
    """The options class the interpreter reads for ``opcode``, or None when it reads none we know.

    Example:
        >>> options_type("CONV_2D"), options_type("MAX_POOL_2D"), options_type("RELU")
        ('Conv2DOptions', 'Pool2DOptions', None)
    """
    return OPTIONS_TYPES.get(opcode) or _options_classes().get(opcode.replace("_", ""))


def type_rejections(op: Operator) -> Iterator[Rejection]:
    """The op carries an options table of another type than its opcode reads."""
    kinds = getattr(op.options, "kinds", None)  # None: options given as a plain dict
    want = options_type(op.opcode) if not op.is_custom else None
    if kinds is None or want is None or not has_fields(want):
        return
    second = _second_union()
    if not any((kind in second) == (want in second) for kind in kinds) and _has_strides(want):
        # without a table the interpreter reads every field as 0: a stride of 0, which its Prepare rejects
        yield "builtin_options_type" + ("_2" if want in second else ""), "NONE", want
    for kind in kinds:  # a table of the other union is one the interpreter does not read for this op
        if kind != want and (kind in second) == (want in second):
            yield "builtin_options_type" + ("_2" if want in second else ""), kind, want


def field_rejections(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """The op's options that break a rule of :data:`FIELD_RULES`."""
    for name, value in op.options.items():
        rule = FIELD_RULES.get(name)
        if rule is not None and not rule[0](value, op, model):
            yield name, value, rule[1]


def count_of(option: str, side: str, extra: int = 0) -> PrepareCheck:
    """A check that ``option`` equals the op's number of inputs or outputs (``side``), plus ``extra``.

    Example:
        >>> op = Operator(0, "PACK", 1, (0, 1), (2,), {"values_count": 3, "axis": 0})
        >>> list(count_of("values_count", "inputs")(op, None))
        [('values_count', 3, 'its number of inputs, 2')]
    """
    def check(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
        if option not in op.options:
            return
        count = len(getattr(op, side)) + extra
        if op.options[option] != count:
            yield option, op.options[option], f"its number of {side}, {count}"
    return check


def depth_multiplier(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``DEPTHWISE_CONV_2D``: the filter's channels are a multiple of the input's.

    The ``depth_multiplier`` option itself is not checked: the builtin kernels compute the
    multiplier from the shapes and give the same result whatever the option says (measured: 0, 1,
    3 and 4 for a true multiplier of 2), and so does the converter; XNNPACK rejects some values.
    """
    if model is None or not op.has_input(1):
        return
    channels = model.tensor(op.inputs[0]).shape[-1:]
    filters = model.tensor(op.inputs[1]).shape[-1:]
    if channels and filters and channels[0] > 0 and filters[0] % channels[0]:
        yield "filter channels", filters[0], f"a multiple of the input's {channels[0]} channels"


def concatenation(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """``CONCATENATION``: the inputs have one rank and agree on every axis but ``axis``."""
    axis = op.options.get("axis")
    if model is None or not isinstance(axis, int) or not op.inputs or min(op.inputs) < 0:
        return
    shapes = [model.tensor(t).shape for t in op.inputs]
    rank = len(shapes[0])
    if not -rank <= axis < rank:
        return  # FIELD_RULES names it
    others = [tuple(d for i, d in enumerate(s) if i != axis % rank) for s in shapes]
    if any(len(s) != rank for s in shapes) or len(set(others)) > 1:
        yield "axis", axis, f"the one axis on which the input shapes {[tuple(s) for s in shapes]} differ"


def window_fits(op: Operator, model: TFLiteModel | None) -> Iterator[Rejection]:
    """A VALID pool or convolution: its window (dilated kernel, or ``filter_height`` by
    ``filter_width``) fits in the input, so the output has at least one row and column."""
    from .checks import window_of

    if model is None or op.options.get("padding") != "VALID" or not op.inputs or op.inputs[0] < 0:
        return
    shape = model.tensor(op.inputs[0]).shape
    if len(shape) != 4 or (op.has_input(1) is False and "filter_height" not in op.options):
        return
    window = window_of(op, model)
    if any(w > n > 0 for w, n in zip(window, shape[1:3])):
        yield "window", tuple(window), f"at most the input's {tuple(shape[1:3])} under VALID padding"


def rejections(op: Operator, model: TFLiteModel | None) -> list[Rejection]:
    """Everything the interpreter's Prepare rejects in the op's options (empty when nothing)."""
    spec = find(op.opcode)
    found = list(type_rejections(op))
    if found:  # the fields are another table's: checking them says nothing more
        return found
    found += input_count(op, model)
    if found:  # the converters index the inputs they expect
        return found
    found += field_rejections(op, model)
    for check in spec.prepare if spec is not None else ():
        found += check(op, model)
        if found:  # the later checks may index what this one found wrong (a rank: prepare_shapes)
            break
    return found


def validate(model: TFLiteModel) -> None:
    """Raise for the first op whose options the interpreter's Prepare rejects.

    Raises:
        InvalidModelError: names the op index, its opcode, the option, its value and what the
            interpreter expects; a corrupt options table raises it too.

    Example:
        >>> from tflite2keras import read
        >>> from tflite2keras.testdata import tiny
        >>> validate(read(tiny.tflite()))          # a sound file: nothing to say
    """
    for op in model.operators:
        found = rejections(op, model)
        if found:
            listed = "; ".join(f"{name} is {value!r}, expected {want}" for name, value, want in found)
            raise InvalidModelError(f"{model.source}: op {op.index} ({op.opcode}) has options or tensor shapes "
                                    f"the TFLite interpreter rejects: {listed}")


__all__ = ["FIELD_RULES", "INPUT_COUNTS", "OPTIONS_TYPES", "concatenation", "count_of", "depth_multiplier",
           "input_count", "input_shape", "options_type", "rejections", "validate", "window_fits"]
