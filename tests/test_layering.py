"""The package map of docs/architecture.md, enforced: each layer imports only what the map allows.

The allowed imports are read from the layering table of docs/architecture.md itself, the one
declared place, so the map and the rule cannot drift apart. Imports are read from the source with
``ast`` (function-level lazy imports included), so a violation fails here even when no test
happens to execute the offending line.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "photoface"
MAP = ROOT / "docs" / "architecture.md"


def read_layering_table(text: str) -> dict[str, set[str]]:
    """{layer: layers it may import} from the rows between the layering-table markers."""
    start = text.index("<!-- layering table")
    end = text.index("<!-- end of layering table -->")
    allowed = {}
    for line in text[start:end].splitlines():
        m = re.match(r"^\|\s*([a-z_]+)\s*\|([^|]*)\|\s*$", line)
        if m and m.group(1) != "layer":
            allowed[m.group(1)] = {x.strip() for x in m.group(2).split(",") if x.strip()}
    return allowed


ALLOWED = read_layering_table(MAP.read_text())


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


SOURCES = sorted(p for p in SRC.rglob("*.py") if _package_of(p) != "__init__")


def test_every_package_is_on_the_map():
    packages = {_package_of(p) for p in SOURCES}
    assert packages <= set(ALLOWED), f"not in docs/architecture.md's layering table: {sorted(packages - set(ALLOWED))}"
    unknown = set().union(*ALLOWED.values()) - set(ALLOWED)
    assert not unknown, f"the table allows imports of unknown layers {sorted(unknown)}"


def test_the_map_has_no_cycle():
    def below(layer, seen=()):
        for dep in ALLOWED[layer]:
            assert dep not in seen + (layer,), f"cycle through {layer} and {dep}"
            below(dep, seen + (layer,))

    for layer in ALLOWED:
        below(layer)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_map(path):
    package = _package_of(path)
    bad = _imported_packages(path) - ALLOWED[package] - {package, "errors"}
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}: not allowed for {package!r} in docs/architecture.md"


def test_the_check_sees_lazy_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from photoface.train.loop import Trainer\n")
    assert _imported_packages(probe) == {"train"}


def test_the_table_reader_reads_rows_and_ignores_the_rest():
    text = "x\n<!-- layering table -->\n| layer | may import |\n|---|---|\n| a | |\n| b | a, errors |\n<!-- end of layering table -->\n| c | b |"
    assert read_layering_table(text) == {"a": set(), "b": {"a", "errors"}}
