"""ImagePreprocess and ProjectToImage against numpy references, round trips and exports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.layers import ImagePreprocess, ProjectToImage

ATOL = 2e-5  # float32 resize weights vs float64 in the reference, on values in [-1, 1]


def ref_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear with half-pixel centres and edge clamping (TF / TFLite RESIZE_BILINEAR), in float64."""
    x = image.astype(np.float64)
    for axis, out in ((1, out_h), (2, out_w)):
        size = x.shape[axis]
        src = (np.arange(out) + 0.5) * size / out - 0.5
        low = np.floor(src)
        frac = src - low
        lo = np.clip(low, 0, size - 1).astype(int)
        hi = np.clip(low + 1, 0, size - 1).astype(int)
        shape = [1, 1, 1, 1]
        shape[axis] = out
        frac = frac.reshape(shape)
        x = np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac
    return x


def ref_preprocess(image: np.ndarray, size: tuple[int, int], mode: str = "letterbox", scale: str = "[-1,1]",
                   mean: Any = None, std: Any = None) -> tuple[np.ndarray, np.ndarray]:
    batch, h, w, _ = image.shape
    out_h, out_w = size
    transform = np.array([0.0, 0.0, 1.0, 1.0])
    if mode == "letterbox":
        pad_h = max(int(np.floor(w * out_h / out_w + 0.5)) - h, 0)
        pad_w = max(int(np.floor(h * out_w / out_h + 0.5)) - w, 0)
        top, left = pad_h // 2, pad_w // 2
        image = np.pad(image, [(0, 0), (top, pad_h - top), (left, pad_w - left), (0, 0)])
        hp, wp = h + pad_h, w + pad_w
        transform = np.array([top / hp, left / wp, h / hp, w / wp])
    x = ref_resize(image, out_h, out_w)
    x = x / 127.5 - 1 if scale == "[-1,1]" else x / 255
    if mean is not None or std is not None:
        x = (x - np.asarray(0.0 if mean is None else mean)) / np.asarray(1.0 if std is None else std)
    return x, np.tile(transform, (batch, 1))


def _image(h: int = 37, w: int = 61, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("shape, size", [((37, 61), (128, 128)), ((61, 37), (128, 128)), ((37, 61), (96, 128)),
                                         ((50, 20), (30, 40)), ((40, 30), (128, 96)), ((9, 9), (4, 4))])
def test_letterbox_matches_numpy(shape: tuple[int, int], size: tuple[int, int]) -> None:
    image = _image(*shape)
    out, transform = (np.asarray(t) for t in ImagePreprocess(size)(image))
    expected, expected_transform = ref_preprocess(image, size)
    assert out.shape == (2, *size, 3) and out.dtype == np.float32 and transform.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=ATOL)
    np.testing.assert_allclose(transform, expected_transform, rtol=1e-6)


def test_letterbox_37x61_to_128_border_and_transform() -> None:
    image = np.full((1, 37, 61, 3), 255, np.uint8)
    out, transform = (np.asarray(t) for t in ImagePreprocess((128, 128))(image))
    # 61 - 37 = 24 rows of black: 12 on top, 12 below, i.e. 128 * 12/61 = 25.2 model rows on each side,
    # of which 24 are black only (row 24's centre samples between padded row 11 and image row 12).
    np.testing.assert_allclose(transform[0], [12 / 61, 0, 37 / 61, 1], rtol=1e-6)
    assert np.all(out[0, :24] == -1) and np.all(out[0, 104:] == -1) and np.all(out[0, 26:102] == 1)
    assert -1 < out[0, 24, 0, 0] < out[0, 25, 0, 0] < 1


def test_point_round_trip_through_the_transform() -> None:
    h, w, size = 37, 61, 128
    image = np.zeros((1, h, w, 3), np.uint8)
    image[0, 19:22, 39:42] = 255  # a 3x3 white spot centred on pixel (20, 40)
    out, transform = ImagePreprocess((size, size))(image)
    weights = (np.asarray(out)[0, ..., 0] + 1) / 2
    rows, cols = np.mgrid[:size, :size]
    # The spot's centroid in normalized model coordinates, as a keypoint (x, y).
    total = weights.sum() * size
    centre = [(weights * (cols + 0.5)).sum() / total, (weights * (rows + 0.5)).sum() / total]
    boxes = np.array([[[0.25, 0.5, 0.75, 1.0]]], np.float32)
    projected = ProjectToImage()([boxes, np.array([[[centre]]], np.float32), transform])
    mapped_boxes, mapped = (np.asarray(t) for t in projected)
    np.testing.assert_allclose(mapped[0, 0, 0], [40.5 / w, 20.5 / h], atol=0.5 / h)
    t = np.asarray(transform)[0]
    np.testing.assert_allclose(mapped_boxes[0, 0], (boxes[0, 0] - t[[0, 1, 0, 1]]) / t[[2, 3, 2, 3]], rtol=1e-6)
    # And back: original -> model -> original is the identity.
    y0, x0 = 0.3, 0.8
    model_point = np.array([[[[x0 * t[3] + t[1], y0 * t[2] + t[0]]]]], np.float32)
    np.testing.assert_allclose(np.asarray(ProjectToImage()([model_point, transform]))[0, 0, 0], [x0, y0], atol=1e-6)


