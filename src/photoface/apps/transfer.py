"""``photoface transfer``: expression transfer as in the paper's Figure 9.

A photo with several faces counts with its largest face (the others are named in a message).
The SOURCE photo gives the identity code and the albedo; each TARGET photo gives its expression
code, pose and lighting. The shape decoder runs on ``[c_id(source), c_exp(target)]`` (the same
swap as the pairwise shape loss, eq. 8) and the result is rendered with the target's pose and
light over the target crop.

Albedo: stage 1 decodes the source identity code with the GCN albedo decoder; stage 2 uses the
source photo's per-vertex albedo read from its CNN albedo map (``FaceNet.vertex_albedo``), since
an image-space map belongs to the source image's pixels, not the target's.

Grid (``transfer.png``), S = crop size: the top row holds the source photo and then the target
photos; the bottom row the source's own reconstruction and then, under each target, the source
person with that target's expression, pose and light. Shape: (2·S + 2 labels, (1 + T)·S, 3) plus
2-px gaps. With ``meshes``, ``SOURCE_to_TARGET.obj`` / ``.ply`` / ``.glb`` hold each transferred
shape (millimetres, the .glb in metres; canonical pose, albedo colours).

``view.html`` (``photoface.apps.viewer``) shows the source and each target: the render over the
photo, the transferred mesh beside the source's own, the target's pose and expression code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.apps.inputs import FaceInput, Skipped, collect_images, load_faces, log_notes, stacked_landmarks
from photoface.apps.preview import model_occlusion
from photoface.apps.reconstruct import pose_dict
from photoface.apps.viewer import VIEW_FILE, ViewFace, ViewMesh, write_view
from photoface.errors import PhotofaceError
from photoface.facemodel.export import FORMATS, write_mesh
from photoface.pixels import to_uint8


@dataclass
class TransferResult:
    """grid: the PNG path; image: the grid array; meshes: written mesh paths; skipped targets;
    view: the viewer's page."""

    grid: Path
    image: np.ndarray
    meshes: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    view: Path | None = None


@torch.no_grad()
def transfer_faces(trained, source: FaceInput, targets: list[FaceInput]):
    """Predict and render the transfer.

    Returns:
        dict with ``source_render`` (3, S, S) over the source crop, ``renders`` (T, 3, S, S) over
        the target crops, ``shapes`` (T, V, 3) mm and ``albedo`` (V, 3) of the source,
        ``source_shape`` (V, 3) mm, the photos' physical ``poses`` (1 + T, 6) and expression
        codes ``expressions`` (1 + T, E), the source's first.
    """
    crops = torch.stack([source.crop] + [t.crop for t in targets]).to(trained.device)
    out = trained.predict(crops, landmarks=stacked_landmarks([source, *targets]))
    src_albedo = trained.vertex_albedo(out)[0]
    n = len(targets)
    id_src = out.id_code[:1].expand(n, -1)
    shapes = trained.net.decode_shape(id_src, out.exp_code[1:])
    albedo = src_albedo.unsqueeze(0).expand(n, -1, -1)
    r = trained.net.renderer.render(shapes, albedo, out.pose[1:], out.light[1:], background=crops[1:])
    return {
        "source_render": (out.mask[0] * out.image[0] + (1 - out.mask[0]) * crops[0]),
        "renders": r.image,
        "shapes": shapes,
        "albedo": src_albedo,
        "source_shape": out.shape[0],
        "poses": out.pose,
        "expressions": out.exp_code,
    }


