"""Atomic file writes: a temporary file in the destination's folder, then a rename.

A failure (or a second process writing the same path) never leaves a half-written file.
The file gets the mode a plain ``open(path, "wb")`` would give it: ``0o666`` less the
umask for a new file, the old file's mode when it replaces one (``tempfile.mkstemp``
would make every file ``0o600``).

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> write_atomically(path, b"abc") == path, open(path, "rb").read()
    (True, b'abc')
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import Iterator

from .errors import InvalidArgumentError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def write_atomically(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` all at once; returns ``path``.

    Args:
        path: the destination file.
        data: its new content.

    Returns:
        ``path``.

    Raises:
        InvalidArgumentError: ``path`` is a folder, or its folder does not exist.
        OSError: any other failure to write (permissions, a full disk), naming ``path``;
            nothing is left behind.

    Example:
        >>> write_atomically("/no/folder/x", b"abc")
        Traceback (most recent call last):
        ...
        tflite2keras.errors.InvalidArgumentError: cannot write /no/folder/x: its folder /no/folder does not exist
    """
    with atomic_path(path) as partial, open(partial, "wb") as f:
        f.write(data)
    return path


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """A new empty file beside ``path`` to write; it replaces ``path`` when the block ends without error.

    For writers that want a path rather than bytes (``keras.Model.save``). On an error the
    temporary file is removed and ``path`` is left as it was.

    Args:
        path: the destination file.
        suffix: the temporary file's ending, for writers that check it (``".keras"``).

    Raises:
        InvalidArgumentError: ``path`` is a folder, or its folder does not exist.
        OSError: any other failure to create, write or rename, naming ``path``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_path(path, ".txt") as partial:
        ...     _ = open(partial, "w").write("abc")
        >>> open(path).read(), os.listdir(os.path.dirname(path))
        ('abc', ['out.txt'])
    """
    directory = check_destination(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.isfile(path) else None
        partial = _create_partial(directory, suffix)
        if mode is not None:
            os.chmod(partial, mode)
    except OSError as err:
        raise _naming(err, path) from err
    try:
        yield partial
        os.replace(partial, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        if isinstance(err, OSError):
            raise _naming(err, path) from err
        raise


def check_destination(path: str) -> str:
    """Check that ``path`` can be written as a file (before any long work); returns its folder.

    Raises:
        InvalidArgumentError: ``path`` is a folder, or its folder does not exist.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check_destination(folder + "/out.keras") == folder
        True
    """
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InvalidArgumentError(f"cannot write {path}: it is a folder; expected a file path")
    if not os.path.isdir(directory):
        what = "is not a folder" if os.path.exists(directory) else "does not exist"
        raise InvalidArgumentError(f"cannot write {path}: its folder {directory} {what}")
    return directory


def _create_partial(directory: str, suffix: str) -> str:
    """A new empty file in ``directory``, created with mode 0o666 so that the umask applies as
    it does to ``open()``."""
    for _ in range(100):
        partial = os.path.join(directory, f".partial-{secrets.token_hex(6)}{suffix}")
        try:
            os.close(os.open(partial, _FLAGS, 0o666))
            return partial
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def _naming(err: OSError, path: str) -> OSError:
    """The same kind of error, naming the destination instead of the temporary file."""
    if err.errno is None:
        return err
    return type(err)(err.errno, err.strerror, path)
