"""The one JSON writer: strict JSON only, and nothing in the package writes JSON past it."""

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from photoface.jsonfile import json_text, write_json

SRC = Path(__file__).resolve().parents[1] / "src" / "photoface"


def strict_load(text: str):
    """json.loads that refuses NaN / Infinity, as browsers, jq and most languages do."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_and_numpy_becomes_plain(tmp_path):
    obj = {"objective": (float("nan"), 3.5), "inf": -math.inf, "arr": np.array([1.0, np.nan, np.inf]),
           "n": np.int64(4), "f": np.float32(0.5), "flag": np.bool_(True), "path": tmp_path, 7: "key"}
    data = strict_load(json_text(obj))
    assert data == {"objective": [None, 3.5], "inf": None, "arr": [1.0, None, None], "n": 4, "f": 0.5,
                    "flag": True, "path": str(tmp_path), "7": "key"}
    path = write_json(tmp_path / "a.json", obj)
    assert strict_load(path.read_text()) == data and path.read_text().endswith("\n")
    assert "\n" not in json_text(obj, compact=True) and ", " not in json_text(obj, compact=True)


def test_strict_loader_of_these_tests_really_refuses_nan():
    with pytest.raises(ValueError):
        strict_load('{"a": NaN}')


def _json_dump_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("dump", "dumps")
            and isinstance(node.value, ast.Name) and node.value.id == "json"]


def test_every_json_written_by_the_package_goes_through_jsonfile():
    offenders = {str(p.relative_to(SRC)): lines for p in sorted(SRC.rglob("*.py"))
                 if p.name != "jsonfile.py" and (lines := _json_dump_calls(p))}
    assert not offenders, f"json.dump(s) outside photoface/jsonfile.py (use json_text / write_json): {offenders}"
