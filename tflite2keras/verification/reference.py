"""The reference: the TFLite interpreter (``ai_edge_litert`` if installed, else ``tf.lite``).

Three kernel sets are used. ``xnnpack`` is the default interpreter, as deployed.
``builtin`` is ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``: the built-in
kernels without XNNPACK; the difference between the two is the interpreter's own
noise floor on the outputs. ``builtin_ref`` (``BUILTIN_REF``, the reference kernels)
gives the noise floor on intermediate tensors, which XNNPACK does not expose.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Iterable

import numpy as np

from ..errors import VerificationError
from ..tflite.model import TFLiteModel
from .inputs import draw_all

KERNELS = ("xnnpack", "builtin", "builtin_ref")


def interpreter_module() -> tuple[Any, str]:
    """The interpreter module and its name: ``ai_edge_litert.interpreter`` or ``tf.lite``."""
    try:
        return importlib.import_module("ai_edge_litert.interpreter"), "ai_edge_litert"
    except ImportError:
        import tensorflow as tf

        return tf.lite, "tf.lite"


def make_interpreter(tfl: TFLiteModel, kernels: str = "xnnpack", preserve: bool = False,
                     threads: int | None = None, batch: int | None = 1) -> Any:
    """An allocated interpreter over ``tfl``'s bytes with the given kernel set (and thread count),
    its inputs resized to ``batch`` when that is not 1 (nor None: the file's own shapes).

    Raises:
        VerificationError: the interpreter refuses the model (e.g. an unregistered custom op).
    """
    module, _ = interpreter_module()
    resolver = getattr(module, "OpResolverType", None) or module.experimental.OpResolverType
    kwargs: dict[str, Any] = {"model_content": tfl.data, "experimental_preserve_all_tensors": preserve,
                              "num_threads": threads}
    if kernels == "builtin":
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    elif kernels == "builtin_ref":
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF
    try:
        with warnings.catch_warnings():  # preserving tensors is what per-layer checks are for
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
            interpreter = module.Interpreter(**kwargs)
        if batch is not None and batch != 1:  # None: the file's own shapes (a model with fixed shapes)
            for detail in interpreter.get_input_details():
                interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]], strict=False)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as err:
        custom = sorted({op.opcode for op in tfl.operators if op.is_custom})
        hint = f" The model uses custom ops {custom}." if custom else ""
        raise VerificationError(
            f"the TFLite interpreter cannot run {tfl.source} with {kernels} kernels: {err}.{hint}"
        ) from err
    return interpreter


def run(interpreter: Any, inputs: list[np.ndarray], tensors: Iterable[int] = (),
        reset: bool = True) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Run one sample; return the outputs and copies of the requested tensors.

    With ``reset``, variable tensors (an LSTM's state) start from zero, so samples are
    independent; a stateful file's resource variables are stepped with ``reset=False``.
    """
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
    if reset:
        interpreter.reset_all_variables()
    interpreter.invoke()
    outputs = [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]
    return outputs, {t: np.array(interpreter.get_tensor(t)) for t in tensors}


def random_inputs(tfl: TFLiteModel, samples: int, seed: int = 0, batch: int = 1,
                  ranges: Any = None) -> list[list[np.ndarray]]:
    """Seeded inputs with the given batch, one list per sample: a float input in [-1, 1), an input
    that indexes a table in [0, rows), another integer input over its dtype's range, or each in
    the caller's ``ranges`` (see :mod:`tflite2keras.verification.inputs`)."""
    return draw_all(tfl, samples, seed, batch, ranges)
