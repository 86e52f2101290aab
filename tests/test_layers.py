"""The package layout is the pipeline, and imports only point down it.

Each sub-package is a stage; a module may import from its own stage or a lower one, never a higher one. The faces
(``serve``, ``evaluation``) sit on top, so nothing in the pipeline depends on the CLI, the page or the metrics.
Imports inside functions (the lazy ones) count the same as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Lowest first. The top-level modules that are not stages are the shared core (errors, records, settings, ...).
# ``cluster`` (Ray) runs the pipeline elsewhere: the build's reading, chunking and embedding (above index) and the
# shards' actors that search for the assistant (below it); it sits between answer and assistant, and only it
# imports ray.
LAYERS = ("core", "ingest", "embed", "index", "search", "answer", "cluster", "assistant", "evaluation", "serve")
TOP_LEVEL = {"assistant": "assistant", "__init__": "assistant", "__main__": "serve"}


def layer_of(module: str) -> str:
    """``qa.index.build`` -> ``index``; ``qa.errors`` -> ``core``; ``qa`` itself -> its ``__init__``'s layer."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[0] in LAYERS:
        return parts[0]
    return TOP_LEVEL.get(parts[0], "core")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def imported_modules(tree: ast.AST, importer: str, is_package: bool) -> list[tuple[int, str]]:
    """Every ``qa`` module a module imports, with its line: ``from qa.x import y`` counts as ``qa.x``, and
    ``from qa import y`` as ``qa.y`` (y is a stage or a top-level module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importer's package
                package = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
                base = ".".join([*package, *([base] if base else [])])
            found += [(node.lineno, f"{base}.{alias.name}" if base == "qa" else base) for alias in node.names]
    return [(line, name) for line, name in found if name == "qa" or name.startswith("qa.")]


def layer_violations(root: Path) -> list[str]:
    """``path:line: qa.lower imports qa.higher (layer -> layer)`` for every import that points up."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        own = LAYERS.index(layer_of(importer))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, name in imported_modules(tree, importer, path.name == "__init__.py"):
            if LAYERS.index(layer_of(name)) > own:
                problems.append(f"{path.relative_to(root.parent)}:{line}: {importer} imports {name} "
                                f"({layer_of(importer)} -> {layer_of(name)})")
    return problems


def test_imports_only_point_down_the_pipeline() -> None:
    assert layer_violations(REPO / "qa") == []


def test_every_sub_package_is_a_known_layer() -> None:
    packages = {p.parent.name for p in (REPO / "qa").glob("*/__init__.py")}
    assert packages <= set(LAYERS), f"sub-packages with no place in LAYERS: {packages - set(LAYERS)}"


@pytest.mark.parametrize(("source", "expected"), [
    ("from qa.serve.cli import main\n", "qa.index.store imports qa.serve.cli (index -> serve)"),
    ("def f():\n    from qa import assistant\n", "qa.index.store imports qa.assistant (index -> assistant)"),
    ("import qa.search.searcher\n", "qa.index.store imports qa.search.searcher (index -> search)"),
    ("from ..answer import cues\n", "qa.index.store imports qa.answer (index -> answer)"),
])
def test_the_check_finds_an_import_that_points_up(tmp_path: Path, source: str, expected: str) -> None:
    package = tmp_path / "qa" / "index"
    package.mkdir(parents=True)
    (tmp_path / "qa" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text(f"from qa.errors import QAError\nfrom qa.ingest import chunking\n{source}")
    problems = layer_violations(tmp_path / "qa")
    assert len(problems) == 1 and problems[0].endswith(expected), problems
