"""Preview pictures of a face model: views, random identities, every expression.

``write_previews(model, out_dir)`` writes three PNGs (``*_views.png``: front, three-quarter and
side, with albedo and as grey geometry; ``*_identities.png``: random identities with random
albedo; ``*_expressions.png``: each expression at full weight, labelled).
``write_model_figures(out_dir)`` does that for the built-in procedural model and names the
files as in docs/ (``facemodel_views.png``, ``facemodel_identities.png``,
``facemodel_expressions.png``); ``python -m photoface.apps.preview docs`` regenerates them.

Rendering uses ``photoface.render.framing`` with its soft key light from the upper left. The
framing centres the model's bounding box, so any model (procedural, BFM, ICT) fits. Images are
the renderer's linear RGB, clamped to [0, 1] and written as 8-bit without gamma, as everywhere
in photoface.
"""

from __future__ import annotations

import sys
import weakref
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from photoface.facemodel.model import MorphableModel
from photoface.pixels import to_uint8
from photoface.render.framing import key_light, render_framed
from photoface.render.occlusion import vertex_occlusion

BACKGROUND = 0.16
GREY = 0.7
FILL = {"mask": 1 / 1.12, "face": 1 / 1.3}
"""Fraction of the picture the framed box (mean shape or its landmarks) fills."""


def render_faces(model: MorphableModel, verts: torch.Tensor, albedo: torch.Tensor, yaw_deg, size: int,
                 pitch_deg=0.0, frame: str = "mask") -> np.ndarray:
    """(B, size, size, 3) uint8 renders of (B, V, 3) shapes with (B, V, 3) albedo, key light.

    The view turns about the model's vertical axis; one scale frames the mean shape's bounding box
    (``frame="mask"``) or its 68 landmarks' box (``frame="face"``), with a margin
    (``photoface.render.framing``, fit ``"model"``).
    """
    points = model.mean if frame == "mask" else model.mean[model.landmarks68]
    return render_framed(verts, model.faces, albedo, size, yaw_deg, pitch_deg, fill=FILL[frame], fit="model",
                         frame_points=points, light=key_light(), background=BACKGROUND)


_OCCLUSION: "weakref.WeakKeyDictionary[MorphableModel, torch.Tensor]" = weakref.WeakKeyDictionary()


def model_occlusion(model: MorphableModel) -> torch.Tensor:
    """(V,) the ambient occlusion of the model's mean shape (``photoface.render.occlusion``),
    computed once per model object: it costs 20-30 renders of the same mesh
    (``benchmarks/bench_occlusion.py``, docs/benchmarks.md), too much for every panel of
    ``reconstruct``. The cavities (nostrils, mouth corners, eye sockets) sit where the mean shape
    has them in every identity, so one map serves all the model's faces in a picture."""
    if model not in _OCCLUSION:
        _OCCLUSION[model] = vertex_occlusion(model.mean, model.faces)
    return _OCCLUSION[model]


def occluded(model: MorphableModel, albedo: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) ``albedo`` darkened by ``model_occlusion``, so that in a picture the cavities read
    as cavities, not as lit flaps. For model albedos and grey geometry; an albedo read off photos
    already holds the photo's own shading of its cavities."""
    return albedo * model_occlusion(model).to(albedo)[None, :, None]


def grey_albedo(model: MorphableModel, verts: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) the albedo of grey geometry views of (B, V, 3) shapes: ``GREY``, ``occluded``."""
    return occluded(model, torch.full_like(verts, GREY))


def _label(img: np.ndarray, text: str) -> np.ndarray:
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    draw.text((4, img.shape[0] - 13), text, fill=(235, 235, 235))
    return np.asarray(pil)


def _grid(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    rows = -(-len(tiles) // cols)
    h, w, _ = tiles[0].shape
    out = np.full((rows * h, cols * w, 3), to_uint8(np.float64(BACKGROUND)), dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    return out


def views_image(model: MorphableModel, size: int = 256) -> np.ndarray:
    """Front, three-quarter and side views; top row with albedo, bottom row grey geometry."""
    yaws = [0.0, 35.0, 90.0]
    verts = model.mean.unsqueeze(0).expand(3, -1, -1)
    albedo = occluded(model, model.tex_mean[None]).expand(3, -1, -1)
    grey = grey_albedo(model, verts[:1]).expand(3, -1, -1)
    top = render_faces(model, verts, albedo, torch.tensor(yaws), size)
    bottom = render_faces(model, verts, grey, torch.tensor(yaws), size)
    return _grid(list(top) + list(bottom), 3)


def identities_image(model: MorphableModel, n: int = 10, size: int = 160, seed: int = 0) -> np.ndarray:
    """``n`` random identities (neutral expression, random albedo), alternating front and 25°."""
    coeffs = model.sample(n, torch.Generator().manual_seed(seed), exp_std=0.0)
    verts = model.shape(coeffs.alpha_id)
    albedo = occluded(model, model.albedo(coeffs.beta))
    yaws = torch.tensor([0.0 if i % 2 == 0 else 25.0 for i in range(n)])
    return _grid(list(render_faces(model, verts, albedo, yaws, size)), min(n, 5))


def expressions_image(model: MorphableModel, size: int = 144, cols: int = 7) -> np.ndarray:
    """Every expression at full weight (PCA modes at +3 std), labelled, 15° yaw."""
    if model.n_exp == 0:
        return _label(render_faces(model, model.mean[None], model.tex_mean[None], 15.0, size)[0], "no expressions")
    weight = 1.0 if model.exp_kind == "blendshape" else 3.0
    tiles = []
    for start in range(0, model.n_exp, 16):
        idx = torch.arange(start, min(start + 16, model.n_exp))
        w = torch.zeros(len(idx), model.n_exp)
        w[torch.arange(len(idx)), idx] = weight
        verts = model.shape(None, w)
        albedo = model.tex_mean.unsqueeze(0).expand(len(idx), -1, -1)
        imgs = render_faces(model, verts, albedo, torch.full((len(idx),), 15.0), size, frame="face")
        tiles += [_label(img, model.exp_names[int(k)]) for img, k in zip(imgs, idx)]
    return _grid(tiles, cols)


def write_previews(model: MorphableModel, out_dir, prefix: str = "model") -> list[Path]:
    """Write ``<prefix>_views.png``, ``<prefix>_identities.png``, ``<prefix>_expressions.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.cpu()
    images = {
        "views": views_image(model),
        "identities": identities_image(model),
        "expressions": expressions_image(model),
    }
    paths = []
    for name, img in images.items():
        path = out_dir / f"{prefix}_{name}.png"
        Image.fromarray(img).save(path, optimize=True)
        paths.append(path)
    return paths


def write_model_figures(out_dir="docs", resolution: str = "paper") -> list[Path]:
    """The docs/ pictures of the built-in procedural model (``facemodel_*.png``)."""
    from photoface.facemodel.procedural import builtin_model

    return write_previews(builtin_model(resolution), out_dir, prefix="facemodel")


if __name__ == "__main__":
    for p in write_model_figures(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(p)
