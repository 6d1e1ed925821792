"""Command line: ``tflite2keras inspect | convert | verify | ops | export | rewrite | json``.

Example:
    $ tflite2keras inspect palm_detection_lite.tflite
    $ tflite2keras convert selfie_segmentation.tflite -o selfie.keras --verify
    $ tflite2keras verify selfie.keras selfie_segmentation.tflite --per-layer
    $ tflite2keras ops
    $ tflite2keras export selfie.keras selfie_fp16.tflite --weights float16
    $ tflite2keras rewrite selfie_segmentation.tflite selfie_builtin.tflite
    $ tflite2keras json palm_detection_lite.tflite -o palm.json
    $ tflite2keras json --build palm.json -o palm.tflite

Exit status: 0 done, 1 a verification failed, 2 an error, told in one line on standard error
(``tflite2keras verify: error: ...``); ``tflite2keras --traceback COMMAND ...`` shows Python's
traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import zipfile
from collections import Counter
from typing import Any, NoReturn, Sequence

from . import _render
from ._files import atomic_path, check_destination
from ._quiet import quiet_native_stderr
from .errors import InvalidArgumentError, Tflite2KerasError
from .tflite.reader import read


def _inspect(args: argparse.Namespace) -> int:
    model = read(args.file)
    print(model)
    weights = [t for t in model.tensors if model.raw(t.index).size]
    print(f"\ntensors: {len(model.tensors)} ({len(weights)} with stored data)")
    print("weight dtypes: " + ", ".join(f"{k} x{v}" for k, v in Counter(t.dtype for t in weights).most_common()))
    custom = Counter(op.opcode for op in model.operators if op.is_custom)
    print("custom ops: " + (", ".join(f"{k} x{v}" for k, v in custom.items()) or "none"))
    sparse = [t for t in model.tensors if t.is_sparse]
    print(f"sparse tensors: {len(sparse)}")
    if args.tensors or (sparse and args.sparse):
        rows = [(t.index, t.name, t.shape, t.dtype, "sparse" if t.is_sparse else "",
                 "quantized" if t.quantization else "") for t in (model.tensors if args.tensors else sparse)]
        print(_render.text_table(("#", "name", "shape", "dtype", "", ""), rows, max_width=70))
    if model.subgraphs:
        print("other subgraphs: " + ", ".join(f"{s.index} {s.name!r}" for s in model.subgraphs))
    if args.html:
        from .tflite.graphview import write_html

        print(f"graph view: {write_html(model, args.html)}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .conversion.convert import convert
    from .verification.verify import verify

    if not args.output.endswith(".keras"):
        raise InvalidArgumentError(f"convert -o: expected a path ending in .keras, received {args.output!r}")
    check_destination(args.output)  # before the conversion, not after it
    model = convert(args.file)
    with atomic_path(args.output, ".keras") as partial:
        model.save(partial)
    print(f"converted {args.file} -> {args.output}: {len(model.layers)} layers, "
          f"{sum(int(v.numpy().size) for v in model.trainable_weights)} trainable parameters")
    if getattr(model, "fixed_shape", None):
        print(f"fixed shapes {[tuple(x.shape) for x in model.inputs]}: {model.fixed_shape}")
    if args.verify:
        report = verify(model, args.file, per_layer=args.per_layer)
        print(report)
        return 0 if report.ok else 1
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .verification.verify import verify

    if args.samples < 1:
        raise InvalidArgumentError(f"verify --samples: expected a positive count, received {args.samples}")
    tfl = read(args.file)  # a bad .tflite file fails before the model loads
    report = verify(_load(args.model), tfl, samples=args.samples, per_layer=args.per_layer)
    print(report)
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from .writer.export import export_tflite

    shape = _shape(args.input_shape) if args.input_shape else None
    check_destination(args.output)
    report = export_tflite(_load(args.model), args.output, weights=args.weights, input_shape=shape)
    print(report)
    return 0 if report.ok else 1


def _load(path: str) -> Any:
    """A saved Keras model, or an error naming the file (Keras raises ValueError for many causes)."""
    from .conversion.convert import load

    if not os.path.isfile(path):
        raise InvalidArgumentError(f"{path}: expected a .keras file, but {_what_is(path)}")
    if not zipfile.is_zipfile(path):
        raise InvalidArgumentError(f"{path} is not a .keras file: expected a zip archive (as model.save writes)")
    try:
        return load(path)
    except Tflite2KerasError:
        raise
    except Exception as err:  # noqa: BLE001 - Keras's loader raises ValueError, zipfile errors, KeyError ...
        raise InvalidArgumentError(f"{path} is not a loadable .keras model ({type(err).__name__}: "
                                   f"{_one_line(str(err), 300)})") from err


def _what_is(path: str) -> str:
    return "it is a folder" if os.path.isdir(path) else "there is no such file"


def _shape(text: str) -> tuple[int, ...]:
    """``"1,256,256,3"`` as a shape."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise InvalidArgumentError(f"--input-shape: expected positive sizes separated by commas, such as "
                                   f"1,256,256,3, received {text!r}")
    return tuple(int(part) for part in parts)


