"""MediaPipe's canonical face mesh, read from the ``.task`` file's geometry-pipeline metadata.

``geometry_pipeline_metadata_landmarks.binarypb`` is a serialised protobuf message
``GeometryPipelineMetadata`` (mediapipe/modules/face_geometry/protos, Apache-2.0):

* field 1 ``canonical_mesh`` (``Mesh3d``): field 3 ``vertex_buffer`` (packed floats, 5 per vertex:
  x, y, z in centimetres, then u, v), field 4 ``index_buffer`` (packed uint32, triangles);
* field 2 ``procrustes_landmark_basis`` (repeated ``WeightedLandmarkRef``: field 1 landmark id,
  field 2 weight): the landmarks, and their weights, that MediaPipe itself trusts to place the
  rigid head pose — points on the rigid part of the face, none on the lips or the jaw line.

mediapipe 1.2 wheels carry no Python classes for these messages, so the few wire-format rules
needed (varints, length-delimited and 32-bit fields) are decoded here.

The mesh's frame is photoface's model frame up to units (checked on the file: the subject's right
eye corner, landmark 33, has x < 0; the forehead has y > 0; the nose tip has the largest z), so
the only conversion is centimetres → millimetres.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from photoface.data.prepare.landmarker_file import task_member
from photoface.errors import PhotofaceError

METADATA_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
NUM_MESH_VERTICES = 468
"""Vertices of the canonical mesh; the FaceLandmarker's 478 points add 10 iris points (468–477)."""
NUM_LANDMARKS = 478


@dataclass(frozen=True)
class CanonicalMesh:
    """vertices (468, 3) mm, photoface's model frame; triangles (T, 3) int; procrustes_ids (P,) and
    procrustes_weights (P,): MediaPipe's rigid-pose landmarks and their weights."""

    vertices: np.ndarray
    triangles: np.ndarray
    procrustes_ids: np.ndarray
    procrustes_weights: np.ndarray


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of one message; value: int, bytes (length-delimited)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _packed_varints(buf: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        values.append(v)
    return values


def parse_metadata(buf: bytes) -> CanonicalMesh:
    """Decode a ``GeometryPipelineMetadata`` message (see the module docstring)."""
    floats: list[float] = []
    indices: list[int] = []
    ids, weights = [], []
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 2:
            for n, w, v in _fields(value):
                if n == 3 and w == 2:
                    floats.extend(struct.unpack(f"<{len(v) // 4}f", v))
                elif n == 3 and w == 5:
                    floats.append(struct.unpack("<f", v)[0])
                elif n == 4 and w == 2:
                    indices.extend(_packed_varints(v))
                elif n == 4 and w == 0:
                    indices.append(v)
        elif number == 2 and wire == 2:
            ref = {n: v for n, _, v in _fields(value)}
            ids.append(int(ref.get(1, 0)))
            weights.append(struct.unpack("<f", ref[2])[0] if 2 in ref else 0.0)
    if len(floats) != 5 * NUM_MESH_VERTICES or len(indices) % 3:
        raise ValueError(f"expected {NUM_MESH_VERTICES} vertices of 5 floats and whole triangles, "
                         f"got {len(floats)} floats and {len(indices)} indices")
    vertices = np.asarray(floats, np.float64).reshape(-1, 5)[:, :3] * 10.0  # cm → mm
    return CanonicalMesh(vertices, np.asarray(indices, np.int64).reshape(-1, 3),
                         np.asarray(ids, np.int64), np.asarray(weights, np.float64))


@lru_cache(maxsize=1)
def canonical_mesh() -> CanonicalMesh:
    """The canonical mesh of the installed, checked ``face_landmarker.task``."""
    try:
        return parse_metadata(task_member(METADATA_MEMBER))
    except ValueError as exc:
        raise PhotofaceError(f"{METADATA_MEMBER} in the MediaPipe face model is not a canonical mesh ({exc})") from None
