"""truncate(): keep the ops some tensors need and make them the outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.verification.reference import make_interpreter, run
from tflite2keras.writer.truncation import needed_ops


def test_truncated_model_computes_the_same_tensor(corpus_model: Any) -> None:
    tfl = t2k.read(corpus_model("palm_detection_lite"))
    target = tfl.operators[35].outputs[0]  # the first max-pool
    cut = t2k.read(t2k.truncate(tfl, [target]))
    assert cut.outputs == (target,) and len(cut.operators) == len(needed_ops(tfl, [target])) < 40
    x = [np.random.default_rng(0).uniform(-1, 1, (1, 192, 192, 3)).astype(np.float32)]
    full = make_interpreter(tfl, "builtin", preserve=True)
    _, inner = run(full, x, [target])
    out, _ = run(make_interpreter(cut, "builtin"), x)
    np.testing.assert_array_equal(out[0], inner[target])


@pytest.mark.parametrize("outputs", [[], [0], ["model_1/model/conv2d/Conv2D"]], ids=["none", "input", "constant"])
def test_bad_outputs(outputs: list[Any], corpus_model: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        t2k.truncate(corpus_model("palm_detection_lite"), outputs)