def _one_line(text: str, limit: int | None = None) -> str:
    """A message on one line: its lines joined, and cut to ``limit`` characters if given."""
    joined = " ".join(line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if line.strip())
    return joined if limit is None or len(joined) <= limit else joined[:limit - 3] + "..."


def _ops(args: argparse.Namespace) -> int:
    from .ops.coverage import coverage

    table = coverage()
    print(table.markdown() if args.markdown else table)
    return 0


def _json(args: argparse.Namespace) -> int:
    from .writer.flatjson import from_json, to_json

    if args.build:
        if not args.output:
            raise InvalidArgumentError("json --build needs -o OUT.tflite")
        with open(args.src, "rb") as f:
            text = f.read()
        if text[4:8] == b"TFL3":
            raise InvalidArgumentError(f"json --build: {args.src} is a TFLite file, expected JSON; without --build, "
                                       "json writes a .tflite file as JSON")
        from_json(text, args.output)
        return 0
    text = to_json(args.src, args.output)
    if not args.output:
        sys.stdout.write(text + "\n")
    return 0


def _rewrite(args: argparse.Namespace) -> int:
    from .writer.rewrite import rewrite_custom_ops

    print(rewrite_custom_ops(args.src, args.dst, transpose_conv_bias=args.transpose_conv_bias, measure=args.measure))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line like every other error (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per verb."""
    parser = _Parser(
        prog="tflite2keras",
        description="Turn TFLite models back into trainable Keras 3 models with their exact weights.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="let TensorFlow's native start-up log through (hidden by default)")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show Python's traceback instead of the one-line message")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect", help="print a model's op table, tensor count, weight dtypes, custom ops and sparse tensors",
        description="Print a TFLite model's op table, tensor count, weight dtypes, custom ops and sparse tensors. "
                    "Does not import TensorFlow.",
    )
    inspect.add_argument("file", help="a .tflite file")
    inspect.add_argument("--tensors", action="store_true", help="also list every tensor")
    inspect.add_argument("--sparse", action="store_true", help="also list the sparse tensors")
    inspect.add_argument("--html", metavar="OUT.html",
                         help="also write a self-contained HTML graph view (every op and tensor with its ids)")
    inspect.set_defaults(run=_inspect)
    convert = commands.add_parser(
        "convert", help="build a trainable Keras model from a .tflite file and save it as .keras",
        description="Build a trainable Keras 3 model op by op from a TFLite file, with its exact weights, "
                    "and save it. The result reloads with keras.saving.load_model(path, safe_mode=True).",
    )
    convert.add_argument("file", help="a .tflite file")
    convert.add_argument("-o", "--output", required=True, help="where to save the model (.keras)")
    convert.add_argument("--verify", action="store_true", help="compare with the TFLite interpreter afterwards")
    convert.add_argument("--per-layer", action="store_true", help="with --verify, also check every layer")
    convert.set_defaults(run=_convert)
    verify = commands.add_parser(
        "verify", help="compare a saved Keras model with the TFLite interpreter",
        description="Run a saved .keras model and the TFLite interpreter on seeded random inputs and print "
                    "the max error per output next to the interpreter's own noise floor. Exit status 1 when "
                    "an output (or, with --per-layer, a layer) is out of bound.",
    )
    verify.add_argument("model", help="a .keras file")
    verify.add_argument("file", help="the .tflite file it came from")
    verify.add_argument("--samples", type=int, default=4, help="how many random inputs (default 4)")
    verify.add_argument("--per-layer", action="store_true", help="also check every layer on its own")
    verify.set_defaults(run=_verify)
    ops = commands.add_parser(
        "ops", help="list the TFLite ops convert supports and their Keras layers",
        description="Print the table of registered ops that convert() builds, with their Keras layers, "
                    "weight roles and lint checks. Does not import TensorFlow.",
    )
    ops.add_argument("--markdown", action="store_true", help="as a Markdown table (the README's)")
    ops.set_defaults(run=_ops)
    export = commands.add_parser(
        "export", help="export a saved Keras model to TFLite with builtin ops only, verified",
        description="Convert a saved .keras model (a converted, fine-tuned or wrapped one) to a .tflite file "
                    "with TFLite's builtin ops only, write it atomically and compare it with the Keras model. "
                    "Exit status 1 when an output is out of bound.",
    )
    export.add_argument("model", help="a .keras file")
    export.add_argument("output", help="the .tflite file to write")
    export.add_argument("--weights", choices=("float32", "float16"), default="float32",
                        help="weight storage: float32 (default) or float16 behind DEQUANTIZE, as MediaPipe ships")
    export.add_argument("--input-shape", metavar="1,H,W,C",
                        help="a fixed input shape for models whose input has free sizes (the detector wrapper)")
    export.set_defaults(run=_export)
    rewrite = commands.add_parser(
        "rewrite", help="replace MediaPipe custom ops with TFLite builtins (no Keras)",
        description="Rewrite Convolution2DTransposeBias as the builtin TRANSPOSE_CONV inside the flatbuffer; "
                    "unknown custom ops are kept and listed.",
    )
    rewrite.add_argument("src", help="a .tflite file")
    rewrite.add_argument("dst", help="where to write the rewritten .tflite")
    rewrite.add_argument("--transpose-conv-bias", choices=("fused", "add"), default="fused",
                         help="fused: TRANSPOSE_CONV v3 with bias (default); add: TRANSPOSE_CONV v1 + ADD")
    rewrite.add_argument("--measure", action="store_true", help="time the interpreter before and after")
    rewrite.set_defaults(run=_rewrite)
    as_json = commands.add_parser(
        "json", help="a .tflite as editable JSON, or (--build) JSON back to .tflite",
        description="Write every table of TFLite's schema as JSON (enum values by name, small buffers as "
                    "number lists, large ones as base64), or rebuild a .tflite file from such JSON.",
    )
    as_json.add_argument("src", help="a .tflite file, or with --build a .json file")
    as_json.add_argument("-o", "--output", help="where to write (default for JSON: standard output)")
    as_json.add_argument("--build", action="store_true", help="rebuild a .tflite file from JSON")
    as_json.set_defaults(run=_json)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tflite2keras`` command.

    Returns:
        0 on success, 1 when a verification fails, 2 on an error: bad input prints one line,
        ``tflite2keras COMMAND: error: ...``, and no traceback (``--traceback`` shows it).
    """
    args = build_parser().parse_args(argv)
    quiet = contextlib.nullcontext() if args.verbose else quiet_native_stderr()
    with quiet:
        try:
            return int(args.run(args))
        except Exception as err:
            if args.traceback:
                raise
            print(f"tflite2keras {args.command}: error: {_message(err)}", file=sys.stderr)
            return 2


def _message(err: Exception) -> str:
    """Our errors and the system's speak for themselves; anything else from deep inside is
    probably a bug of ours: its type is named so that it is not mistaken for bad input."""
    if isinstance(err, (Tflite2KerasError, OSError)):
        return _one_line(str(err))
    return (f"unexpected {type(err).__name__}: {_one_line(str(err), 300)} (this may be a bug of tflite2keras; "
            "--traceback shows where)")


if __name__ == "__main__":
    sys.exit(main())