def transfer_grid(source: FaceInput, targets: list[FaceInput], result: dict) -> np.ndarray:
    """(H, W, 3) uint8 grid laid out as in the module docstring."""
    top = [figures.label(to_uint8(source.crop), "source")]
    top += [figures.label(to_uint8(t.crop), f"target {t.name}") for t in targets]
    bottom = [figures.label(to_uint8(result["source_render"]), "source fit")]
    bottom += [figures.label(to_uint8(img), "transferred") for img in result["renders"]]
    return figures.vstack([figures.hstack(top), figures.hstack(bottom)])


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def transfer(
    source: str | Path,
    targets: Sequence[str | Path],
    checkpoint: str | Path,
    out_dir: str | Path,
    meshes: bool = False,
    aligned: bool = False,
    device: str = "cpu",
    detector: str = "mediapipe",
    log: Callable[[str], None] = _stderr,
    trained=None,
) -> TransferResult:
    """Transfer the expression, pose and light of each target photo onto the source person.

    Args:
        source: one photo. targets: photos and folders.
        checkpoint: run folder or checkpoint file. out_dir: output folder (created).
        meshes: also write each transferred shape as .obj, .ply and .glb.
        aligned: the photos are training crops already.
        trained: an already loaded ``Trained`` (then ``checkpoint`` is ignored).

    Raises:
        PhotofaceError: bad checkpoint, unusable source photo, or no usable target.
    """
    from photoface.run.inference import load_trained

    src_paths = collect_images([source])
    if len(src_paths) != 1:
        raise PhotofaceError(f"{source}: the source must be one photo, found {len(src_paths)}")
    empty: list[Skipped] = []
    tgt_paths = collect_images(targets, skipped=empty)
    for s in empty:
        log(s.message())
    trained = trained or load_trained(checkpoint, device=device)
    faces = list(load_faces(src_paths + tgt_paths, trained.image_size, aligned, detector, trained.uses_landmarks))
    src = faces[0]
    if isinstance(src, Skipped):
        raise PhotofaceError(f"source photo {src.path}: {src.reason}")
    skipped = empty + [f for f in faces[1:] if isinstance(f, Skipped)]
    for s in skipped[len(empty):]:
        log(s.message())
    tgts = [f for f in faces[1:] if isinstance(f, FaceInput)]
    for f in [src, *tgts]:
        log_notes(f, log)
    if not tgts:
        raise PhotofaceError("no usable target photo")
    res = transfer_faces(trained, src, tgts)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = transfer_grid(src, tgts, res)
    grid_path = out_dir / "transfer.png"
    Image.fromarray(grid).save(grid_path)
    written: list[Path] = []
    tri = trained.face_model.faces.cpu().numpy()
    colours = res["albedo"].cpu().numpy()
    if meshes:
        for t, shape in zip(tgts, res["shapes"]):
            for suffix in FORMATS:
                written.append(write_mesh(out_dir / f"{src.name}_to_{t.name}{suffix}", shape.cpu().numpy(), tri,
                                          colours))
    view = write_view(out_dir / VIEW_FILE, view_faces(src, tgts, res), tri,
                      f"photoface transfer: {src.name} with the expressions of {len(tgts)} photo(s)",
                      occlusion=model_occlusion(trained.face_model).cpu().numpy())
    return TransferResult(grid_path, grid, written, skipped, view)


def view_faces(source: FaceInput, targets: list[FaceInput], result: dict) -> list[ViewFace]:
    """The viewer's faces of a transfer: the source (its own mesh), then each target (the
    transferred mesh beside the source's own, the target's pose and expression)."""
    colours = result["albedo"].cpu().numpy()
    own = ViewMesh("source", result["source_shape"].cpu().numpy(), colours, key="source")

    def codes(i: int) -> dict:
        return {"pose": pose_dict(result["poses"][i]), "expression": result["expressions"][i].cpu().tolist()}

    faces = [ViewFace(source.name, "source", to_uint8(source.crop), to_uint8(result["source_render"]), [own], codes(0))]
    for k, (t, shape) in enumerate(zip(targets, result["shapes"])):
        moved = ViewMesh(f"{source.name} with this expression", shape.cpu().numpy(), colours)
        faces.append(ViewFace(t.name, "targets", to_uint8(t.crop), to_uint8(result["renders"][k]), [moved, own],
                              codes(k + 1)))
    return faces
