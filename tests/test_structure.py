"""Package structure: the core ``codesign/`` imports no hardware family (``hwmodels``) and no
workload family (``workloads``), at any level, inside functions and ``TYPE_CHECKING`` blocks
included. Families reach the core through its registries and entry points
(``pyproject.toml``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "codesign"
FORBIDDEN = ("hwmodels", "workloads")


def _family_imports(path: Path) -> list[str]:
    """``line: module`` for every import of a forbidden package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append(f"{node.lineno}: {name}")
    return found


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_imports_no_family() -> None:
    offenders = {p.relative_to(ROOT).as_posix(): hits for p in _core_files()
                 if (hits := _family_imports(p))}
    assert offenders == {}


def test_checker_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from hwmodels.gpu import model\n    import workloads.x\n"
                   "    from . import hwmodels\n", encoding="utf-8")
    assert _family_imports(src) == ["2: hwmodels.gpu", "3: workloads.x"]


def test_the_checker_walks_the_core() -> None:
    assert len(_core_files()) > 50
