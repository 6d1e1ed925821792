"""Tests for :mod:`tflite2keras.cli`: ``tflite2keras inspect`` output and exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tflite2keras import read
from tflite2keras.cli import build_parser, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_prints_the_op_table(corpus_model, capsys) -> None:
    path = corpus_model("palm_detection_lite")
    code, out, err = _run(capsys, "inspect", str(path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("palm_detection_lite.tflite: 232 ops, 353 tensors;")
    assert re.match(r"#\s+opcode\s+inputs\s+outputs\s+output tensor$", lines[1])
    rows = [line.split() for line in lines[3:3 + 232]]
    assert [int(row[0]) for row in rows] == list(range(232))
    assert rows[2][:6] == ["2", "CONV_2D", "1x192x192x3", "32x5x5x3", "32", "1x96x96x32"]
    assert sum(row[1] == "DEQUANTIZE" for row in rows) == 113
    assert "\ntensors: 353 (120 with stored data)\n" in out
    assert "\nweight dtypes: FLOAT16 x113, INT32 x7\n" in out
    assert "\ncustom ops: none\n" in out
    assert out.endswith("\nsparse tensors: 0\n")


def test_inspect_custom_ops(corpus_model, capsys) -> None:
    code, out, _ = _run(capsys, "inspect", str(corpus_model("face_landmark_with_attention")))
    assert code == 0
    custom = re.search(r"^custom ops: (.*)$", out, re.M).group(1)
    assert sorted(custom.split(", ")) == [
        "Landmarks2TransformMatrix x3", "TransformLandmarks x5", "TransformTensorBilinear x3",
    ]
    code, out, _ = _run(capsys, "inspect", str(corpus_model("selfie_segmentation")))
    assert "\ncustom ops: Convolution2DTransposeBias x1\n" in out
    assert re.search(r"^244\s+Convolution2DTransposeBias\s+1x128x128x16 1x2x2x16 1\s+1x256x256x1", out, re.M)


def test_inspect_sparse_tensors(corpus_model, capsys) -> None:
    path = corpus_model("face_detection_full_range_sparse")
    model = read(path)
    sparse = [t for t in model.tensors if t.is_sparse]
    assert len(sparse) == 46
    code, out, _ = _run(capsys, "inspect", str(path))
    assert code == 0 and out.endswith("\nsparse tensors: 46\n")
    assert "(8,1,1,32)" not in out  # the list is only printed on request

    code, out, _ = _run(capsys, "inspect", "--sparse", str(path))
    assert code == 0
    listed = re.findall(r"^(\d+)\s+(\S+)\s+(\(\S+\))\s+FLOAT16\s+sparse$", out, re.M)
    assert [(int(i), name) for i, name, _ in listed] == [(t.index, t.name) for t in sparse]
    assert listed[0][2] == "(8,1,1,32)"


def test_inspect_tensors(corpus_model, capsys) -> None:
    code, out, _ = _run(capsys, "inspect", "--tensors", str(corpus_model("hand_recrop")))
    assert code == 0
    assert re.search(r"^0\s+input_1\s+\(1,256,256,3\)\s+FLOAT32$", out, re.M)
    assert re.search(r"^1\s+conv2d/Kernel\s+\(8,3,3,3\)\s+FLOAT32$", out, re.M)
    assert len(re.findall(r"^\d+\s+\S+\s+\(", out, re.M)) == 152


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, world\n", r"bad\.tflite is not a TFLite model: expected the file identifier b'TFL3'"),
        (b"", r"bad\.tflite is not a TFLite model"),
        (b"\x1c\x00\x00\x00TFL3" + bytes(8), r"bad\.tflite is a corrupt TFLite flatbuffer"),
    ],
    ids=["text", "empty", "truncated"],
)
def test_inspect_bad_file(tmp_path: Path, capsys, content: bytes, message: str) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    code, out, err = _run(capsys, "inspect", str(path))
    assert code == 2 and out == ""
    assert re.match(rf"tflite2keras inspect: error: {message}", err), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_inspect_missing_file(tmp_path: Path, capsys) -> None:
    code, out, err = _run(capsys, "inspect", str(tmp_path / "missing.tflite"))
    assert code == 2 and out == ""
    assert err.startswith("tflite2keras inspect: error: [Errno 2] No such file or directory")
    assert "missing.tflite" in err


@pytest.mark.parametrize("argv", [["--help"], ["inspect", "--help"]], ids=["main", "inspect"])
def test_help(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tflite2keras")
    assert "inspect" in out


def test_usage_errors(capsys) -> None:
    for argv in ([], ["frobnicate"], ["inspect"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "usage: tflite2keras" in capsys.readouterr().err


def test_parser_has_inspect() -> None:
    args = build_parser().parse_args(["inspect", "m.tflite", "--tensors"])
    assert (args.command, args.file, args.tensors, args.sparse) == ("inspect", "m.tflite", True, False)


def test_json_round_trip_and_build_errors(corpus_model, capsys, tmp_path: Path) -> None:
    path = corpus_model("iris_landmark")
    code, out, err = _run(capsys, "json", str(path))
    assert (code, err) == (0, "") and '"CONV_2D"' in out
    assert _run(capsys, "json", str(path), "-o", str(tmp_path / "m.json"))[0] == 0
    assert _run(capsys, "json", "--build", str(tmp_path / "m.json"), "-o", str(tmp_path / "m.tflite"))[0] == 0
    again, original = read(tmp_path / "m.tflite"), read(path)
    assert [op.opcode for op in again.operators] == [op.opcode for op in original.operators]
    code, _, err = _run(capsys, "json", "--build", str(tmp_path / "m.json"))
    assert code == 2 and "needs -o" in err
    (tmp_path / "bad.json").write_text('{"version": 3, "subgraphs": [')
    code, _, err = _run(capsys, "json", "--build", str(tmp_path / "bad.json"), "-o", str(tmp_path / "bad.tflite"))
    assert code == 2 and "JSON" in err and not (tmp_path / "bad.tflite").exists()


def test_rewrite_replaces_the_custom_op(corpus_model, capsys, tmp_path: Path) -> None:
    code, out, err = _run(capsys, "rewrite", str(corpus_model("selfie_segmentation")), str(tmp_path / "s.tflite"))
    assert (code, err) == (0, "") and "TRANSPOSE_CONV" in out
    assert not any(op.is_custom for op in read(tmp_path / "s.tflite").operators)


def test_export_writes_a_verified_float16_file(corpus_model, capsys, tmp_path: Path) -> None:
    assert _run(capsys, "convert", str(corpus_model("iris_landmark")), "-o", str(tmp_path / "i.keras"))[0] == 0
    code, out, err = _run(capsys, "export", str(tmp_path / "i.keras"), str(tmp_path / "i.tflite"), "--weights",
                          "float16")
    assert (code, err) == (0, "") and "verified" in out
    assert sum(op.opcode == "DEQUANTIZE" for op in read(tmp_path / "i.tflite").operators) > 0


def test_commands_are_quiet_unless_verbose(corpus_model, tmp_path: Path) -> None:
    """TensorFlow's native start-up lines (oneDNN, cudart_stub, cuInit) stay off stderr by default."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "tflite2keras.cli", "convert", str(corpus_model("iris_landmark")), "-o",
               str(tmp_path / "i.keras")]
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-2000:]
    assert "converted" in quiet.stdout
    loud = subprocess.run([command[0], *command[1:3], "--verbose", *command[3:]], capture_output=True, text=True,
                          env=env, timeout=600)
    assert loud.returncode == 0 and "I0000" in loud.stderr


def test_ops_lists_the_supported_ops(capsys) -> None:
    code, out, err = _run(capsys, "ops")
    assert (code, err) == (0, "") and "CONV_2D" in out and "builtin and" in out
    code, out, _ = _run(capsys, "ops", "--markdown")
    assert code == 0 and "| `RESIZE_BILINEAR` |" in out
