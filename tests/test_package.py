"""The house: the package's folders are the pipeline's stages, and every import and call points down.

The stages, lowest first: the base modules (errors, files, rendering), ``layers/`` (a leaf of Keras
layers), ``tflite/`` (the file), ``ops/`` (op knowledge), ``weights/``, ``conversion/``,
``verification/``, ``writer/``, the side wings (``testdata/``, ``heads/``, ``postprocess/``, ``zoo/``)
and the face (``__init__``, ``cli``). Imports inside functions count; imports under
``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections import Counter
from pathlib import Path

import pytest

import tflite2keras as t2k
from tflite2keras.ops import registry

ROOT = Path(t2k.__file__).parent
#: Each top-level name of the package -> its stage's floor; an import may only go to a floor at or below its own.
FLOORS = {"errors": 0, "_files": 0, "_quiet": 0, "_render": 0, "layers": 1, "tflite": 2, "ops": 3, "weights": 4,
          "conversion": 5, "verification": 6, "writer": 7, "testdata": 8, "heads": 8, "postprocess": 9, "zoo": 9,
          "preprocess": 9, "cli": 10, "__init__": 10}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("tflite2keras")]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    elif (node.module or "").startswith("tflite2keras"):
        target = node.module or ""
    else:
        return []
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]


def imports_of(module: str, source: str, is_package: bool = False) -> set[str]:
    """The package modules ``module`` imports, at module level or inside functions."""
    tree = ast.parse(source)
    typing_only = {id(n) for branch in ast.walk(tree)
                   if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
                   for statement in branch.body for n in ast.walk(statement)}
    return {t for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only
            for t in _targets(module, node, is_package) if t in MODULES and t != module}


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    return {module: imports_of(module, path.read_text(), path.name == "__init__.py")
            for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle_closed_by_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = "def f():\n    from .model import x\n\nif TYPE_CHECKING:\n    from .reader import y\n"
    assert imports_of("tflite2keras.tflite.quant", source) == {"tflite2keras.tflite.model"}
    assert imports_of("tflite2keras.ops", "from . import conv\nfrom ..tflite import model\n", True) == {
        "tflite2keras.ops.conv", "tflite2keras.tflite.model"}


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_every_import_points_down() -> None:
    up = [f"{a} -> {b}" for a, targets in import_graph().items() for b in sorted(targets)
          if FLOORS[stage(a)] < FLOORS[stage(b)]]
    assert up == []


def test_every_stage_has_a_floor() -> None:
    assert {stage(m) for m in MODULES} <= set(FLOORS)


def test_at_most_eight_modules_at_the_root_and_none_over_400_lines() -> None:
    root = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(root) <= 8, root
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


#: Stems two stages share because they are one concept at two levels: an op family's converters (``ops/``)
#: and its Keras layers (``layers/``); custom options decoded (``tflite/``) and dispatched by spec (``ops/``);
#: quantized models converted and verified; the image pre-processing layers and their lazy re-export.
SHARED_STEMS = {"activation", "binary", "index", "math", "matmul", "mediapipe", "pool", "reduce", "reshape", "resize",
                "scatter", "sequence", "shape", "signal", "svdf", "custom_options", "quantized", "preprocess"}


def test_no_two_stages_name_different_things_alike() -> None:
    stems: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name != "__init__.py":
            stems.setdefault(path.stem, []).append(module)
    shared = {stem: modules for stem, modules in stems.items() if len(modules) > 1 and stem not in SHARED_STEMS}
    assert shared == {}


def test_no_converter_parameter_is_typed_any() -> None:
    untyped = []
    for opcode, spec in sorted(registry.specs().items()):
        if spec.converter is None:
            continue
        for name, parameter in inspect.signature(spec.converter).parameters.items():
            if parameter.annotation in ("Any", inspect.Parameter.empty, "typing.Any"):
                untyped.append(f"{opcode}: {spec.converter.__qualname__}({name})")
    assert untyped == []


def _stage_of_file(filename: str) -> str | None:
    path = Path(filename)
    if ROOT not in path.parents:
        return None
    return stage(module_name(path))


def test_convert_and_transplant_call_only_down(corpus_model) -> None:
    """A trace of every Python call made by ``convert(source)`` and ``transplant(source)`` on a
    real file: no function of a lower stage calls one of a higher stage (a callback would)."""
    path = corpus_model("palm_detection_lite.tflite")
    model = t2k.zoo.blazepalm("lite")
    up: Counter[str] = Counter()

    def profile(frame, event, arg):  # noqa: ANN001, ANN202
        if event != "call":
            return
        callee = _stage_of_file(frame.f_code.co_filename)
        caller_frame = frame.f_back
        while callee is not None and caller_frame is not None and _stage_of_file(caller_frame.f_code.co_filename) is None:
            caller_frame = caller_frame.f_back
        if callee is None or caller_frame is None:
            return
        caller = _stage_of_file(caller_frame.f_code.co_filename)
        if FLOORS[caller] < FLOORS[callee]:
            up[f"{caller_frame.f_code.co_qualname} -> {frame.f_code.co_qualname}"] += 1

    sys.setprofile(profile)
    try:
        converted = t2k.convert(path)
        report = t2k.transplant(model, path)
    finally:
        sys.setprofile(None)
    assert converted.outputs and report.rules
    assert dict(up) == {}


@pytest.mark.parametrize("name", ["ops.registry", "tflite.graphview", "testdata.tiny", "testdata.suite"])
def test_short_names_of_moved_modules_still_resolve(name: str) -> None:
    short = {"ops.registry": "registry", "tflite.graphview": "graphview", "testdata.tiny": "tiny",
             "testdata.suite": "suite"}[name]
    assert getattr(t2k, short).__name__ == f"tflite2keras.{name}"
