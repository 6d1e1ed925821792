"""conversion/prepared.py: the interpreter's computed shapes are the truth, not the stored ones.

Real-style files are made from TF's output by editing stored shapes with the JSON editor (the
interpreter never reads them; each test checks that it computes the same as on the unedited file):
an RFFT2D chain with the FFT length carried as last extent onto the next ops, GATHER indices stored
``(1, N)`` that are ``(M, N)`` at run time, a ``-1`` stored for a fixed extent, and a shape ``()``
(unknown rank). Each converts and verifies against the interpreter at default bounds, and each
failed before (InvalidModelError from the stale RESHAPE input, ShapeMismatchError at RFFT2D, a raw
numpy ValueError from GATHER, UnsupportedOpError "does not fold", ShapeMismatchError on the rank).
Each warns, but the signature's -1: "unknown", which TF's converter writes itself, not false.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.conversion import prepared
from tflite2keras.verification.reference import make_interpreter, run
from tflite2keras.writer.flatjson import from_json, to_json

WARNING = "stored shapes differ from the ones the TFLite interpreter computes"


def _tflite(function: Callable[..., Any], shape: tuple[int | None, ...]) -> bytes:
    concrete = tf.function(function).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def _rfft_chain(x: Any) -> Any:
    """RESHAPE -> RFFT2D -> RESHAPE -> COMPLEX_ABS -> MUL -> SUM: (1, 7, 16) -> (1, 7, 9) -> (1, 7)."""
    return tf.reduce_sum(tf.abs(tf.signal.rfft(x)) * 2.0, axis=-1)


def _rfft2d_chain(x: Any) -> Any:
    """RFFT2D -> COMPLEX_ABS -> MUL -> ADD -> REDUCE_MAX: (1, 8, 16) -> (1, 8, 9) -> (1, 8)."""
    return tf.reduce_max(tf.abs(tf.signal.rfft2d(x)) * 2.0 + 1.0, axis=-1)


def _computed_indices(x: Any) -> Any:
    """GATHER of x's axis 1 by (3, 2) indices that shape arithmetic computes (SHAPE, ..., ADD)."""
    indices = tf.constant([[0, 2], [1, 3], [4, 5]]) + tf.minimum(tf.shape(x)[0], 0)
    return tf.nn.relu(tf.gather(x, indices, axis=1)) * 2.0


def _flatten(x: Any) -> Any:
    """MUL -> SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE -> ADD: a flatten with the batch free."""
    t = tf.nn.relu(x * 2.0)
    return tf.reshape(t, [tf.shape(t)[0], -1]) + 1.0


def _edited(data: bytes, shapes: dict[str, tuple[list[int], list[int] | None]]) -> bytes:
    """``data`` with the stored shape (and signature, unless None) of the named tensors replaced."""
    document = json.loads(to_json(data))
    tensors = {t["name"]: t for t in document["subgraphs"][0]["tensors"]}
    for name, (shape, signature) in shapes.items():
        tensors[name]["shape"] = shape
        if signature is not None:
            tensors[name]["shape_signature"] = signature
    return from_json(json.dumps(document))


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[bytes, bytes]]:
    """Each case: (the file TF wrote, the file with edited stored shapes), made once per module."""
    rfft = _tflite(_rfft_chain, (1, 7, 16))
    rfft2d = _tflite(_rfft2d_chain, (1, 8, 16))
    gather = _tflite(_computed_indices, (None, 6, 4))
    flatten = _tflite(_flatten, (None, 6, 4))
    return {
        # the FFT length (16) stored where the kernel gives 16 / 2 + 1, carried onto the next three ops
        "rfft2d_chain": (rfft, _edited(rfft, {"rfft4": ([1, 7, 1, 16], None), "rfft5": ([1, 7, 16], None),
                                              "Abs": ([1, 7, 16], None), "mul": ([1, 7, 16], None)})),
        # as seen in real audio files: RFFT2D's output and the next three ops stored with the FFT length
        "rfft2d_direct": (rfft2d, _edited(rfft2d, {n: ([1, 8, 16], None) for n in ("rfft2d", "Abs", "mul", "add")})),
        "gather_indices": (gather, _edited(gather, {"add": ([1, 2], None)})),  # (3, 2) at run time
        "minus_one_fixed": (flatten, _edited(flatten, {"Relu;mul": ([1, 6, 4], [-1, -1, 4])})),  # 6 is fixed
        "unknown_rank": (gather, _edited(gather, {"Relu": ([], [])})),
    }


