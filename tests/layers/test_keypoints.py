"""HeatmapKeypoints against a numpy loop reference, on random, tied and real heatmaps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.layers import HeatmapKeypoints

B, H, W, K = 3, 7, 11, 5


def ref_keypoints(heat: np.ndarray, offsets: np.ndarray | None = None, stride: float = 1.0,
                  refine: str | None = None) -> np.ndarray:
    """Loops over b, k, h, w; the first strict maximum in row-major order wins."""
    batch, height, width, keypoints = heat.shape
    out = np.zeros((batch, keypoints, 3), np.float32)
    for b in range(batch):
        for k in range(keypoints):
            best, row, col = -np.inf, 0, 0
            for h in range(height):
                for w in range(width):
                    if heat[b, h, w, k] > best:
                        best, row, col = heat[b, h, w, k], h, w
            dy = dx = 0.0
            if refine == "subpixel":
                def vertex(before: float, after: float) -> float:
                    a, c = float(best) - before, float(best) - after
                    return (a - c) / (2 * (a + c)) if a + c > 0 else 0.0
                if 0 < row < height - 1:
                    dy = vertex(heat[b, row - 1, col, k], heat[b, row + 1, col, k])
                if 0 < col < width - 1:
                    dx = vertex(heat[b, row, col - 1, k], heat[b, row, col + 1, k])
            y, x = (row + dy) * stride, (col + dx) * stride
            if offsets is not None:
                y, x = y + offsets[b, row, col, k], x + offsets[b, row, col, keypoints + k]
            out[b, k] = (y, x, best)
    return out


def _random(seed: int, integer: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    heat = rng.integers(0, 3, (B, H, W, K)) if integer else rng.normal(size=(B, H, W, K))
    return heat.astype(np.float32), rng.normal(size=(B, H, W, 2 * K)).astype(np.float32) * 4


def test_argmax_matches_loop_reference() -> None:
    heat, _ = _random(0)
    out = np.asarray(HeatmapKeypoints()(heat))
    assert out.shape == (B, K, 3)
    np.testing.assert_array_equal(out, ref_keypoints(heat))
    flat = heat.reshape(B, H * W, K).argmax(axis=1)
    np.testing.assert_array_equal(out[..., 0], flat // W)
    np.testing.assert_array_equal(out[..., 1], flat % W)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ties_pick_the_first_maximum_in_row_major_order(seed: int) -> None:
    heat, offsets = _random(seed, integer=True)
    heat[0, :, :, 0] = 2.0  # every cell ties: the answer is (0, 0)
    heat[1, :, :, 1] = 0.0
    heat[1, 3, 2, 1] = heat[1, 1, 9, 1] = heat[1, 1, 10, 1] = 5.0  # (1, 9) is first in row-major order
    layer = HeatmapKeypoints(stride=4.0, offsets=True)
    out = np.asarray(layer([heat, offsets]))
    np.testing.assert_allclose(out, ref_keypoints(heat, offsets, stride=4.0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[0, 0, :2], offsets[0, 0, 0, [0, K]], rtol=1e-6)
    np.testing.assert_allclose(out[1, 1, :2], [4 + offsets[1, 1, 9, 1], 36 + offsets[1, 1, 9, K + 1]], rtol=1e-6)
    assert (out[..., 2] == 2).sum() >= 1


def test_offsets_and_stride_match_loop_reference() -> None:
    heat, offsets = _random(4)
    out = np.asarray(HeatmapKeypoints(stride=16.0, offsets=True)([heat, offsets]))
    np.testing.assert_allclose(out, ref_keypoints(heat, offsets, stride=16.0), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("integer", [False, True])
def test_subpixel_matches_loop_reference(integer: bool) -> None:
    heat, offsets = _random(5, integer=integer)
    heat[2, 0, 4, 0] = heat[2, 6, 10, 1] = 9.0  # peaks on the border: no refinement on that axis
    out = np.asarray(HeatmapKeypoints(refine="subpixel")(heat))
    expected = ref_keypoints(heat, refine="subpixel")
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert np.all(np.abs(out[..., :2] - np.round(out[..., :2])) <= 0.5 + 1e-6)
    assert out[2, 0, 0] == 0.0 and out[2, 1, :2].tolist() == [6.0, 10.0]
    if not integer:
        assert np.abs(out[..., :2] - np.round(out[..., :2])).max() > 0.01  # it did move something
    both = np.asarray(HeatmapKeypoints(stride=2.0, offsets=True, refine="subpixel")([heat, offsets]))
    np.testing.assert_allclose(both, ref_keypoints(heat, offsets, 2.0, "subpixel"), rtol=1e-6, atol=1e-5)


def test_subpixel_recovers_a_sampled_parabola_peak() -> None:
    ys, xs = np.arange(H, dtype=np.float32)[:, None], np.arange(W, dtype=np.float32)[None, :]
    heat = (10 - (ys - 3.3) ** 2 - (xs - 6.8) ** 2)[None, :, :, None].astype(np.float32)
    out = np.asarray(HeatmapKeypoints(refine="subpixel")(heat))[0, 0]
    np.testing.assert_allclose(out[:2], [3.3, 6.8], atol=1e-4)


def test_gradients_reach_the_peak_cell_only() -> None:
    heat, offsets = (tf.constant(v) for v in _random(6))
    layer = HeatmapKeypoints(offsets=True)
    with tf.GradientTape() as tape:
        tape.watch([heat, offsets])
        out = layer([heat, offsets])
        loss = tf.reduce_sum(out[..., 0]) + tf.reduce_sum(out[..., 2])
    g_heat, g_offsets = tape.gradient(loss, [heat, offsets])
    assert float(tf.reduce_sum(g_heat)) == B * K and float(tf.reduce_sum(g_offsets)) == B * K
    assert float(tf.reduce_sum(g_offsets[..., K:])) == 0.0


def test_dynamic_sizes_under_tf_function() -> None:
    heat, offsets = _random(7)
    layer = HeatmapKeypoints(stride=8.0, offsets=True, refine="subpixel")
    spec = tf.TensorSpec((None, None, None, K), tf.float32)
    run = tf.function(lambda a, b: layer([a, b]), input_signature=[spec, tf.TensorSpec((None, None, None, 2 * K))])
    np.testing.assert_allclose(np.asarray(run(heat, offsets)), ref_keypoints(heat, offsets, 8.0, "subpixel"),
                               rtol=1e-6, atol=1e-5)


def test_real_pose_landmark_heatmap(corpus_model: Callable[[str], Path]) -> None:
    model = t2k.convert(corpus_model("pose_landmark_full"))
    x = np.random.default_rng(8).uniform(0, 1, (1, *model.inputs[0].shape[1:])).astype(np.float32)
    outputs = model(x)
    outputs = list(outputs.values()) if isinstance(outputs, dict) else list(outputs)
    heat = next(np.asarray(o) for o in outputs if tuple(o.shape) == (1, 64, 64, 39))
    for refine in (None, "subpixel"):
        out = np.asarray(HeatmapKeypoints(stride=4.0, refine=refine)(heat))
        np.testing.assert_allclose(out, ref_keypoints(heat, stride=4.0, refine=refine), rtol=1e-6, atol=1e-5)
    assert np.unique(out[0, :, :2].round(), axis=0).shape[0] > 5  # distinct peaks, not all (0, 0)


def _model(refine: str | None = "subpixel") -> keras.Model:
    heat, offsets = keras.Input((H, W, K)), keras.Input((H, W, 2 * K))
    out = HeatmapKeypoints(stride=8.0, offsets=True, refine=refine, name="decode")([heat, offsets])
    return keras.Model([heat, offsets], out)


def test_safe_reload(tmp_path: Path) -> None:
    model = _model()
    heat, offsets = _random(9)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded([heat, offsets])), np.asarray(model([heat, offsets])))
    layer = loaded.get_layer("decode")
    assert type(layer) is HeatmapKeypoints
    assert (layer.stride, layer.offsets, layer.refine) == (8.0, True, "subpixel")


def _interpreter(data: bytes) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_content=data)


@pytest.mark.parametrize("refine", [None, "subpixel"])
def test_tflite_export_uses_builtins_and_matches(refine: str | None,
                                                 to_tflite: Callable[..., bytes]) -> None:
    model = _model(refine)
    data = to_tflite(model)
    opcodes = [op.opcode for op in t2k.read(data).operators]
    assert not any(op.is_custom for op in t2k.read(data).operators)
    assert not any(code.startswith("FLEX") for code in opcodes), opcodes
    heat, offsets = _random(10)
    interpreter = _interpreter(data)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        value = offsets if detail["shape"][-1] == 2 * K else heat
        interpreter.set_tensor(detail["index"], value[:1])
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, np.asarray(model([heat[:1], offsets[:1]])), rtol=1e-6, atol=1e-5)


def test_bad_arguments() -> None:
    error = t2k.errors.InvalidArgumentError
    with pytest.raises(error, match="positive number for stride. Received: stride=0"):
        HeatmapKeypoints(stride=0)
    with pytest.raises(error, match="refine in .*Received: refine='gauss'"):
        HeatmapKeypoints(refine="gauss")
    heat, offsets = _random(11)
    with pytest.raises(error, match=r"expected a heatmap \(batch, height, width, keypoints\)"):
        HeatmapKeypoints()(heat[0])
    with pytest.raises(error, match=r"expected offsets of shape \(3, 7, 11, 10\).*Received: shape=\(3, 7, 11, 5\)"):
        HeatmapKeypoints(offsets=True)([heat, offsets[..., :K]])
    with pytest.raises(error, match=r"expected inputs \[heatmap, offsets\]"):
        HeatmapKeypoints(offsets=True)(heat)


JAX_SCRIPT = """
import sys
import jax, numpy as np
from tflite2keras.layers import HeatmapKeypoints
heat, offsets = np.load(sys.argv[1]), np.load(sys.argv[2])
layer = HeatmapKeypoints(stride=4.0, offsets=True, refine="subpixel")
np.save(sys.argv[3], np.asarray(jax.jit(lambda a, b: layer([a, b]))(heat, offsets)))
"""


def test_jax_backend_matches_loop_reference(tmp_path: Path) -> None:
    heat, offsets = _random(12, integer=True)
    paths = [tmp_path / name for name in ("heat.npy", "offsets.npy", "out.npy")]
    np.save(paths[0], heat)
    np.save(paths[1], offsets)
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT, *map(str, paths)], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(paths[2]), ref_keypoints(heat, offsets, 4.0, "subpixel"), rtol=1e-6, atol=1e-5)
