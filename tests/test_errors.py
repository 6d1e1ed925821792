"""One exception family: every error derives from Tflite2KerasError and the fitting builtin."""

from __future__ import annotations

import pytest

from tflite2keras import errors


@pytest.mark.parametrize("cls,builtin", [
    (errors.InvalidModelError, ValueError), (errors.ShapeMismatchError, ValueError),
    (errors.InvalidArgumentError, ValueError), (errors.UnsupportedOpError, NotImplementedError),
    (errors.MappingError, KeyError), (errors.VerificationError, RuntimeError),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_family(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.Tflite2KerasError) and issubclass(cls, builtin)


def test_mapping_error_message_is_not_quoted() -> None:
    assert str(errors.MappingError("layer 'x' is missing")) == "layer 'x' is missing"


def test_all_names_exported() -> None:
    assert sorted(errors.__all__) == sorted(n for n in dir(errors) if n.endswith("Error"))
