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


@pytest.mark.parametrize(("argv", "message"), [
    ([], r"tflite2keras: error: the following arguments are required: COMMAND \(see tflite2keras --help\)"),
    (["frobnicate"], r"tflite2keras: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["inspect"], r"tflite2keras inspect: error: the following arguments are required: file \(see tflite2keras "
                  r"inspect --help\)"),
    (["verify", "m.keras", "m.tflite", "--samples", "abc"], r"tflite2keras verify: error: argument --samples: "
                                                            "invalid int value: 'abc'"),
], ids=["none", "unknown", "missing-file", "samples-abc"])
def test_usage_errors(capsys, argv: list[str], message: str) -> None:
    """Usage errors too are one line, pointing at --help, and exit status 2."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and re.match(message, err), err


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


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tiny.tflite, its conversion tiny.keras, and broken inputs beside them."""
    import json
    import zipfile

    from tflite2keras.testdata import tiny
    from tflite2keras.writer.flatjson import from_json, to_json

    folder = tmp_path_factory.mktemp("cli")
    (folder / "tiny.tflite").write_bytes(tiny.tflite())
    assert main(["convert", str(folder / "tiny.tflite"), "-o", str(folder / "tiny.keras")]) == 0
    (folder / "text.keras").write_text("not a zip archive\n")
    with zipfile.ZipFile(folder / "empty.keras", "w") as archive:
        archive.writestr("config.json", '{"class_name": "Nope"}')
    (folder / "model.keras").mkdir()  # a folder with a model's name
    doc = json.loads(to_json(tiny.tflite()))
    doc["subgraphs"][0]["tensors"][1]["shape"] = [4, 3, 3, 5]  # more values than the buffer holds
    (folder / "short_buffer.tflite").write_bytes(from_json(json.dumps(doc)))
    return folder


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; it must fail with exit status 2 and one line on stderr, nothing on stdout."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), (code, out, err)
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert err.startswith(f"tflite2keras {argv[0]}: error: "), err
    return err[len(f"tflite2keras {argv[0]}: error: "):-1]


@pytest.mark.parametrize(("argv", "message"), [
    (["convert", "{d}/tiny.tflite", "-o", "{d}"], r"convert -o: expected a path ending in \.keras, received '.*'"),
    (["convert", "{d}/tiny.tflite", "-o", "{d}/model.keras"], r"cannot write .*/model\.keras: it is a folder"),
    (["convert", "{d}/tiny.tflite", "-o", "{d}/missing/m.keras"], r"cannot write .*m\.keras: its folder .*/missing "
                                                                  "does not exist"),
    # (the Prepare checks find the bias's shape wrong before its short buffer is read)
    (["convert", "{d}/short_buffer.tflite", "-o", "{d}/s.keras"], r".*: op 2 \(CONV_2D\) has options or tensor shapes the "
                                                                  r"TFLite interpreter rejects: input 2 .* shape is "
                                                                  r"\(4, 3, 3, 5\), expected 2 elements"),
    (["verify", "{d}/missing.keras", "{d}/tiny.tflite"], r".*/missing\.keras: expected a \.keras file, but there is "
                                                         "no such file"),
    (["verify", "{d}/model.keras", "{d}/tiny.tflite"], r".*/model\.keras: expected a \.keras file, but it is a folder"),
    (["verify", "{d}/text.keras", "{d}/tiny.tflite"], r".*/text\.keras is not a \.keras file: expected a zip archive"),
    (["verify", "{d}/empty.keras", "{d}/tiny.tflite"], r".*/empty\.keras is not a loadable \.keras model "
                                                       r"\(ValueError: .*\)"),
    (["verify", "{d}/tiny.keras", "{d}/tiny.tflite", "--samples", "0"], r"verify --samples: expected a positive "
                                                                        "count, received 0"),
    (["verify", "{d}/tiny.keras", "{d}/tiny.keras"], r"tiny\.keras is not a TFLite model"),
    (["export", "{d}/tiny.keras", "{d}/o.tflite", "--input-shape", "a,b"], r"--input-shape: expected positive sizes "
                                                                           "separated by commas, .* received 'a,b'"),
    (["export", "{d}/tiny.keras", "{d}/o.tflite", "--input-shape", "1,9,9"], r"input_shape must fit input 0 .*: "
                                                                             r"expected 4 positive sizes agreeing "
                                                                             r"with \(None, 8, 8, 3\)"),
    (["export", "{d}/missing.keras", "{d}/o.tflite"], r".*/missing\.keras: expected a \.keras file"),
    (["json", "--build", "{d}/tiny.tflite", "-o", "{d}/x.tflite"], r"json --build: .*/tiny\.tflite is a TFLite file, "
                                                                   "expected JSON"),
    (["json", "{d}/tiny.tflite", "-o", "{d}/missing/x.json"], r"cannot write .*/missing/x\.json: its folder"),
    (["inspect", "{d}"], r"source .* is a folder; expected a \.tflite file"),
], ids=["convert-o-dir", "convert-o-dir.keras", "convert-o-missing-folder", "convert-corrupt-but-readable",
        "verify-missing-keras", "verify-folder-keras", "verify-text-keras", "verify-empty-keras", "verify-samples-0",
        "verify-keras-as-tflite", "export-input-shape-letters", "export-input-shape-rank", "export-missing-keras",
        "json-build-tflite", "json-missing-folder", "inspect-folder"])
def test_bad_input_is_one_line_and_exit_2(tiny_files: Path, capsys, argv: list[str], message: str) -> None:
    before = sorted(p.name for p in tiny_files.iterdir())
    message_seen = _one_line_error(capsys, [a.format(d=tiny_files) for a in argv])
    assert re.match(message, message_seen) and "unexpected" not in message_seen, message_seen
    assert sorted(p.name for p in tiny_files.iterdir()) == before  # nothing written, no .partial-... left


def test_unexpected_errors_are_one_line_naming_their_type(tiny_files: Path, capsys, monkeypatch) -> None:
    """An error that is not bad input (a bug deep inside) still prints one line, with its type; --traceback raises."""
    import sys

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(sys.modules["tflite2keras.conversion.convert"], "convert", broken)
    argv = ["convert", str(tiny_files / "tiny.tflite"), "-o", str(tiny_files / "z.keras")]
    message = _one_line_error(capsys, argv)
    assert message.startswith("unexpected ZeroDivisionError: division by zero second line (this may be a bug")
    with pytest.raises(ZeroDivisionError):
        main(["--traceback", *argv])


def test_convert_writes_atomically(tiny_files: Path, capsys, monkeypatch) -> None:
    """A failed save leaves the old file as it was and no temporary file; a new one gets open()'s mode."""
    import os

    import keras

    target = tiny_files / "atomic.keras"
    assert main(["convert", str(tiny_files / "tiny.tflite"), "-o", str(target)]) == 0
    capsys.readouterr()
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_umask()
    before = target.read_bytes()

    def failing_save(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a model")
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(keras.Model, "save", failing_save)
    message = _one_line_error(capsys, ["convert", str(tiny_files / "tiny.tflite"), "-o", str(target)])
    assert message == f"[Errno 28] No space left on device: '{target}'"
    assert target.read_bytes() == before
    assert not [p for p in tiny_files.iterdir() if p.name.startswith(".partial")]


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
