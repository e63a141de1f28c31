"""Read a ``view.html`` back: its JSON object and its buffers as numpy arrays (the page's format,
``photoface.apps.viewer.page``)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import numpy as np

DTYPES = {"u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "f32": np.float32}


def read_view(path: Path) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    start = text.index('<script id="photoface-data" type="application/json">')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])


def buffer(buf: dict) -> np.ndarray:
    raw = base64.b64decode(buf["b64"])
    if buf["deflate"]:
        raw = zlib.decompress(raw)
    n = buf["planes"]
    data = np.frombuffer(raw, np.uint8)
    if n > 1:
        data = data.reshape(n, -1).T.copy()
    return data.view(np.dtype(DTYPES[buf["dtype"]]).newbyteorder("<")).ravel()


def mesh_arrays(data: dict, k: int) -> dict:
    """Mesh ``k``: verts (V, 3) mm, colours (V, 3) uint8, error (V,) mm or None, faces (F, 3)."""
    m = data["meshes"][k]
    topo = data["topologies"][m["topology"]]
    ref = buffer(topo["reference"]).reshape(-1, 3).astype(np.float64)
    verts = ref + (buffer(m["positions"]).reshape(-1, 3).astype(np.float64) - 32768) * m["step_mm"]
    err = None if "error" not in m else buffer(m["error"]).astype(np.float64) / 255 * m["error_max_mm"]
    return {"verts": verts, "colours": buffer(m["colours"]).reshape(-1, 3), "error": err,
            "faces": buffer(topo["faces"]).reshape(-1, 3), "label": m["label"]}
