"""Benchmark: converted integer models, fake_quant over float, and each over the int8 interpreter.

Run: ``python benchmarks/quantized.py [--repeats 30]``.

For each full-integer suite file (``tflite2keras.testdata.quantized_suite``), batch-1 inference of the
``float`` and ``fake_quant`` conversions under ``tf.function``, and of the file itself in the
interpreter (XNNPACK, one thread), interleaved round by round. Printed: the median of the
per-round ratios (back-to-back runs, so load on a shared machine cancels), the conversion
time of fake_quant over float, and the verify error of each mode in output quantization steps.
Absolute times are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import interleaved_runs, paired_ratio  # noqa: E402

import tflite2keras as t2k  # noqa: E402
from tflite2keras.testdata import quantized_suite  # noqa: E402
from tflite2keras.verification.reference import make_interpreter  # noqa: E402


def _keras_call(model: object) -> object:
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    x = np.random.default_rng(0).uniform(-1, 1, (1, *model.input.shape[1:])).astype(np.float32)
    return lambda: function(x)


def _interpreter_call(data: bytes) -> object:
    tfl = t2k.read(data)
    interpreter = make_interpreter(tfl, threads=1)
    detail = interpreter.get_input_details()[0]
    x = np.zeros(detail["shape"], detail["dtype"])
    return lambda: (interpreter.set_tensor(detail["index"], x), interpreter.invoke())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"{'model':<34} {'fq/float':>9} {'float/tfl':>10} {'fq/tfl':>8} {'convert fq/float':>17} "
          f"{'float steps':>12} {'fq steps':>9}")
    for name, kind in quantized_suite.CASES:
        if kind == "dynamic":
            continue
        data = quantized_suite.tflite(name, kind)
        timings = {}
        models = {}
        for mode in ("float", "fake_quant"):
            start = time.perf_counter()
            models[mode] = t2k.convert(data, quantized=mode)
            timings[mode] = time.perf_counter() - start
        steps = {mode: t2k.verify(model, data, samples=2).outputs[0].steps for mode, model in models.items()}
        runs = interleaved_runs({"float": _keras_call(models["float"]), "fake_quant": _keras_call(models["fake_quant"]),
                                 "tflite": _interpreter_call(data)}, args.repeats, warmup=3)
        print(f"{name + ' ' + kind:<34} {paired_ratio(runs['fake_quant'], runs['float']):>9.2f} "
              f"{paired_ratio(runs['float'], runs['tflite']):>10.2f} {paired_ratio(runs['fake_quant'], runs['tflite']):>8.2f} "
              f"{timings['fake_quant'] / timings['float']:>17.2f} {steps['float']:>12.2f} {steps['fake_quant']:>9.2f}")


if __name__ == "__main__":
    main()
