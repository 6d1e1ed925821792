"""Op knowledge: one spec per TFLite op, its converter, folds, checks and weight slots.

Importing the package registers every builtin spec (one module per op family: ``conv``,
``pool``, ``activation`` ...). What a notebook needs to add or replace an op is here:

Example:
    >>> import tflite2keras as t2k
    >>> spec = t2k.ops.get("CONV_2D")
    >>> spec.layers, spec.weight_roles
    (('Conv2D',), ('kernel', 'bias'))
    >>> "RESIZE_BILINEAR" in t2k.ops.coverage().opcodes
    True
"""

from . import (  # noqa: F401  # noqa: F401  # noqa: F401
           activation,
           binary,
           conv,
           conv3d,
           elementwise,
           encoding,
           fill,
           index,
           math,
           matmul,
           mediapipe,
           pool,
           rearrange,
           reduce,
           reshape,
           resize,
           scatter,
           sequence,
           shape,
           signal,
           split,
           stablehlo,
           state,
           svdf,
)
from .contract import ConvertContext, Converter
from .coverage import Coverage, coverage
from .layout import Layout
from .registry import find, get, register_op, specs
from .spec import OpSpec, WeightSlot

__all__ = ["ConvertContext", "Converter", "Coverage", "Layout", "OpSpec", "WeightSlot", "coverage", "find", "get",
           "register_op", "specs"]
