"""``view.html``: an output folder's faces in one self-contained page (WebGL, nothing fetched).

The page is ``viewer.html`` with ``viewer.js`` and the data inlined; it opens from ``file://``
offline in any browser with WebGL and ``DecompressionStream`` (Chromium 80, Firefox 113,
Safari 16.4). Each face is one input photo: a thumbnail, the photo and the render over it, one or
more meshes shown side by side (``fit``: the photo's mesh and the person's identity), its codes as
numbers, and where a true mesh exists, the per-vertex error.

Data (a JSON object in ``<script id="photoface-data">``):

* ``topologies``: each triangle list once, (F, 3) uint16 (uint32 past 65,535 vertices), a
  reference shape (V, 3) float32 mm, the first mesh written with that topology, and optionally
  the face model's ambient occlusion (V,) uint8 over [0, 1] (``apps.preview.model_occlusion``),
  which darkens the cavities of the grey "shaded" mode;
* ``meshes``: positions as uint16 offsets from the reference in steps of ``step_mm`` (biased by
  32768; 1/64 mm unless a mesh lies farther than 512 mm from the reference), albedo as (V, 3)
  uint8 linear RGB, the error as (V,) uint8 over [0, ``error_max_mm``]; a mesh shared by several
  faces (a person's identity, ``ViewMesh.key``) is stored once;
* ``faces``: name, group (person), JPEG data URIs (thumbnail, photo, render over the photo), the
  indices of their meshes and their codes ``{"pose": {name: value}, "expression": [...],
  "numbers": {name: value}}``.

Each buffer is little-endian, split into byte planes (all first bytes, then all second bytes...)
and zlib-deflated, then base64. Offsets from a reference split into planes deflate well, their high
bytes being nearly constant: the positions of one 37,249-vertex mesh (the test surface of
``tests/apps/viewer/test_viewer_page.py``) take 45 KB so, 57 KB without the planes, 225 KB as
uint16 quantised in the bounding box and deflated, 298 KB raw; a random face of ``builtin:paper``
(37,119 vertices, standard-normal identity) takes 148 KB. 50 faces of that test surface, 10
people, with two 320-px JPEGs each, make an 11.8 MB page (the test's bound is 20 MB).
"""

from __future__ import annotations

import base64
import io
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from photoface.atomic import write_atomic
from photoface.errors import PhotofaceError
from photoface.jsonfile import json_text
from photoface.pixels import to_uint8

VIEW_FILE = "view.html"
STEP_MM = 1.0 / 64.0
THUMB_SIDE = 96  # px
PHOTO_SIDE = 320  # px: the longer side of the photo and of the render over it
JPEG_QUALITY = 85


@dataclass
class ViewMesh:
    """One mesh of the page.

    Args:
        label: caption under the mesh ("photo", "identity").
        verts: (V, 3) millimetres, the face model's canonical frame.
        colours: (V, 3) albedo, linear RGB in [0, 1].
        error: (V,) millimetres to the true mesh, or None.
        key: meshes with the same key (a person's identity) are stored once, the first one's arrays.
    """

    label: str
    verts: np.ndarray
    colours: np.ndarray
    error: np.ndarray | None = None
    key: str | None = None


@dataclass
class ViewFace:
    """One input photo of the page.

    Args:
        name, group: the photo's output name and its person (or "" for none).
        photo: (H, W, 3) uint8, the input photo around the face.
        overlay: (H, W, 3) uint8, the render over ``photo``, or None.
        meshes: shown side by side.
        codes: ``{"pose": {name: value}, "expression": [...], "numbers": {name: value}}``, any subset.
    """

    name: str
    group: str
    photo: np.ndarray
    overlay: np.ndarray | None
    meshes: list[ViewMesh]
    codes: dict = field(default_factory=dict)


def _buffer(arr: np.ndarray, planes: bool = True) -> dict:
    arr = np.ascontiguousarray(arr)
    dtype = {np.uint8: "u8", np.uint16: "u16", np.uint32: "u32", np.float32: "f32"}[arr.dtype.type]
    raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    n = arr.dtype.itemsize if planes else 1
    data = raw.view(np.uint8).reshape(-1, n).T.tobytes() if n > 1 else raw.tobytes()
    return {"dtype": dtype, "planes": n, "deflate": True, "b64": base64.b64encode(zlib.compress(data, 9)).decode("ascii")}


def _jpeg(img: np.ndarray, side: int) -> str:
    im = Image.fromarray(np.asarray(img, np.uint8))
    scale = side / max(im.size)
    if scale < 1.0:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _checked(mesh: ViewMesh, n_vertices: int) -> None:
    shapes = [(mesh.verts, (n_vertices, 3)), (mesh.colours, (n_vertices, 3))]
    if mesh.error is not None:
        shapes.append((mesh.error, (n_vertices,)))
    for arr, shape in shapes:
        if np.shape(arr) != shape or not np.isfinite(arr).all():
            raise PhotofaceError(f"viewer mesh {mesh.label!r}: expected finite arrays of shape {shape}, got {np.shape(arr)}")


