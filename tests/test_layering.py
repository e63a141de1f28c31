"""The package map of ARCHITECTURE.md, enforced: nothing imports upward.

Imports are read from the source with ``ast`` (function-level lazy imports included), so a
violation fails here even when no test happens to execute the offending line.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "photoface"

# What each package may NOT import (photoface.errors is open to everyone).
TOP = {"train", "evaluate", "apps", "cli"}
FORBIDDEN = {
    "mesh": {"facemodel", "render", "nn", "losses", "data", "fit"} | TOP,
    "facemodel": {"render", "nn", "losses", "data", "fit"} | TOP,
    "render": {"facemodel", "nn", "losses", "data", "fit"} | TOP,
    "nn": {"losses", "data", "fit"} | TOP,
    "losses": {"facemodel", "render", "nn", "data", "fit"} | TOP,
    "data": {"nn", "losses", "fit"} | TOP,
    "fit": {"train", "evaluate", "apps", "cli"},
    "train": {"apps", "cli"},
    "evaluate": {"apps", "cli"},
    "apps": {"cli"},
}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "photoface" and len(parts) > 1:
                found.add(parts[1])
    return found


SOURCES = sorted(p for p in SRC.rglob("*.py") if _package_of(p) in FORBIDDEN)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path):
    bad = _imported_packages(path) & FORBIDDEN[_package_of(path)]
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)} (upward in ARCHITECTURE.md)"


def test_the_check_sees_lazy_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from photoface.train.config import preset\n")
    assert _imported_packages(probe) == {"train"}
