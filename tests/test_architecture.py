"""The package's shape holds: imports follow the pipeline, modules stay small, the API is
lazy and complete.

The layers, lowest first (a module may import its own package and any lower layer, never a
higher one; see ``docs/architecture.md``)::

    _version, errors  <  progress, _raster, _files  <  routing  <  config  <  inputs  <  analysis
    <  siting  <  schemas  <  record  <  outputs  <  demo  <  pipeline  <  batch, service  <  cli
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "accessmap"

#: Top-level part of a module name -> its layer.
LAYERS: dict[str, int] = {
    "_version": 0, "errors": 0, "_locks": 0,
    "progress": 1, "_raster": 1, "_files": 1, "_sections": 1, "executors": 1,
    "routing": 2,
    "config": 3,
    "inputs": 4,
    "analysis": 5,
    "siting": 6,
    "schemas": 7,
    "record": 8,
    "outputs": 9,
    "demo": 10,
    "pipeline": 11,
    "batch": 12, "service": 12, "compare": 12,
    "cli": 13,
}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(("accessmap", *parts))] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """accessmap modules imported by ``path`` (anywhere but under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "accessmap":
                found.update(f"accessmap.{a.name}" for a in node.names
                             if f"accessmap.{a.name}" in MODULES)
                found.add("accessmap")
            elif node.module.startswith("accessmap."):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names
                             if f"{node.module}.{a.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("accessmap"))
    return found


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else 99


def test_every_module_has_a_layer() -> None:
    unknown = sorted({m.split(".")[1] for m in MODULES if m != "accessmap"} - set(LAYERS))
    assert not unknown, f"give these a layer in tests/test_architecture.py: {unknown}"


def test_no_import_runs_against_the_flow() -> None:
    back = []
    for module, imported in GRAPH.items():
        if module == "accessmap":
            continue
        for target in imported:
            if target == "accessmap":
                back.append(f"{module} imports the package root")
            elif target.split(".")[1] != module.split(".")[1] and \
                    _layer(target) >= _layer(module):
                back.append(f"{module} -> {target}")
    assert not back, "imports against the pipeline's flow:\n" + "\n".join(sorted(back))


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if target not in GRAPH or target == "accessmap":
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target] if target in path
                              else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in GRAPH:
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_engine_imports_nothing_of_ours_but_errors() -> None:
    """So it can be tested, benchmarked and shipped to Dask workers alone."""
    for name in ("accessmap.routing.engine", "accessmap.routing._kernels"):
        own = {m for m in GRAPH[name] if not m.startswith("accessmap.routing._")}
        assert own <= {"accessmap.errors"}, (name, own)


def test_stages_never_import_the_pipeline_record_or_outputs() -> None:
    stage_packages = ("inputs", "routing", "analysis", "siting")
    for module, imported in GRAPH.items():
        if module.split(".")[1:2] and module.split(".")[1] in stage_packages:
            forbidden = {m for m in imported
                         if m.split(".")[1] in ("pipeline", "cli", "record", "outputs")}
            assert not forbidden, (module, forbidden)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small_and_declares_its_api(module: str) -> None:
    path = MODULES[module]
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (> {MAX_LINES})"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
    names = {t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(t, ast.Name)}
    assert "__all__" in names, f"{path.relative_to(ROOT)} has no __all__"


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return done.stdout.strip()


def test_import_accessmap_is_fast_and_light() -> None:
    out = _python(
        "import sys, time; start = time.perf_counter(); import accessmap; "
        "took = time.perf_counter() - start; "
        "heavy = [m for m in ('numpy', 'pandas', 'geopandas', 'folium', 'matplotlib', "
        "'ortools', 'scipy', 'rasterio') if m in sys.modules]; "
        "print(f'{took:.3f}', ','.join(heavy))")
    took, _, heavy = out.partition(" ")
    assert float(took) < 0.3
    assert heavy == ""


def test_public_names_resolve_lazily() -> None:
    import accessmap

    for name in accessmap.__all__:
        assert getattr(accessmap, name) is not None, name
    assert accessmap.run.__module__ == "accessmap.pipeline"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = accessmap.nothing  # type: ignore[attr-defined]


def test_running_a_stage_does_not_load_the_map_or_figures() -> None:
    out = _python(
        "import sys; import accessmap; accessmap.nearest_facility_times; "
        "accessmap.Scenario; accessmap.recommend_sites; "
        "print(','.join(m for m in ('folium', 'matplotlib') if m in sys.modules))")
    assert out == ""
