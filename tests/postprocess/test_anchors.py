"""postprocess.anchors: MediaPipe's SsdAnchorsCalculator, presets and option validation."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras import postprocess
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.postprocess import AnchorOptions, DecodeOptions

COUNTS = {"palm_detection": 2016, "face_detection_short_range": 896, "face_detection_full_range": 2304,
          "pose_detection": 2254}
CORPUS = [("palm_detection", "palm_detection_full"), ("palm_detection", "palm_detection_lite"),
          ("face_detection_short_range", "face_detection_short_range"),
          ("face_detection_full_range", "face_detection_full_range_sparse"), ("pose_detection", "pose_detection")]
R2 = np.sqrt(2.0)


@pytest.mark.parametrize("name", list(COUNTS))
def test_preset_counts_and_range(name: str) -> None:
    grid = postprocess.anchors(name)
    preset = postprocess.PRESETS[name]
    assert grid.shape == (COUNTS[name], 4) == (preset.decode.num_boxes, 4) and grid.dtype == np.float32
    assert grid.min() > 0 and grid.max() <= 1
    assert np.array_equal(postprocess.anchors(preset), grid)
    assert np.array_equal(postprocess.anchors(preset.anchors), grid)
    np.testing.assert_array_equal(grid[:, 2:], 1.0)  # fixed_anchor_size in every MediaPipe graph
    assert preset.input_size == (preset.anchors.input_size_height, preset.anchors.input_size_width)
    assert preset.nms_iou_threshold == 0.3 and preset.decode.algorithm == "WEIGHTED"


def test_palm_rows_by_hand() -> None:
    grid = postprocess.anchors("palm_detection")
    f = np.float32
    # Stride 8: 24x24 cells, 2 anchors each (aspect 1 and the interpolated one); then the
    # three stride-16 layers merged: 12x12 cells, 6 anchors each.
    assert grid[0].tolist() == grid[1].tolist() == [f(0.5) / f(24), f(0.5) / f(24), 1.0, 1.0]
    assert grid[2, :2].tolist() == [f(1.5) / f(24), f(0.5) / f(24)]
    assert grid[47, :2].tolist() == [f(23.5) / f(24), f(0.5) / f(24)]
    assert grid[48, :2].tolist() == [f(0.5) / f(24), f(1.5) / f(24)]  # x varies fastest, then y
    assert grid[1151, :2].tolist() == [f(23.5) / f(24), f(23.5) / f(24)]
    assert grid[1152, :2].tolist() == grid[1157, :2].tolist() == [f(0.5) / f(12), f(0.5) / f(12)]
    assert grid[1158, :2].tolist() == [f(1.5) / f(12), f(0.5) / f(12)]
    assert grid[2015, :2].tolist() == [f(11.5) / f(12), f(11.5) / f(12)]


def test_full_range_single_stride() -> None:
    grid = postprocess.anchors("face_detection_full_range")
    assert grid[0, :2].tolist() == [np.float32(0.5) / np.float32(48)] * 2  # 48x48, one anchor each
    assert grid[49, :2].tolist() == [np.float32(1.5) / np.float32(48)] * 2


def test_scales_aspect_ratios_and_non_square_grid() -> None:
    options = AnchorOptions(40, 24, 0.2, 0.8, 3, (8, 16, 16), aspect_ratios=(1.0, 2.0))
    grid = postprocess.anchors(options)
    # Layer 0: ceil(40/8) x ceil(24/8) = 5x3 cells, 3 anchors; layers 1-2: ceil(2.5) x ceil(1.5) = 3x2 cells, 6.
    assert grid.shape == (5 * 3 * 3 + 3 * 2 * 6, 4)
    layer0 = [(0.2, 0.2), (0.2 * R2, 0.2 / R2), (np.sqrt(0.2 * 0.5),) * 2]
    group = [(0.5, 0.5), (0.5 * R2, 0.5 / R2), (np.sqrt(0.5 * 0.8),) * 2,
             (0.8, 0.8), (0.8 * R2, 0.8 / R2), (np.sqrt(0.8 * 1.0),) * 2]
    np.testing.assert_allclose(grid[:3, 2:], layer0, rtol=1e-6)
    np.testing.assert_allclose(grid[45:51, 2:], group, rtol=1e-6)
    np.testing.assert_allclose(grid[16], [2.5 / 3, 1.5 / 5, 0.2 * R2, 0.2 / R2], rtol=1e-6)  # cell y=1, x=2
    np.testing.assert_allclose(grid[45, :2], [0.5 / 2, 0.5 / 3], rtol=1e-6)
    np.testing.assert_allclose(grid[80], [1.5 / 2, 2.5 / 3, np.sqrt(0.8), np.sqrt(0.8)], rtol=1e-6)


def test_reduce_boxes_in_lowest_layer() -> None:
    options = AnchorOptions(16, 16, 0.2, 0.8, 2, (8, 16), aspect_ratios=(1.0,), reduce_boxes_in_lowest_layer=True)
    grid = postprocess.anchors(options)
    assert grid.shape == (2 * 2 * 3 + 1 * 1 * 2, 4)
    r = np.sqrt(0.5)
    np.testing.assert_allclose(grid[:3, 2:], [(0.1, 0.1), (0.2 * R2, 0.2 / R2), (0.2 * r, 0.2 / r)], rtol=1e-6)
    np.testing.assert_allclose(grid[12:, 2:], [(0.8, 0.8), (np.sqrt(0.8),) * 2], rtol=1e-6)


def test_one_stride_scale_and_offsets() -> None:
    options = AnchorOptions(15, 10, 0.3, 0.5, 1, (5,), aspect_ratios=(1.0,), anchor_offset_x=0.0,
                            anchor_offset_y=0.25, interpolated_scale_aspect_ratio=0.0)
    grid = postprocess.anchors(options)
    expected = [[x / 2, (y + 0.25) / 3, 0.4, 0.4] for y in range(3) for x in range(2)]
    np.testing.assert_allclose(grid, expected, rtol=1e-6)


def test_feature_map_sizes_override_strides() -> None:
    options = AnchorOptions(0, 0, 0.2, 0.8, 3, (8, 16, 16), aspect_ratios=(1.0,),
                            feature_map_height=(3, 2, 7), feature_map_width=(4, 5, 7))
    grid = postprocess.anchors(options)
    assert grid.shape == (3 * 4 * 2 + 2 * 5 * 4, 4)  # the merged group uses its first layer's 2x5
    np.testing.assert_allclose(grid[24, :2], [0.5 / 5, 0.5 / 2], rtol=1e-6)
    np.testing.assert_allclose(grid[-1, :2], [4.5 / 5, 1.5 / 2], rtol=1e-6)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"num_layers": 3}, "one stride per layer"),
    ({"num_layers": 0, "strides": ()}, "num_layers >= 1"),
    ({"strides": (8, 0)}, "positive"),
    ({"feature_map_height": (3, 3), "feature_map_width": (3,)}, "feature_map_height"),
    ({"input_size_height": 0}, "input sizes"),
    ({"aspect_ratios": (1.0, -2.0)}, "aspect_ratios"),
])
def test_bad_anchor_options(kwargs: dict, fragment: str) -> None:
    base = dict(input_size_height=16, input_size_width=16, min_scale=0.2, max_scale=0.8, num_layers=2, strides=(8, 16))
    with pytest.raises(InvalidArgumentError, match=fragment):
        AnchorOptions(**{**base, **kwargs})


def test_bad_decode_options_and_unknown_preset() -> None:
    with pytest.raises(InvalidArgumentError, match="num_coords=12"):
        DecodeOptions(1, 10, 12, 1.0, 1.0, 1.0, 1.0, num_keypoints=5)
    with pytest.raises(InvalidArgumentError, match="non-zero"):
        DecodeOptions(1, 10, 4, 1.0, 0.0, 1.0, 1.0)
    with pytest.raises(InvalidArgumentError, match="palm_detection, pose_detection"):
        postprocess.anchors("hand_detection")
    with pytest.raises(dataclasses.FrozenInstanceError):
        postprocess.PRESETS["palm_detection"].anchors.min_scale = 0.2  # type: ignore[misc]


def test_import_does_not_load_keras() -> None:
    code = "import sys, tflite2keras.postprocess as p; p.anchors('palm_detection'); print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("name,model", CORPUS, ids=[m for _, m in CORPUS])
def test_counts_match_corpus_outputs(name: str, model: str, corpus_model: Callable[[str], Path]) -> None:
    tflite = t2k.read(corpus_model(model))
    decode = postprocess.PRESETS[name].decode
    shapes = sorted((tuple(tflite.tensor(i).shape) for i in tflite.outputs), key=lambda s: -s[-1])
    assert shapes == [(1, decode.num_boxes, decode.num_coords), (1, decode.num_boxes, decode.num_classes)]
    assert postprocess.anchors(name).shape[0] == decode.num_boxes
    assert [tuple(tflite.tensor(i).shape) for i in tflite.inputs] == [(1, *postprocess.PRESETS[name].input_size, 3)]