#: case -> (a stale tensor the warning names, its stored and computed shapes as the warning writes them)
NAMED = {
    "rfft2d_chain": ("'rfft5'", "stored [1, 7, 16]", "computed [1, 7, 9]"),
    "rfft2d_direct": ("'rfft2d'", "stored [1, 8, 16]", "computed [1, 8, 9]"),
    "gather_indices": ("'add'", "stored [1, 2]", "computed [3, 2]"),
    "unknown_rank": ("'Relu'", "stored []", "computed [1, 3, 2, 4] (signature [-1, 3, 2, 4])"),
}


def _converts_and_verifies(sound: bytes, stale: bytes) -> list[str]:
    """Convert the edited file, check it against the interpreter (which computes what it computes on
    the unedited one); return the warnings about stored shapes."""
    x = np.random.default_rng(0).standard_normal(t2k.read(sound).tensor(0).shape).astype(np.float32)
    expected = run(make_interpreter(t2k.read(sound)), [x])[0][0]
    np.testing.assert_array_equal(run(make_interpreter(t2k.read(stale)), [x])[0][0], expected)  # never read
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = t2k.convert(stale)
    report = t2k.verify(model, stale)
    assert report.ok, str(report)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-4)
    return [str(w.message) for w in caught if WARNING in str(w.message)]


@pytest.mark.parametrize("case", list(NAMED))
def test_stale_stored_shapes_convert_verify_and_warn(case: str, files: dict[str, tuple[bytes, bytes]]) -> None:
    messages = _converts_and_verifies(*files[case])
    assert len(messages) == 1, messages
    for needle in NAMED[case]:
        assert needle in messages[0], (needle, messages[0])


def test_a_minus_one_stored_for_a_fixed_extent_is_refined(files: dict[str, tuple[bytes, bytes]]) -> None:
    """A signature's -1 over the fixed 6 blocked the fold of SHAPE -> ... -> RESHAPE; the computed
    shapes fold it. A -1 is "unknown", not false (TF's converter writes such placeholders itself):
    refined without a warning."""
    assert _converts_and_verifies(*files["minus_one_fixed"]) == []


def test_the_view_follows_the_batch(files: dict[str, tuple[bytes, bytes]]) -> None:
    """Axes that follow the batch (the interpreter resized to batch 3) are -1; fixed ones are the extent."""
    tfl = t2k.read(files["minus_one_fixed"][1])
    view, stale = prepared.prepared_view(tfl)
    assert view is not tfl and prepared.prepared_view(tfl)[0] is view  # once per model
    by_name = {s.name: s for s in stale}
    assert not by_name["Relu;mul"].wrong and by_name["Relu;mul"].prepared_signature == (-1, 6, 4)
    # TF's own placeholder after the flattening RESHAPE: [1, 1] with signature [-1, -1]
    assert by_name["Reshape"].stored == (1, 1) and by_name["Reshape"].stored_signature == (-1, -1)
    assert view.tensor("Reshape").shape == (1, 24) and view.tensor("Reshape").shape_signature == (-1, 24)
    assert tfl.tensor("Reshape").shape == (1, 1)  # the file read is left as it is
    np.testing.assert_array_equal(view.constant(view.operators[0].inputs[1]),
                                  tfl.constant(tfl.operators[0].inputs[1]))


def test_a_sound_file_gets_no_word(files: dict[str, tuple[bytes, bytes]]) -> None:
    """TF's own files, the flatten among them: [1, 1] (signature [-1, -1]) after its RESHAPE is a placeholder."""
    for case in ("rfft2d_chain", "rfft2d_direct", "gather_indices", "minus_one_fixed"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            model = t2k.convert(files[case][0])
    assert model.output.shape == (None, 24)  # the computed extent, where the signature left it free


def test_stored_shapes_stand_where_the_interpreter_cannot_run(files: dict[str, tuple[bytes, bytes]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "interpreter_shapes", lambda tfl, batch: None)
    tfl = t2k.read(files["rfft2d_chain"][1])
    assert prepared.prepared_view(tfl) == (tfl, [])
    with pytest.raises(t2k.InvalidModelError, match=r"'rfft4' shape is \(1, 7, 1, 16\)"):
        t2k.convert(tfl)  # the stored shapes, checked as the interpreter's Prepare would
