"""Benchmark convert(): its time against Keras rebuilding the same model, and Keras latency over the interpreter's.

Run: ``python benchmarks/convert.py [--set suite large corpus] [--models NAME ...] [--repeats 30]``.

Models: the architecture suite (:mod:`tflite2keras.testdata.suite`, float32 and float16), two large
``keras.applications`` models (NASNetMobile: 567 ops; Xception: 91 MB of weights; built
with ``weights=None`` at 97x113 and cached like the suite), and the MediaPipe corpus.

Per model, all measured side by side in one run:

- **convert / rebuild**: ``t2k.convert(path)`` against Keras rebuilding the model convert
  returned (``Model.from_config`` + ``set_weights``, the weights already in memory), as the
  median of paired rounds (each round runs both back to back after a ``gc.collect()``).
  ``convert`` ends by running the new model once on zeros, so a model that cannot run
  never converts; "build" is convert without that run, whose time is measured on its own
  (an eager call on zeros, as convert makes). "rebuild+call" adds the first call the
  rebuilt model needs before it is of any use.
- **first in process**: the same two, each in a fresh Python process after importing
  TensorFlow and Keras (the first convert also loads the op converters).
- **Keras / interpreter latency** at batch 1 (Keras under ``tf.function``) and batch 16
  (the interpreter runs 16 single-image calls, as it would on a phone), as ratios of
  interleaved medians after ten untimed calls per side (oneDNN builds its kernels over the
  first calls). Threads: each side its own default (TensorFlow: all cores; the
  interpreter: one), or ``--threads N`` for both.

Absolute times on a shared machine are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import compileall
import copy
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import interleaved  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras._files import write_atomically  # noqa: E402
from tflite2keras.conversion.convert import _call_once as call_once  # noqa: E402  (convert's run on zeros at batch 1)
from tflite2keras.testdata import corpus, suite  # noqa: E402
from tflite2keras.verification.reference import make_interpreter, random_inputs, run  # noqa: E402

#: Untimed calls per side before latency timing starts.
WARMUP = 10
#: The large models: keras.applications constructor names, built at this input size.
LARGE = {"nasnet_mobile": "NASNetMobile", "xception": "Xception"}
LARGE_SHAPE = (97, 113, 3)


def large_path(name: str) -> Path:
    """The cached float32 file of a large model (generated on first use)."""
    import keras
    import tensorflow as tf

    folder = suite.cache_dir().parent / f"benchmark-v1-tf{tf.__version__}-keras{keras.__version__}"
    target = folder / f"{name}.tflite"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        model = getattr(keras.applications, LARGE[name])(weights=None, input_shape=LARGE_SHAPE, classes=suite.CLASSES)
        write_atomically(str(target), suite.to_tflite(model, "fp32"))
    return target


def sources(sets: list[str], kinds: list[str]) -> dict[str, Path]:
    """Model label -> .tflite path, for the chosen sets."""
    out: dict[str, Path] = {}
    if "suite" in sets:
        out.update({f"{n} {k}": suite.path(n, k) for n in suite.names() for k in kinds})
    if "large" in sets:
        out.update({n: large_path(n) for n in LARGE})
    if "corpus" in sets:
        out.update({n: corpus.fetch(n) for n in corpus.MODELS})
    return out


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def convert_times(path: Path, model: Any, rounds: int) -> dict[str, float]:
    """Paired rounds of convert and of rebuilding ``model`` (``path`` converted once already);
    medians of the seconds and of the per-round ratios."""
    import keras

    config, weights = model.get_config(), model.get_weights()

    def rebuild() -> Any:
        rebuilt = keras.Model.from_config(copy.deepcopy(config))  # from_config consumes its argument
        rebuilt.set_weights(weights)
        return rebuilt

    rebuild()
    rows = []
    for _ in range(rounds):
        convert_s, model = timed(lambda: t2k.convert(path))
        check_s, _ = timed(lambda: call_once(model))  # convert's own last step, again
        rebuild_s, rebuilt = timed(rebuild)
        first_call_s, _ = timed(lambda: call_once(rebuilt))
        rows.append({"convert": convert_s, "check": check_s, "rebuild": rebuild_s,
                     "ratio": convert_s / rebuild_s, "build_ratio": (convert_s - check_s) / rebuild_s,
                     "with_call_ratio": convert_s / (rebuild_s + first_call_s)})
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def first_in_process(path: Path, model: Any) -> dict[str, float]:
    """Seconds of the first convert of ``path``, and of the first rebuild of ``model`` (then also
    its first call), each in a fresh process."""
    import keras

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.json").write_text(json.dumps(model.get_config()))
        np.savez(Path(folder, "weights.npz"), *model.get_weights())
        out = {}
        for what in ("convert", "rebuild"):
            argument = str(path) if what == "convert" else folder
            env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
            result = subprocess.run([sys.executable, __file__, f"--first-{what}", argument], check=True,
                                    capture_output=True, text=True, env=env)
            out.update(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


def _first_convert(path: str) -> None:
    import keras  # noqa: F401  (imported before the clock starts, as for the rebuild)

    start = time.perf_counter()
    t2k.convert(path)
    print(json.dumps({"convert": time.perf_counter() - start}))


def _first_rebuild(folder: str) -> None:
    import keras

    from tflite2keras import layers  # noqa: F401  (registers the converted models' layer classes)

    config = json.loads(Path(folder, "config.json").read_text())
    stored = np.load(Path(folder, "weights.npz"))
    weights = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    start = time.perf_counter()
    model = keras.Model.from_config(config)
    model.set_weights(weights)
    rebuilt = time.perf_counter()
    call_once(model)
    print(json.dumps({"rebuild": rebuilt - start, "rebuild_call": time.perf_counter() - start}))


def latency(path: Path, model: Any, repeats: int, threads: int | None) -> dict[str, Any]:
    """Keras (``model`` under tf.function) over the interpreter at batch 1 and batch 16."""
    import tensorflow as tf

    tfl = t2k.read(path)
    sample = random_inputs(tfl, 1)[0]
    batch = [np.repeat(x, 16, axis=0) for x in sample]
    call = tf.function(lambda xs: model(xs, training=False))
    one, sixteen = (sample if len(sample) > 1 else sample[0]), (batch if len(batch) > 1 else batch[0])
    call(one), call(sixteen)  # trace both shapes
    interpreter = make_interpreter(tfl, threads=threads)
    # Batch 1 and batch 16 in separate interleaved loops, so one batch size's work does not
    # sit between the two sides of the other's comparison.
    med = interleaved({"keras1": lambda: call(one), "tfl1": lambda: run(interpreter, sample)}, repeats, WARMUP)
    med.update(interleaved({"keras16": lambda: call(sixteen),
                            "tfl16": lambda: [run(interpreter, sample) for _ in range(16)]}, repeats, WARMUP))
    return {"b1": med["keras1"] / med["tfl1"], "b16": med["keras16"] / med["tfl16"]}


def runnable(path: Path) -> bool:
    """False for files whose custom ops the interpreter cannot run (nothing to compare with)."""
    return not any(op.is_custom for op in t2k.read(path).operators if op.opcode != "Convolution2DTransposeBias")


#: The table's columns: header and width (the first is left-aligned).
COLUMNS = (("model", 26), ("ops", 4), ("convert s", 9), ("rebuild s", 9), ("conv/reb", 8), ("build/reb", 9),
           ("conv/(reb+call)", 15), ("first s", 7), ("first: c/r", 10), ("c/(r+call)", 10),
           ("keras/tfl b1", 12), ("b16", 6))


def line(values: list[Any]) -> str:
    """One table row: numbers with two decimals, right-aligned under their headers."""
    cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in values]
    return " ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs="*", default=["suite", "large", "corpus"], choices=["suite", "large", "corpus"])
    parser.add_argument("--kinds", nargs="*", default=list(suite.KINDS), choices=list(suite.KINDS))
    parser.add_argument("--models", nargs="*", default=None, help="only these labels (e.g. 'resnet50 fp16' xception)")
    parser.add_argument("--rounds", type=int, default=5, help="paired convert/rebuild rounds per model")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved latency runs per side")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both TensorFlow (intra-op) and the interpreter (default: each its own)")
    parser.add_argument("--first-convert", help=argparse.SUPPRESS)
    parser.add_argument("--first-rebuild", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_convert or args.first_rebuild:
        _first_convert(args.first_convert) if args.first_convert else _first_rebuild(args.first_rebuild)
        return
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    print(f"threads: {args.threads or 'defaults (TensorFlow: all cores; interpreter: 1)'}; "
          f"ratios are medians of {args.rounds} paired rounds (convert) and {args.repeats} interleaved runs (latency)")
    # Bytecode first, as an installed package has it: an editable install under
    # PYTHONDONTWRITEBYTECODE would recompile, in every fresh process, each module the first
    # convert imports (its op converters).
    compileall.compile_dir(str(Path(t2k.__file__).parent), quiet=1)
    print(line([header for header, _ in COLUMNS]))
    for label, path in sources(args.set, args.kinds).items():
        if args.models and label not in args.models:
            continue
        model = t2k.convert(path)  # untimed: the first in this process, and the model every measurement uses
        times, first = convert_times(path, model, args.rounds), first_in_process(path, model)
        speed = latency(path, model, args.repeats, args.threads) if runnable(path) else {"b1": "(custom", "b16": "ops)"}
        print(line([label, len(t2k.read(path).operators), times["convert"], times["rebuild"], times["ratio"],
                    times["build_ratio"], times["with_call_ratio"], first["convert"],
                    first["convert"] / first["rebuild"], first["convert"] / first["rebuild_call"],
                    speed["b1"], speed["b16"]]), flush=True)
    print("target: convert no slower than the rebuild (conv/reb, build/reb <= 1), also the first in a process")


if __name__ == "__main__":
    main()
