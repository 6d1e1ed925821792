"""Atomic file writes: a temporary file in the destination's folder, then a rename.

A failure (or a second process writing the same path) never leaves a half-written file.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> write_atomically(path, b"abc") == path, open(path, "rb").read()
    (True, b'abc')
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` all at once; returns ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(prefix=".partial-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return path
