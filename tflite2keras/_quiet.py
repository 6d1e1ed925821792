"""Keep TensorFlow's native start-up logging off a command's standard error.

TensorFlow 2.21 prints from C++ while it loads and first runs (the oneDNN notice, the
CPU-feature guard, ``cudart_stub``, ``failed call to cuInit``), before its log level can
apply: ``TF_CPP_MIN_LOG_LEVEL`` does not silence those lines. The command line sets that
variable (unless the user did) and, inside :func:`quiet_native_stderr`, sends file
descriptor 2 to ``/dev/null`` while Python's ``sys.stderr`` keeps writing to the terminal,
so our messages and Python warnings still show. ``tflite2keras --verbose`` lets it all
through. Library functions never do this: logging stays the user's choice.

Example:
    >>> import sys
    >>> with quiet_native_stderr():
    ...     print("still shown", file=sys.stderr)
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Within the block, native writes to fd 2 are dropped; ``sys.stderr`` still reaches the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        native = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real fd 2 (captured, or a notebook): nothing to do
        yield
        return
    saved = os.dup(native)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding or "utf-8",
                           errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, native)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, native)
        os.close(saved)


__all__ = ["quiet_native_stderr"]
