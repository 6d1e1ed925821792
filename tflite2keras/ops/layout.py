"""Weight layouts written as letter strings, with the permutation derived.

``Layout("OHWI", "HWIO")`` moves a TFLite conv kernel into a Keras ``Conv2D`` kernel.
A parenthesized group is one stored axis that holds several logical ones, so
``Layout("1HW(CM)", "HWCM")`` splits a depthwise kernel's last axis into channels
and multipliers; the split sizes come from the Keras variable's shape. A ``1`` is an
axis of extent one that the target drops. ``Layout("*", "*")`` reshapes (or
broadcasts) to the target shape, as PReLU's alpha needs.

Example:
    >>> import numpy as np
    >>> kernel = np.zeros((32, 5, 5, 3))            # O, H, W, I
    >>> Layout("OHWI", "HWIO").apply(kernel, (5, 5, 3, 32)).shape
    (5, 5, 3, 32)
    >>> Layout("1HW(CM)", "HWCM").apply(np.zeros((1, 3, 3, 8)), (3, 3, 4, 2)).shape
    (3, 3, 4, 2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ShapeMismatchError


@dataclass(frozen=True)
class Layout:
    """A source layout (TFLite) and a target layout (Keras), as letter strings."""

    source: str
    target: str

    def __str__(self) -> str:
        return self.source if self.source == self.target else f"{self.source}→{self.target}"

    @cached_property
    def _groups(self) -> list[str]:
        """The source's stored axes, each a string of one or more logical letters."""
        groups = re.findall(r"\(([A-Z1]+)\)|([A-Z1])", self.source)
        return [g or s for g, s in groups]

    @cached_property
    def permutation(self) -> tuple[int, ...]:
        """The axes of the expanded source (``1`` axes dropped), in target order."""
        kept = [c for group in self._groups for c in group if c != "1"]
        if sorted(kept) != sorted(self.target) or len(set(kept)) != len(kept):
            raise ValueError(f"layout {self.source!r} cannot become {self.target!r}: the letters differ")
        return tuple(kept.index(c) for c in self.target)

    def apply(self, array: np.ndarray, target_shape: tuple[int, ...], what: str = "weight") -> np.ndarray:
        """Rearrange ``array`` into ``target_shape``.

        The result is a view of ``array`` (read-only when ``array`` is) with the target's
        strides: the one copy happens where the value goes, e.g. into a backend tensor.

        Args:
            array: the TFLite tensor's value.
            target_shape: the Keras variable's shape.
            what: names both sides in the error message.

        Raises:
            ShapeMismatchError: the array cannot be rearranged into ``target_shape``.
        """
        target_shape = tuple(int(d) for d in target_shape)
        if self.source == "*":
            return _fit(array, target_shape, what)
        if len(self.target) != len(target_shape) or len(self._groups) != array.ndim:
            raise ShapeMismatchError(
                f"{what}: expected a {self.source} tensor for a {self.target} variable of shape "
                f"{target_shape}, received shape {array.shape}"
            )
        size = dict(zip(self.target, target_shape))
        expanded = [size[c] for group in self._groups for c in group if c != "1"]
        grouped = [int(np.prod([1 if c == "1" else size[c] for c in g])) for g in self._groups]
        if tuple(grouped) != tuple(array.shape):
            expected_src = "x".join(map(str, grouped))
            raise ShapeMismatchError(
                f"{what}: expected {self.source} shape {expected_src} to fill a {self.target} variable of "
                f"shape {target_shape}, received shape {tuple(array.shape)}"
            )
        return array.reshape(expanded).transpose(self.permutation)


def _fit(array: np.ndarray, target_shape: tuple[int, ...], what: str) -> np.ndarray:
    if array.size == int(np.prod(target_shape)):
        return array.reshape(target_shape)
    squeezed = array.reshape([d for d in array.shape if d != 1] or [1])
    try:
        return np.broadcast_to(squeezed, target_shape)
    except ValueError:
        raise ShapeMismatchError(
            f"{what}: expected a tensor that reshapes or broadcasts to {target_shape}, received shape {array.shape}"
        ) from None


def contiguous(array: np.ndarray, tile: int = 64) -> np.ndarray:
    """``array`` as a C-contiguous array: itself if it is one, else a copy.

    A transposed view whose last axis is strided in memory (a Dense kernel ``OI -> IO``, a
    conv kernel ``OHWI -> HWIO``) is copied in tiles of ``tile`` x ``tile`` over that axis
    and the one contiguous in memory, so that reads and writes both stay in cache: a plain
    copy of a 3072 x 768 transpose is several times slower.

    Example:
        >>> kernel = np.arange(24, dtype=np.float32).reshape(4, 6)
        >>> out = contiguous(kernel.T, tile=4)
        >>> out.flags.c_contiguous, bool(np.array_equal(out, kernel.T))
        (True, True)
    """
    if array.flags.c_contiguous:
        return array
    out = np.empty(array.shape, array.dtype)
    last = array.ndim - 1
    dense = [a for a in range(array.ndim) if abs(array.strides[a]) == array.itemsize and array.shape[a] > 1]
    if not dense or dense[0] == last or array.shape[last] <= tile:
        np.copyto(out, array)
        return out
    for i in range(0, array.shape[dense[0]], tile):
        for j in range(0, array.shape[last], tile):
            index: list[slice] = [slice(None)] * array.ndim
            index[dense[0]], index[last] = slice(i, i + tile), slice(j, j + tile)
            out[tuple(index)] = array[tuple(index)]
    return out


#: The layouts used by the op registry.
OHWI_TO_HWIO = Layout("OHWI", "HWIO")
DEPTHWISE = Layout("1HW(CM)", "HWCM")
OHWI_TO_HWOI = Layout("OHWI", "HWOI")
OI_TO_IO = Layout("OI", "IO")
VECTOR = Layout("O", "O")
RESHAPE = Layout("*", "*")
