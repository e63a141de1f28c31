"""A small VRML (.wrl) reader for triangle-mesh scans: the IndexedFaceSet geometry only.

Why our own: trimesh (our mesh library) has no VRML loader, and the MICC Florence ground-truth
scans ship as VRML next to their OBJ files. A general VRML implementation (prototypes, scripts,
routes, interpolators) would be far more than the scans need; this reader parses the VRML syntax
generically (nodes, fields, DEF/USE, lists) and then extracts what a scan uses:

* VRML 2.0 / VRML97: ``Shape { geometry IndexedFaceSet { coord Coordinate { point [...] }
  coordIndex [...] } }`` anywhere under grouping nodes (``Transform`` translation / rotation /
  scale / center are applied; ``children`` lists are walked);
* VRML 1.0: ``Coordinate3 { point [...] }`` followed by ``IndexedFaceSet { coordIndex [...] }``
  inside ``Separator`` groups (VRML 1.0 transform nodes are rejected, not silently ignored);
* gzip-compressed files (``.wrl.gz`` or gzip content).

Polygons are fan-triangulated. Units are the file's (MICC scans: millimetres).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]|[^\s,{}\[\]"]+')
_COMMENT = re.compile(r'("(?:[^"\\]|\\.)*")|#[^\n]*')
_VRML1_TRANSFORMS = {"Transform", "Translation", "Rotation", "Scale", "MatrixTransform"}


@dataclass
class Node:
    """A parsed VRML node: its type, named fields, and (VRML 1.0) unnamed children."""

    type: str
    fields: dict = field(default_factory=dict)
    children: list = field(default_factory=list)


class _Parser:
    def __init__(self, tokens: list[str], path: Path):
        self.tokens, self.pos, self.path, self.defs = tokens, 0, path, {}

    def fail(self, problem: str):
        raise InputFileError(self.path, f"VRML: {problem} (near token {self.pos})")

    def peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            self.fail("unexpected end of file")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def starts_node(self) -> bool:
        tok = self.peek()
        return tok in ("DEF", "USE", "NULL") or (tok is not None and tok[0].isalpha()
                                                and self.peek(1) == "{")

    def node(self):
        tok = self.take()
        if tok == "NULL":
            return None
        if tok == "USE":
            name = self.take()
            if name not in self.defs:
                self.fail(f"USE of undefined name {name!r}")
            return self.defs[name]
        name = None
        if tok == "DEF":
            name, tok = self.take(), self.take()
        if self.take() != "{":
            self.fail(f"expected '{{' after node type {tok!r}")
        node = Node(tok)
        if name is not None:
            self.defs[name] = node
        while self.peek() != "}":
            if self.peek() is None:
                self.fail(f"unterminated node {tok!r}")
            if self.peek() in ("ROUTE",):
                self.pos += 4  # ROUTE a.b TO c.d
            elif self.starts_node():
                node.children.append(self.node())
            else:
                key = self.take()
                node.fields[key] = self.value()
        self.take()
        return node

    def value(self):
        if self.peek() == "[":
            self.take()
            try:
                end = self.tokens.index("]", self.pos)
            except ValueError:
                self.fail("unterminated list")
            chunk = self.tokens[self.pos:end]
            if "{" not in chunk and "USE" not in chunk:
                self.pos = end + 1  # a plain list of numbers: the bulk of a scan, taken at once
                return chunk
            items = []
            while self.peek() != "]":
                if self.peek() is None:
                    self.fail("unterminated list")
                items.append(self.node() if self.starts_node() else self.take())
            self.take()
            return items
        if self.starts_node():
            return self.node()
        values = []
        while self.peek() is not None and self.peek() not in ("}", "[") and not (
            values and self.peek()[0].isalpha() and self.peek() not in ("TRUE", "FALSE")
        ):
            values.append(self.take())
            if values[-1][0].isalpha() or values[-1][0] == '"':
                break  # SFBool, SFString or an enum: a single token
        return values

    def statements(self) -> list:
        out = []
        while self.peek() is not None:
            if self.peek() == "ROUTE":
                self.pos += 4
            elif self.peek() in ("PROTO", "EXTERNPROTO"):
                self.fail("PROTO declarations are not supported")
            else:
                out.append(self.node())
        return out


def _floats(values, path, what) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        raise InputFileError(path, f"VRML: non-numeric value in {what}") from None


def _triangulate(index: np.ndarray, n_points: int, path: Path) -> np.ndarray:
    if index.size and index[-1] != -1:
        index = np.append(index, -1)
    ends = np.flatnonzero(index == -1)
    starts = np.r_[0, ends[:-1] + 1]
    n_tri = np.maximum(ends - starts - 2, 0)  # a polygon of n corners gives n - 2 fan triangles
    first = np.repeat(starts, n_tri)
    k = np.arange(n_tri.sum()) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)
    faces = np.stack([index[first], index[first + 1 + k], index[first + 2 + k]], axis=1)
    if faces.size and (faces.min() < 0 or faces.max() >= n_points):
        raise InputFileError(path, f"VRML: coordIndex refers to a point outside 0..{n_points - 1}")
    return faces.astype(np.int64)


def _transform_matrix(node: Node) -> np.ndarray:
    def vec(name, default):
        v = node.fields.get(name)
        return np.asarray(v, dtype=np.float64) if v else np.asarray(default, dtype=np.float64)

    t, c, s = vec("translation", [0, 0, 0]), vec("center", [0, 0, 0]), vec("scale", [1, 1, 1])
    axis_angle = vec("rotation", [0, 0, 1, 0])
    axis, angle = axis_angle[:3], axis_angle[3]
    r = np.eye(3)
    if angle != 0 and np.linalg.norm(axis) > 0:
        k = axis / np.linalg.norm(axis)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        r = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
    m = np.eye(4)
    m[:3, :3] = r @ np.diag(s)
    m[:3, 3] = t + c - r @ (s * c)  # T · C · R · S · C⁻¹ (scaleOrientation unsupported)
    return m


def _collect(node, matrix, out, path, state):
    if node is None:
        return
    if node.type in _VRML1_TRANSFORMS and state["version"] == 1:
        raise InputFileError(path, f"VRML 1.0 {node.type} nodes are not supported")
    if node.type == "Transform":
        so = node.fields.get("scaleOrientation")
        if so and float(so[3]) != 0:
            raise InputFileError(path, "VRML: Transform scaleOrientation is not supported")
        matrix = matrix @ _transform_matrix(node)
    if node.type == "Coordinate3":
        state["coords"] = _floats(node.fields.get("point", []), path, "point").reshape(-1, 3)
    if node.type == "IndexedFaceSet":
        coord = node.fields.get("coord")
        if isinstance(coord, Node):
            pts = _floats(coord.fields.get("point", []), path, "point")
            if pts.size % 3:
                raise InputFileError(path, "VRML: point list length is not a multiple of 3")
            pts = pts.reshape(-1, 3)
        elif state.get("coords") is not None:
            pts = state["coords"]
        else:
            raise InputFileError(path, "VRML: IndexedFaceSet without coordinates")
        index = _floats(node.fields.get("coordIndex", []), path, "coordIndex").astype(np.int64)
        faces = _triangulate(index, len(pts), path)
        pts = pts @ matrix[:3, :3].T + matrix[:3, 3]
        out.append((pts, faces))
    saved = state.get("coords")
    nested = list(node.children)
    for key, val in node.fields.items():
        if key == "coord":
            continue  # coordinates are read by their IndexedFaceSet above
        if isinstance(val, Node):
            nested.append(val)
        elif isinstance(val, list) and val and not isinstance(val[0], str):  # a list of nodes
            nested += [v for v in val if isinstance(v, Node)]
    for child in nested:
        _collect(child, matrix, out, path, state)
    if node.type == "Separator":
        state["coords"] = saved  # VRML 1.0 property scope ends with the separator


def read_vrml(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the IndexedFaceSet geometry of a .wrl file.

    Returns:
        verts (V, 3) float64 in the file's units, faces (F, 3) int64; several shapes are
        concatenated with their indices offset.

    Raises:
        InputFileError: unreadable file, not VRML, unsupported construct, or no geometry.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8", errors="replace")
    header = text.lstrip()[:12]
    if not header.startswith("#VRML V"):
        raise InputFileError(path, "not a VRML file (no '#VRML V1.0' / '#VRML V2.0' header)")
    version = 1 if header.startswith("#VRML V1") else 2
    tokens = _TOKEN.findall(_COMMENT.sub(lambda m: m.group(1) or "", text))
    roots = _Parser(tokens, path).statements()
    shapes: list = []
    state = {"version": version, "coords": None}
    for root in roots:
        _collect(root, np.eye(4), shapes, path, state)
    if not shapes:
        raise InputFileError(path, "VRML: no IndexedFaceSet geometry found")
    verts, faces, offset = [], [], 0
    for pts, f in shapes:
        verts.append(pts)
        faces.append(f + offset)
        offset += len(pts)
    return np.concatenate(verts), np.concatenate(faces)