def test_stretch_and_scales_match_numpy() -> None:
    image = _image(37, 61, batch=3, seed=1)
    for scale in ("[-1,1]", "[0,1]"):
        out, transform = ImagePreprocess((20, 30), mode="stretch", scale=scale)(image)
        expected, expected_transform = ref_preprocess(image, (20, 30), "stretch", scale)
        np.testing.assert_allclose(np.asarray(out), expected, atol=ATOL)
        np.testing.assert_array_equal(np.asarray(transform), expected_transform)
        assert expected_transform[0].tolist() == [0, 0, 1, 1]


def test_mean_std_per_channel() -> None:
    image = _image(33, 17, seed=2)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out, _ = ImagePreprocess((24, 24), scale="[0,1]", mean=mean, std=std)(image)
    expected, _ = ref_preprocess(image, (24, 24), scale="[0,1]", mean=mean, std=std)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-4)
    only_mean, _ = ImagePreprocess((24, 24), mean=0.5)(image)
    np.testing.assert_allclose(np.asarray(only_mean), ref_preprocess(image, (24, 24), mean=0.5)[0], atol=ATOL)


def _model(size: tuple[int, int] = (128, 128), shape: tuple[int | None, ...] = (None, None, 3),
           **kwargs: Any) -> keras.Model:
    inputs = keras.Input(shape, dtype="uint8")
    image, transform = ImagePreprocess(size, name="pre", **kwargs)(inputs)
    return keras.Model(inputs, [image, transform])


def test_dynamic_sizes_in_functional_model_and_tf_function() -> None:
    model = _model(mode="letterbox", mean=[0.1, 0.2, 0.3], std=2.0)
    run = tf.function(model, input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
    for shape in ((37, 61), (80, 20), (128, 128)):
        image = _image(*shape, seed=3)
        expected, expected_transform = ref_preprocess(image, (128, 128), mean=[0.1, 0.2, 0.3], std=2.0)
        for fn in (model, run):
            out, transform = fn(image)
            np.testing.assert_allclose(np.asarray(out), expected, atol=ATOL)
            np.testing.assert_allclose(np.asarray(transform), expected_transform, rtol=1e-6)
    assert len(run.get_concrete_function().graph.inputs) >= 1


def test_safe_reload(tmp_path: Path) -> None:
    model = _model((64, 48), mode="stretch", scale="[0,1]", mean=[0.5, 0.4, 0.3], std=[0.2, 0.3, 0.4])
    image = _image(seed=4)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    for a, b in zip(loaded(image), model(image)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    layer = loaded.get_layer("pre")
    assert type(layer) is ImagePreprocess
    assert (layer.size, layer.mode, layer.scale, layer.std) == ((64, 48), "stretch", "[0,1]", [0.2, 0.3, 0.4])
    boxes, points, transform = keras.Input((5, 4)), keras.Input((5, 7, 3)), keras.Input((4,))
    project = keras.Model([boxes, points, transform], ProjectToImage()([boxes, points, transform]))
    project.save(tmp_path / "p.keras")
    assert type(keras.saving.load_model(tmp_path / "p.keras", safe_mode=True).layers[-1]) is ProjectToImage


def _builtins_only(data: bytes) -> list[str]:
    operators = t2k.read(data).operators
    opcodes = [op.opcode for op in operators]
    assert not any(op.is_custom for op in operators) and not any(c.startswith("FLEX") for c in opcodes), opcodes
    return opcodes


@pytest.mark.parametrize("fixed", [True, False])
def test_tflite_export_builtins(fixed: bool) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model = _model((96, 128), shape=(37, 61, 3) if fixed else (None, None, 3), mean=0.5, std=0.25)
    data = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert "RESIZE_BILINEAR" in _builtins_only(data)
    interpreter = Interpreter(model_content=data)
    detail = interpreter.get_input_details()[0]
    for shape in [(37, 61)] if fixed else [(37, 61), (100, 40), (5, 300)]:
        image = _image(*shape, batch=1, seed=5)
        interpreter.resize_tensor_input(detail["index"], image.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], image)
        interpreter.invoke()
        got = sorted((interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()), key=np.ndim)
        out, transform = model(image)
        np.testing.assert_allclose(got[1], np.asarray(out), atol=1e-4)  # values in [-6, 2]: ~3e-5 seen
        np.testing.assert_allclose(got[0], np.asarray(transform), rtol=1e-6)


def test_project_to_image_matches_formula() -> None:
    rng = np.random.default_rng(6)
    boxes, points = rng.uniform(size=(3, 5, 4)).astype(np.float32), rng.uniform(size=(3, 5, 7, 3)).astype(np.float32)
    transform = np.concatenate([rng.uniform(0, 0.3, (3, 2)), rng.uniform(0.4, 1, (3, 2))], 1).astype(np.float32)
    out_boxes, out_points = (np.asarray(t) for t in ProjectToImage()([boxes, points, transform]))
    y0, x0, sy, sx = (transform[:, i, None] for i in range(4))
    np.testing.assert_allclose(out_boxes[..., 0], (boxes[..., 0] - y0) / sy, rtol=1e-6)
    np.testing.assert_allclose(out_boxes[..., 3], (boxes[..., 3] - x0) / sx, rtol=1e-6)
    np.testing.assert_allclose(out_points[..., 0], (points[..., 0] - x0[..., None]) / sx[..., None], rtol=1e-6)
    np.testing.assert_allclose(out_points[..., 1], (points[..., 1] - y0[..., None]) / sy[..., None], rtol=1e-6)
    np.testing.assert_array_equal(out_points[..., 2], points[..., 2])
    np.testing.assert_array_equal(np.asarray(ProjectToImage()([boxes, transform])), out_boxes)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 128}, "size as 2 positive ints"), ({"size": (128,)}, "size as 2 positive ints"),
    ({"size": (128.0, 128)}, r"Received: size=\(128.0, 128\)"), ({"size": (0, 5)}, "size as 2 positive ints"),
    ({"size": "ab"}, "size as 2 positive ints"), ({"size": (8, 8), "mode": "crop"}, "Received: mode='crop'"),
    ({"size": (8, 8), "scale": "[0,255]"}, r"Received: scale='\[0,255\]'"),
    ({"size": (8, 8), "mean": [1, 2]}, r"mean as a number or 3 numbers"),
    ({"size": (8, 8), "std": 0}, "non-zero std"), ({"size": (8, True)}, "size as 2 positive ints"),
])
def test_bad_constructor_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(t2k.errors.InvalidArgumentError, match=message):
        ImagePreprocess(**kwargs)


