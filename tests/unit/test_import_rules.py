"""The import rules of ARCHITECTURE (README.md, "Where things live"), checked on the source of every module.

Every `import` and `from ... import` is read from the syntax tree, including those inside functions and under
`TYPE_CHECKING` (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_batch"
NAME = "airflow_provider_batch"

# What each part of the package may import from the package, by the part's top-level name.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "_proto": frozenset({"_proto"}),
    "common": frozenset({"common", "_proto"}),
    "clients": frozenset({"clients", "common", "_proto", "__init__"}),
    "emulators": frozenset({"emulators", "_proto"}),
    "backends": frozenset({"__init__", "common", "hooks"}),  # hooks only to name the hook class's type
    "hooks": frozenset({"hooks", "clients", "common", "_proto", "backends", "connection_fields", "get_provider_info"}),
}
NO_AIRFLOW = ("_proto", "common", "clients", "emulators", "backends", "jobservice/boundary.py", "jobservice/store.py")


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), str(path))
    inside = path.is_relative_to(PACKAGE)
    package = ".".join((NAME, *path.relative_to(PACKAGE).parent.parts)) if inside else NAME
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.append(node.module)
    return names


SOURCES = sorted(
    p for p in PACKAGE.rglob("*.py") if "_proto/armada" not in str(p) and "_proto/jobservice" not in str(p)
)


def _ours(imported: str) -> str | None:
    """The part of the package an import names (None for anything outside it)."""
    if imported == NAME:
        return "__init__"
    if imported.startswith(NAME + "."):
        return imported.split(".")[1]
    return None


def test_the_rules_see_every_part() -> None:
    parts = {_part(p) for p in SOURCES}
    assert {"common", "clients", "hooks", "operators", "triggers", "jobservice", "compat", "emulators"} <= parts


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layering(path: Path) -> None:
    part = _part(path)
    relative = str(path.relative_to(PACKAGE))
    imported = _imports(path)
    ours = [(name, _ours(name)) for name in imported if _ours(name) is not None]
    if part != "compat":
        assert not [n for n, p in ours if p == "compat"], f"{relative}: the core never imports compat"
    allowed = MAY_IMPORT.get(part)
    if allowed is not None:
        wrong = [n for n, p in ours if p not in allowed]
        assert not wrong, f"{relative} ({part}) may import only {sorted(allowed)} from the package, not {wrong}"
    if relative.startswith(NO_AIRFLOW) or part in NO_AIRFLOW:
        airflow = [n for n in imported if n == "airflow" or n.startswith("airflow.")]
        assert not airflow, f"{relative}: no Airflow import here, found {airflow}"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The rules are not vacuous: a client importing a hook, or Airflow, is seen."""
    source = tmp_path / "x.py"
    source.write_text(
        "def f():\n    from airflow_provider_batch.hooks.armada import ArmadaHook\n    import airflow.sdk\n"
    )
    found = _imports(source)
    assert found == ["airflow_provider_batch.hooks.armada", "airflow.sdk"]
    assert _ours(found[0]) == "hooks"
    assert "hooks" not in MAY_IMPORT["clients"]
