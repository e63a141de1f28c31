"""Render a face-model file to a picture: the ``photoface render`` command and the docs figure.

Pose arguments are degrees with the conventions of ``photoface.render.camera`` (positive yaw
turns the face towards the subject's left, positive pitch tilts it down, positive roll turns it
counter-clockwise in the image). The face is framed as at pose code 0: canonical origin at the
image centre, f = size / 200 px per mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from photoface.errors import PhotofaceError
from photoface.render.camera import focal_at_code_zero
from photoface.render.framing import render_view
from photoface.render.sh import LIGHT_DIM, light_preset

DEFAULT_BACKGROUND = (0.12, 0.12, 0.14)
"""Dark grey: shows the face's silhouette and shading without glare."""


def _coefficients(values, model_dim: int, what: str) -> torch.Tensor | None:
    """(1, k) float tensor from None / a sequence / an array of k <= model_dim numbers."""
    if values is None:
        return None
    t = torch.as_tensor(np.asarray(values, dtype=np.float32)).reshape(1, -1)
    if t.shape[1] > model_dim:
        raise PhotofaceError(f"{what}: {t.shape[1]} coefficients given, the model has {model_dim}")
    return t


def _light_code(light) -> torch.Tensor:
    """(1, 27) light code from None (default light), a preset name, or 27 numbers."""
    if light is None:
        return torch.zeros(1, LIGHT_DIM)
    if isinstance(light, str):
        return light_preset(light)[None]
    t = torch.as_tensor(np.asarray(light, dtype=np.float32)).reshape(1, -1)
    if t.shape[1] != LIGHT_DIM:
        raise PhotofaceError(f"light: expected {LIGHT_DIM} numbers, got {t.shape[1]}")
    return t


def render_model_image(
    model,
    alpha_id=None,
    alpha_exp=None,
    beta=None,
    pitch: float = 0.0,
    yaw: float = 0.0,
    roll: float = 0.0,
    light=None,
    size: int = 256,
    background=DEFAULT_BACKGROUND,
) -> np.ndarray:
    """Render one face of a ``photoface.facemodel.MorphableModel``.

    Args:
        model: the face model.
        alpha_id, alpha_exp, beta: identity / expression / albedo coefficients (k numbers, k up to
            the model's count; None = the mean).
        pitch, yaw, roll: degrees.
        light: None (the default light), a preset name (``photoface.render.sh.LIGHT_PRESETS``)
            or a 27-number SH code.
        size: image side in pixels.
        background: RGB in [0, 1].

    Returns:
        (size, size, 3) uint8 sRGB-agnostic image (the linear values clamped and scaled to 0..255).
    """
    if size < 8:
        raise PhotofaceError(f"size must be at least 8 pixels, got {size}")
    with torch.no_grad():
        verts = model.shape(
            _coefficients(alpha_id, model.n_id, "alpha_id"),
            _coefficients(alpha_exp, model.n_exp, "alpha_exp"),
        )
        albedo = model.albedo(_coefficients(beta, model.n_tex, "beta"))
        pose = torch.tensor(
            [[pitch, yaw, roll, focal_at_code_zero(size), 0.5 * size, 0.5 * size]], dtype=verts.dtype
        )
    return render_view(verts, model.faces, albedo.expand_as(verts), pose, size, _light_code(light),
                       background=torch.tensor(background, dtype=verts.dtype))[0]


def save_png(image: np.ndarray, path) -> Path:
    """Write an (H, W, 3) uint8 image as PNG, creating the folder."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, optimize=True)
    return path


def render_model_file(model_path, out_path, **kwargs) -> Path:
    """Load a face model (a ``.npz`` file or ``builtin:demo`` / ``builtin:paper``), render it
    (``render_model_image`` kwargs), save a PNG."""
    from photoface.facemodel import load_face_model

    model = load_face_model(model_path)
    return save_png(render_model_image(model, **kwargs), out_path)


FIGURE_LIGHTS = ("front", "left", "right", "above", "warm")
FIGURE_POSES = (  # (label, pitch, yaw, roll)
    ("frontal", 0.0, 0.0, 0.0),
    ("yaw +40", 0.0, 40.0, 0.0),
    ("yaw -40", 0.0, -40.0, 0.0),
    ("pitch +25", 25.0, 0.0, 0.0),
    ("pitch -25", -25.0, 0.0, 0.0),
    ("roll +20", 0.0, 0.0, 20.0),
)


def lights_poses_grid(model, tile: int = 112) -> np.ndarray:
    """(rows·(tile+label), cols·tile, 3) uint8 grid: FIGURE_LIGHTS (rows) × FIGURE_POSES (cols)."""
    from PIL import Image, ImageDraw

    label_h = 14
    rows, cols = len(FIGURE_LIGHTS), len(FIGURE_POSES)
    canvas = Image.new("RGB", (cols * tile + 60, rows * tile + label_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, (label, *_rest) in enumerate(FIGURE_POSES):
        draw.text((60 + c * tile + 4, 1), label, fill=(0, 0, 0))
    for r, light in enumerate(FIGURE_LIGHTS):
        draw.text((4, label_h + r * tile + tile // 2 - 6), light, fill=(0, 0, 0))
        for c, (_label, pitch, yaw, roll) in enumerate(FIGURE_POSES):
            img = render_model_image(model, pitch=pitch, yaw=yaw, roll=roll, light=light, size=tile)
            canvas.paste(Image.fromarray(img), (60 + c * tile, label_h + r * tile))
    return np.asarray(canvas)


def write_render_figures(out_dir="docs", resolution: str = "demo") -> list[Path]:
    """Regenerate ``render_lights_poses.png`` in ``out_dir`` from the built-in face model."""
    from photoface.facemodel import builtin_model

    model = builtin_model(resolution)
    return [save_png(lights_poses_grid(model), Path(out_dir) / "render_lights_poses.png")]