def test_size_accepts_numpy_ints_and_lists() -> None:
    assert ImagePreprocess(np.array([96, 128])).size == (96, 128)
    assert ImagePreprocess([np.int64(5), 7]).get_config()["size"] == [5, 7]


def test_bad_inputs() -> None:
    error = t2k.errors.InvalidArgumentError
    with pytest.raises(error, match="expected uint8 images. Received: dtype=float32"):
        ImagePreprocess((8, 8))(np.zeros((1, 9, 9, 3), np.float32))
    with pytest.raises(error, match="expected uint8 images. Received: dtype=float32"):
        ImagePreprocess((8, 8))(keras.Input((None, None, 3)))
    with pytest.raises(error, match=r"expected images \(batch, height, width, 3\). Received: shape=\(9, 9, 3\)"):
        ImagePreprocess((8, 8))(np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(error, match=r"Received: shape=\(None, 9, 9, 4\)"):
        ImagePreprocess((8, 8))(keras.Input((9, 9, 4), dtype="uint8"))
    with pytest.raises(error, match=r"transform \(batch, 4\)"):
        ProjectToImage()([np.zeros((1, 2, 4), "float32"), np.zeros((1, 3), "float32")])
    with pytest.raises(error, match=r"expected boxes \(B, M, 4\)"):
        ProjectToImage()([np.zeros((1, 2, 5), "float32"), np.zeros((1, 4), "float32")])


JAX_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from tflite2keras.layers import ImagePreprocess, ProjectToImage
    image = np.random.default_rng(0).integers(0, 256, (2, 37, 61, 3), dtype=np.uint8)
    layer = ImagePreprocess((128, 96), mean=0.5, std=0.5)
    out, transform = jax.jit(lambda x: layer(x))(image)
    points = ProjectToImage()([np.full((2, 1, 1, 2), 0.5, "float32"), transform])
    np.save(sys.argv[1], np.asarray(out))
    print(json.dumps([np.asarray(transform).tolist(), np.asarray(points).tolist()]))
""")


def test_fixed_size_under_jax(tmp_path: Path) -> None:
    import json

    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(tmp_path / "out.npy")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    transform, points = json.loads(done.stdout.strip().splitlines()[-1])
    expected, expected_transform = ref_preprocess(_image(), (128, 96), mean=0.5, std=0.5)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-4)
    np.testing.assert_allclose(transform, expected_transform, rtol=1e-6)
    y_offset, y_scale = expected_transform[:, 0, None, None], expected_transform[:, 2, None, None]
    np.testing.assert_allclose(np.asarray(points)[..., 1], (0.5 - y_offset) / y_scale, rtol=1e-5)