def _encode_mesh(mesh: ViewMesh, topology: int, reference: np.ndarray) -> dict:
    offset = np.asarray(mesh.verts, np.float64) - reference
    step = max(STEP_MM, float(np.abs(offset).max(initial=0.0)) / 32000.0)
    q = np.clip(np.round(offset / step) + 32768, 0, 65535).astype(np.uint16)
    out = {"label": mesh.label, "topology": topology, "step_mm": step, "positions": _buffer(q),
           "colours": _buffer(to_uint8(np.asarray(mesh.colours, np.float64)))}
    if mesh.error is not None:
        err = np.asarray(mesh.error, np.float64)
        top = max(float(err.max(initial=0.0)), 1e-6)
        out.update(error=_buffer(np.round(255.0 * err / top).astype(np.uint8)), error_max_mm=top,
                   error_mean_mm=float(err.mean()))
    return out


class ViewBuilder:
    """The page's data, built one face at a time: each face is encoded when added, so that a long
    run holds its compressed bytes only, not its meshes.

    Args:
        triangles: (F, 3) the topology of every mesh.
        title, notes: the page's heading and a line under it.
        occlusion: (V,) in [0, 1], the face model's ambient occlusion, or None (no darkening).
    """

    def __init__(self, triangles: np.ndarray, title: str, notes: str = "", occlusion: np.ndarray | None = None):
        self.triangles = np.asarray(triangles)
        self.n_vertices = int(self.triangles.max()) + 1 if self.triangles.size else 0
        if occlusion is not None:
            occlusion = np.asarray(occlusion, np.float64)
            if occlusion.shape != (self.n_vertices,) or not np.isfinite(occlusion).all():
                raise PhotofaceError(f"viewer occlusion: expected {self.n_vertices} finite values, got shape "
                                     f"{occlusion.shape}")
        self.occlusion = occlusion
        self.title, self.notes = title, notes
        self.reference: np.ndarray | None = None
        self.meshes: list[dict] = []
        self.records: list[dict] = []
        self._shared: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.records)

    def add(self, face: ViewFace) -> None:
        ids = []
        for m in face.meshes:
            if m.key is not None and m.key in self._shared:
                ids.append(self._shared[m.key])
                continue
            _checked(m, self.n_vertices)
            if self.reference is None:
                self.reference = np.asarray(m.verts, np.float32).astype(np.float64)
            ids.append(len(self.meshes))
            self.meshes.append(_encode_mesh(m, 0, self.reference))
            if m.key is not None:
                self._shared[m.key] = ids[-1]
        self.records.append({"name": face.name, "group": face.group, "thumb": _jpeg(face.photo, THUMB_SIDE),
                             "photo": _jpeg(face.photo, PHOTO_SIDE),
                             "overlay": None if face.overlay is None else _jpeg(face.overlay, PHOTO_SIDE),
                             "meshes": ids, "codes": face.codes})

    def data(self) -> dict:
        """The page's JSON object (module docstring)."""
        ref = np.zeros((0, 3)) if self.reference is None else self.reference
        dtype = np.uint16 if self.n_vertices <= 65535 else np.uint32
        topology = {"faces": _buffer(self.triangles.astype(dtype).ravel()), "reference": _buffer(ref.astype(np.float32))}
        if self.occlusion is not None:
            topology["occlusion"] = _buffer(to_uint8(self.occlusion))
        return {"title": self.title, "notes": self.notes, "topologies": [topology], "meshes": self.meshes,
                "faces": self.records}

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` atomically; returns the path."""
        return write_atomic(Path(path), render_page(self.data()))


def render_page(data: dict) -> str:
    """The HTML of the page: the template with the script and ``data`` inlined."""
    pkg = resources.files("photoface.apps.viewer")
    template = (pkg / "viewer.html").read_text(encoding="utf-8")
    script = (pkg / "viewer.js").read_text(encoding="utf-8")
    # "</" inside a <script> element would end it early
    payload = json_text(data, compact=True).replace("</", "<\\/")
    head, _, rest = template.partition("__PHOTOFACE_DATA__")
    middle, _, tail = rest.partition("__PHOTOFACE_SCRIPT__")
    return head + payload + middle + script + tail


def write_view(path: str | Path, faces: list[ViewFace], triangles: np.ndarray, title: str, notes: str = "",
               occlusion: np.ndarray | None = None) -> Path:
    """Write the page of ``faces`` (module docstring) to ``path`` atomically; returns the path."""
    builder = ViewBuilder(triangles, title, notes, occlusion)
    for face in faces:
        builder.add(face)
    return builder.write(path)
