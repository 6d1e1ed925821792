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


@pytest.mark.parametrize("entry", ["read", "convert", "verify", "transplant", "lint"])
def test_a_folder_or_none_as_source(entry: str, tmp_path) -> None:
    """All entry points go through read(): a folder was an IsADirectoryError, None a TypeError."""
    import tflite2keras as t2k
    from tflite2keras.testdata import tiny

    def call(source):
        if entry in ("read", "convert"):
            return getattr(t2k, entry)(source)
        return getattr(t2k, entry)(tiny.keras_model(seed=1), source)

    with pytest.raises(errors.InvalidArgumentError, match=rf"source {tmp_path} is a folder; expected a \.tflite file"):
        call(tmp_path)
    with pytest.raises(errors.InvalidArgumentError, match="source must be a path .* received NoneType None"):
        call(None)


def test_override_with_a_non_integer_op_index() -> None:
    import tflite2keras as t2k
    from tflite2keras.testdata import tiny

    model = tiny.keras_model(seed=1)
    before = model.get_layer("conv").kernel.numpy()
    with pytest.raises(errors.MappingError, match=r"override of Keras layer 'conv': the target '#abc' names no op: "
                                                  r"expected '#' and an op index such as '#17', received 'abc'"):
        t2k.transplant(model, tiny.tflite(), overrides={"conv": "#abc"})
    assert (model.get_layer("conv").kernel.numpy() == before).all()
    assert t2k.transplant(model, tiny.tflite(), overrides={"conv": "#0"}).rules["override"] == 2


@pytest.mark.parametrize("entry", ["transplant", "lint"])
def test_a_table_that_is_not_a_table(entry: str) -> None:
    import tflite2keras as t2k
    from tflite2keras.testdata import tiny

    with pytest.raises(errors.InvalidArgumentError, match=r"table must be a MappingTable .*received str 'x'; "
                                                          r"the shipped tables.* are \[.*'blazepalm_lite'"):
        getattr(t2k, entry)(tiny.keras_model(seed=1), tiny.tflite(), table="x")


def test_atomic_writes_get_the_mode_open_gives(tmp_path) -> None:
    """mkstemp made every file 0o600 whatever the umask."""
    import os

    from tflite2keras._files import write_atomically

    old = os.umask(0o027)
    try:
        write_atomically(str(tmp_path / "new.bin"), b"abc")
        with open(tmp_path / "plain.bin", "wb") as f:
            f.write(b"abc")
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "new.bin").st_mode & 0o777) == oct(os.stat(tmp_path / "plain.bin").st_mode & 0o777)
    assert os.stat(tmp_path / "new.bin").st_mode & 0o777 == 0o640
    os.chmod(tmp_path / "new.bin", 0o604)  # replacing a file keeps its mode, as open(path, "wb") does
    write_atomically(str(tmp_path / "new.bin"), b"xyz")
    assert os.stat(tmp_path / "new.bin").st_mode & 0o777 == 0o604
    assert sorted(os.listdir(tmp_path)) == ["new.bin", "plain.bin"]


def test_atomic_write_errors_name_the_destination(tmp_path) -> None:
    from tflite2keras._files import write_atomically

    target = tmp_path / "missing" / "out.tflite"
    with pytest.raises(errors.InvalidArgumentError, match=rf"cannot write {target}: its folder {target.parent} "
                                                          "does not exist") as info:
        write_atomically(str(target), b"abc")
    assert ".partial" not in str(info.value)
    with pytest.raises(errors.InvalidArgumentError, match=rf"cannot write {tmp_path}: it is a folder"):
        write_atomically(str(tmp_path), b"abc")
    assert list(tmp_path.iterdir()) == []
