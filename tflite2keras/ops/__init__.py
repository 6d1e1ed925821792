"""Builtin op specs, one module per op family; importing this package registers them."""

from . import activation, conv, elementwise, encoding, mediapipe, pool, resize, shape  # noqa: F401
from . import math, reduce, reshape  # noqa: F401
from . import index, scatter  # noqa: F401
from . import conv3d, matmul  # noqa: F401
from . import binary  # noqa: F401
from . import sequence, signal  # noqa: F401
from . import svdf  # noqa: F401
from . import state  # noqa: F401
from . import fill, layout, split  # noqa: F401
from . import stablehlo  # noqa: F401
