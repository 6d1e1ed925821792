"""ops/fill.py: PAD from a Keras layer against the interpreter.

(test_shape.py holds the other cases of ops/fill.py's ops: PAD, PADV2, MIRROR_PAD, FILL ...)
"""

from __future__ import annotations

from typing import Any

import keras
import pytest
from oneop import Case, check_case, model_case, tflite_of

#: id -> a one-op case (oneop.Case).
CASES: dict[str, Case] = {
    "pad_zero_padding_layer": model_case("PAD", lambda: keras.layers.ZeroPadding2D(((1, 2), (3, 0)))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path)
