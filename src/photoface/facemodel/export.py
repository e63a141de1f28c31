"""Mesh files (.obj, .ply or .glb) with per-vertex colours: one face of a model, or any decoded mesh.

Writing goes through trimesh. Meshes are built with ``process=False`` so that the model's
vertex order (its dense correspondence) is kept and coincident vertices, such as the two lips
of a closed mouth, are not merged. Colours are the albedo in [0, 1] stored as 8-bit RGB; OBJ
carries them as the non-standard but widely read ``v x y z r g b`` extension, PLY natively,
glTF as the ``COLOR_0`` attribute (normalised unsigned bytes, linear RGB as glTF defines it).
Positions are in the model's canonical frame, in millimetres in .obj and .ply; a .glb holds
metres, glTF's unit, so that Blender, three.js and model viewers show the face at its true size
(the frames agree: glTF's +Y up, +Z out of the front, +X the asset's left). The .glb also carries
vertex normals, without which glTF viewers shade every triangle flat.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import trimesh

from photoface.atomic import write_atomic
from photoface.errors import PhotofaceError
from photoface.facemodel.model import MorphableModel, fold_into_bounds
from photoface.pixels import to_uint8

FORMATS = (".obj", ".ply", ".glb")
GLTF_METRES_PER_MM = 1e-3


def parse_coefficients(text: str | None, count: int, what: str, kind: str = "normal", bounds=None) -> torch.Tensor:
    """(1, count) coefficients from the CLI: ``None``/"" = zeros, ``random:SEED``, or a comma list.

    A list may be shorter than ``count`` (the rest are 0). ``random:SEED`` draws standard-normal
    values, or for ``kind="blendshape"`` sparse weights in [0, 1] (as ``MorphableModel.sample``),
    folded into ``bounds`` ((count, 2), ``MorphableModel.exp_bounds``; e.g. FLAME's jaw opening
    half-normal) when given. A list is taken as written.
    """
    out = torch.zeros(1, count)
    if not text:
        return out
    text = text.strip()
    if text.startswith("random:"):
        try:
            seed = int(text.split(":", 1)[1])
        except ValueError:
            raise PhotofaceError(f"--{what} {text!r}: expected random:SEED with an integer seed") from None
        g = torch.Generator().manual_seed(seed)
        if kind == "blendshape":
            on = torch.rand(1, count, generator=g) < 0.3
            drawn = torch.rand(1, count, generator=g) * on
        else:
            drawn = torch.randn(1, count, generator=g)
        return drawn if bounds is None else fold_into_bounds(drawn, bounds)
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise PhotofaceError(f"--{what} {text!r}: expected comma-separated numbers or random:SEED") from None
    if len(values) > count:
        raise PhotofaceError(f"--{what}: {len(values)} values given, the model has {count}")
    out[0, : len(values)] = torch.tensor(values)
    return out


def colour_mesh(verts, faces, colours) -> trimesh.Trimesh:
    """A trimesh with per-vertex colours, vertex order kept.

    Args:
        verts: (V, 3) mm; faces: (F, 3) ints, counter-clockwise seen from outside;
        colours: (V, 3) in [0, 1] (clipped), stored as 8-bit RGB.
    """
    rgb = to_uint8(np.asarray(colours))
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    return trimesh.Trimesh(vertices=np.asarray(verts, np.float64), faces=np.asarray(faces, np.int64),
                           vertex_colors=rgba, process=False, validate=False)


def write_mesh(path, verts, faces, colours) -> Path:
    """Write a mesh with per-vertex colours as .obj (``v x y z r g b``), .ply (binary) or .glb
    (metres, module docstring), chosen by the suffix; arguments as :func:`colour_mesh`. Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PhotofaceError(f"{path}: unsupported mesh format {suffix!r}; use one of {', '.join(FORMATS)}")
    mesh = colour_mesh(verts, faces, colours)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".glb":
        mesh.vertices = mesh.vertices * GLTF_METRES_PER_MM
        data = trimesh.exchange.gltf.export_glb(trimesh.Scene(mesh), include_normals=True)
        write_atomic(path, data)
    elif suffix == ".obj":
        data = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=True, include_texture=False)
        write_atomic(path, data)
    else:
        write_atomic(path, trimesh.exchange.ply.export_ply(mesh, encoding="binary"))
    return path


def _face_arrays(model: MorphableModel, alpha_id, alpha_exp, beta):
    with torch.no_grad():
        verts = model.shape(alpha_id, alpha_exp)[0].cpu().numpy()
        colours = model.albedo(beta)[0].cpu().numpy()
    return verts, model.faces.cpu().numpy(), colours


def face_mesh(model: MorphableModel, alpha_id=None, alpha_exp=None, beta=None) -> trimesh.Trimesh:
    """A trimesh of one face: (1, K) / (1, L) / (1, M) coefficients or None for zeros."""
    return colour_mesh(*_face_arrays(model, alpha_id, alpha_exp, beta))


def export_face(model: MorphableModel, path, alpha_id=None, alpha_exp=None, beta=None) -> Path:
    """Write one face to ``path`` (.obj, .ply or .glb, chosen by the suffix); returns the path."""
    return write_mesh(path, *_face_arrays(model, alpha_id, alpha_exp, beta))
