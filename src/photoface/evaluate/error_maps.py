"""Error maps like the paper's Figure 3: per-vertex error colour-coded on the mesh, as a PNG.

The mesh is drawn with photoface's own renderer (``photoface.render.Renderer``): per-vertex
colours from a matplotlib colour map, the renderer's default light (ambient plus a frontal
light) so the shape stays readable, one image per requested yaw. Matplotlib then lays out the
views with a colour bar in millimetres. Vertices without an error (NaN, e.g. outside the
evaluation crop) are drawn light grey. Signed errors (``signed=True``: + where the prediction lies
in front of the truth, ``photoface.evaluate.region_errors``) use a diverging map on [-vmax, vmax],
blue behind, red in front.

Inputs: vertices (V, 3) in millimetres in model space (x to the subject's left, y up, z out of the
face), so show a prediction in its canonical pose, not after alignment to a scan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

NO_DATA_RGB = (0.8, 0.8, 0.8)
SIGNED_CMAP = "RdBu_r"


def error_colors(errors, vmax: float, cmap: str = "jet", vmin: float = 0.0) -> np.ndarray:
    """(V,) mm → (V, 3) RGB in [0, 1] on [vmin, vmax] mm; NaN → light grey."""
    import matplotlib

    e = np.asarray(errors, dtype=np.float64)
    t = (np.nan_to_num(e) - vmin) / max(vmax - vmin, 1e-12)
    rgb = matplotlib.colormaps[cmap](np.clip(t, 0.0, 1.0))[:, :3]
    rgb[~np.isfinite(e)] = NO_DATA_RGB
    return rgb


def render_error_view(verts, faces, errors, vmax: float, yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                      image_size: int = 320, cmap: str = "jet", fill: float = 0.9, vmin: float = 0.0) -> np.ndarray:
    """One shaded view of the colour-coded mesh on white.

    Args:
        verts: (V, 3) mm, model space; faces: (F, 3); errors: (V,) mm.
        vmax, vmin: errors (mm) at the top and the bottom of the colour map.
        yaw_deg, pitch_deg: view, photoface camera convention (positive yaw shows the right cheek).
        image_size: pixels; fill: fraction of the image the mesh's larger extent fills.

    Returns:
        (image_size, image_size, 3) uint8.
    """
    import torch

    from photoface.render.framing import render_framed

    v = torch.as_tensor(np.asarray(verts, dtype=np.float32))[None]
    albedo = torch.as_tensor(error_colors(errors, vmax, cmap, vmin), dtype=torch.float32)[None]
    return render_framed(v, faces, albedo, image_size, yaw_deg, pitch_deg, fill=fill, fit="view",
                         background=1.0)[0]


def save_error_map(path: str | Path, verts, faces, errors, vmax: float | None = None,
                   yaws: Sequence[float] = (0.0, 45.0), title: str | None = None,
                   image_size: int = 320, cmap: str = "jet") -> Path:
    """Write a PNG with one view per yaw and a colour bar (mm).

    Args:
        path: output .png.
        verts: (V, 3) mm; faces: (F, 3); errors: (V,) mm, NaN where unknown.
        vmax: top of the colour scale in mm; default the 95th percentile of the finite errors
            (rounded up to 0.5 mm), so a few outliers do not wash out the map.
        yaws: views in degrees.
        title: figure title, e.g. "subject_01, cooperative: 1.52 mm".

    Returns:
        the path written.
    """
    return save_error_rows(path, verts, faces, [("", errors)], vmax=vmax, yaws=yaws, title=title,
                           image_size=image_size, cmap=cmap)


def save_error_rows(path: str | Path, verts, faces, rows: Sequence[tuple[str, np.ndarray]],
                    vmax: float | None = None, signed: bool = False, yaws: Sequence[float] = (0.0, 45.0),
                    title: str | None = None, image_size: int = 320, cmap: str | None = None) -> Path:
    """Write a PNG with one row of views per error array, on one mesh, with one colour bar (mm).

    Args:
        path: output .png (written atomically).
        verts: (V, 3) mm; faces: (F, 3).
        rows: (label, (V,) errors in mm, NaN where unknown) per row; an empty label draws none.
        vmax: top of the colour scale in mm (signed: the scale is [-vmax, vmax]); default the
            95th percentile of the finite |errors| (rounded up to 0.5 mm), so a few outliers do
            not wash out the map.
        signed: diverging colours for signed errors (module docstring).
        yaws: views in degrees; title: figure title; cmap: default "jet", or ``SIGNED_CMAP``.

    Returns:
        the path written.
    """
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    from photoface.atomic import write_atomic

    errs = [np.asarray(e, dtype=np.float64) for _, e in rows]
    if vmax is None:
        finite = np.abs(np.concatenate([e[np.isfinite(e)] for e in errs]))
        vmax = float(np.ceil(2 * np.percentile(finite, 95)) / 2) if len(finite) else 1.0
        vmax = max(vmax, 0.5)
    vmin = -vmax if signed else 0.0
    cmap = cmap or (SIGNED_CMAP if signed else "jet")
    label_h = 0.25 if any(label for label, _ in rows) else 0.0
    fig = Figure(figsize=(2.6 * len(yaws) + 0.8, (2.6 + label_h) * len(rows) + 0.3))
    axes = fig.subplots(len(rows), len(yaws), squeeze=False)
    for (label, _), e, line in zip(rows, errs, axes):
        for ax, yaw in zip(line, yaws):
            ax.imshow(render_error_view(verts, faces, e, vmax, yaw, image_size=image_size, cmap=cmap, vmin=vmin))
            ax.set_axis_off()
        if label:
            line[0].set_title(label, fontsize=8, loc="left")
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(vmin, vmax))
    fig.colorbar(sm, ax=axes.ravel().tolist(), fraction=0.05, pad=0.02,
                 label="signed error (mm)" if signed else "error (mm)")
    if title:
        fig.suptitle(title, fontsize=9)
    return write_atomic(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=100))


def write_example_error_map(path: str | Path = "docs/evaluate_error_map.png", seed: int = 0) -> dict:
    """The picture in docs/: the built-in demo model's mean face scored, with the full protocol,
    against a random identity of the same model as its "scan"; returns the protocol's summary.

    It shows what the mean-face baseline gets wrong (per-vertex distance to the scan surface
    after alignment) and how vertices outside the 95 mm crop are drawn.
    """
    import torch

    from photoface.evaluate.protocol import evaluate_mesh
    from photoface.facemodel import builtin_model

    model = builtin_model("demo")
    gen = torch.Generator().manual_seed(seed)
    alpha_id = torch.randn(1, model.n_id, generator=gen)
    with torch.no_grad():
        scan = model.shape(alpha_id)[0].double().numpy()
        mean = model.shape(torch.zeros(1, model.n_id))[0].double().numpy()
    faces = model.faces.numpy()
    lm = model.landmarks68.numpy()
    res = evaluate_mesh(mean, faces, scan, faces, scan_nose_tip=scan[lm[30]],
                        scan_landmarks=scan[lm], pred_landmarks=mean[lm])
    save_error_map(path, mean, faces, res.pred_errors,
                   title=f"mean face vs a random identity (seed {seed}): {res.symmetric_mm:.2f} mm symmetric")
    return res.to_dict()
