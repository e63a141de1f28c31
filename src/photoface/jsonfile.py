"""The one JSON writer: text that strict parsers accept, written atomically.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which JSON does not have and strict
parsers (browsers, ``jq``, most languages) reject; ``person.json`` once held a ``NaN`` objective.
Every JSON file or line photoface writes goes through :func:`json_text`, which turns non-finite
floats into ``null`` (a value that is not known), numpy scalars and arrays into plain numbers and
lists, and paths into strings, then serialises with ``allow_nan=False`` so nothing non-finite can
slip through. Ground floor: standard library and numpy only, open to every package.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic


def plain(obj):
    """``obj`` as plain JSON values: dicts (str keys), lists, finite floats (NaN/±inf → None),
    ints, bools, strings, None. numpy scalars and arrays and torch-free containers are converted."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def json_text(obj, indent: int | None = None, compact: bool = False) -> str:
    """Strict JSON text of ``obj`` (:func:`plain` first; no trailing newline).

    ``compact`` uses ``(",", ":")`` separators (one-line records such as ``index.jsonl``)."""
    separators = (",", ":") if compact else None
    return json.dumps(plain(obj), indent=indent, separators=separators, allow_nan=False)


def write_json(path, obj, indent: int | None = 1) -> Path:
    """Write ``obj`` as strict JSON (:func:`json_text`, newline-terminated) to ``path`` atomically."""
    return write_atomic(path, json_text(obj, indent=indent) + "\n")
