"""Fetch and cache the real-model corpus: the ``.tflite`` files inside the mediapipe wheel.

The wheel is downloaded once per machine with ``pip download --no-deps`` and its
``.tflite`` members are unpacked into a user cache directory. Two processes racing
for the cache are safe: each writes to a temporary name and renames atomically.

Example (it downloads the wheel on first use, so it is not a doctest)::

    from tflite2keras import corpus
    path = corpus.fetch("palm_detection_lite")    # ~/.cache/tflite2keras/mediapipe-0.10.14/palm_detection_lite.tflite
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import Tflite2KerasError

MEDIAPIPE_VERSION = "0.10.14"

#: The 14 corpus models, by file stem.
MODELS: tuple[str, ...] = (
    "face_detection_full_range_sparse",
    "face_detection_short_range",
    "face_landmark",
    "face_landmark_with_attention",
    "hand_landmark_full",
    "hand_landmark_lite",
    "hand_recrop",
    "iris_landmark",
    "palm_detection_full",
    "palm_detection_lite",
    "pose_detection",
    "pose_landmark_full",
    "selfie_segmentation",
    "selfie_segmentation_landscape",
)


class CorpusUnavailableError(Tflite2KerasError, RuntimeError):
    """The mediapipe wheel could not be downloaded or unpacked."""


def cache_dir() -> Path:
    """Where the unpacked models live: ``$TFLITE2KERAS_CACHE`` or ``~/.cache/tflite2keras``."""
    root = os.environ.get("TFLITE2KERAS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tflite2keras"
    )
    return Path(root) / f"mediapipe-{MEDIAPIPE_VERSION}"


def fetch(name: str) -> Path:
    """Return the path of corpus model ``name``, downloading the wheel on first use.

    Args:
        name: a file stem from :data:`MODELS`, with or without ``.tflite``.

    Returns:
        The cached ``.tflite`` path.

    Raises:
        KeyError: ``name`` is not a corpus model.
        CorpusUnavailableError: the wheel could not be fetched or unpacked.

    Example::

        fetch("iris_landmark").stat().st_size   # > 0
    """
    stem = name[: -len(".tflite")] if name.endswith(".tflite") else name
    if stem not in MODELS:
        raise KeyError(f"{name!r} is not a corpus model; expected one of {', '.join(MODELS)}")
    target = cache_dir() / f"{stem}.tflite"
    if not target.exists():
        _populate(cache_dir())
    return target


def _populate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
            f"mediapipe=={MEDIAPIPE_VERSION}", "-d", tmp, "-q",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("mediapipe-*.whl"))
        if done.returncode != 0 or not wheels:
            raise CorpusUnavailableError(
                f"could not download mediapipe=={MEDIAPIPE_VERSION}: {done.stderr.strip()[-400:]}"
            )
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                for member in wheel.namelist():
                    if member.endswith(".tflite"):
                        final = directory / os.path.basename(member)
                        partial = Path(tmp) / (final.name + ".part")
                        partial.write_bytes(wheel.read(member))
                        os.replace(partial, final)  # atomic: a racing reader sees all or nothing
        except zipfile.BadZipFile as err:
            raise CorpusUnavailableError(f"the downloaded wheel is not a zip file: {err}") from err
