"""ops/reshape.py: RESHAPE from a Keras layer against the interpreter.

(test_shape.py and test_fold.py hold the cases where TFLite computes the target shape.)
"""

from __future__ import annotations

from typing import Any

import keras
import pytest
from oneop import Case, check_case, model_case, tflite_of

#: id -> a one-op case (oneop.Case).
CASES: dict[str, Case] = {
    "reshape_layer": model_case("RESHAPE", lambda: keras.layers.Reshape((13, 11, 6))),
}
#: Files whose target shape says batch 1: their interpreter runs at batch 1 only.
BATCH_1 = {"reshape_layer"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    batches = (1,) if name in BATCH_1 else (1, 3)
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path, interpreter_batches=batches)
