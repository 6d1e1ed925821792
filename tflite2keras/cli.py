"""Command line: ``tflite2keras inspect FILE``.

Example:
    $ tflite2keras inspect palm_detection_lite.tflite
    $ tflite2keras inspect --tensors pose_detection.tflite
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Sequence

from . import _render
from .errors import Tflite2KerasError
from .reader import read


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
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per verb."""
    parser = argparse.ArgumentParser(
        prog="tflite2keras",
        description="Turn TFLite models back into trainable Keras 3 models with their exact weights.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect", help="print a model's op table, tensor count, weight dtypes, custom ops and sparse tensors",
        description="Print a TFLite model's op table, tensor count, weight dtypes, custom ops and sparse tensors. "
                    "Does not import TensorFlow.",
    )
    inspect.add_argument("file", help="a .tflite file")
    inspect.add_argument("--tensors", action="store_true", help="also list every tensor")
    inspect.add_argument("--sparse", action="store_true", help="also list the sparse tensors")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tflite2keras`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (Tflite2KerasError, OSError) as err:
        print(f"tflite2keras {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
