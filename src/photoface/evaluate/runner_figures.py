"""Figure 3 of the paper from a real run: per-vertex error maps of the model and the baselines.

``write_synthetic_error_maps(RUN, DATA, PNG)`` takes one held-out identity of a synthetic dataset,
reconstructs it with each method in the ``identity`` mode of one setting (identity codes of the
setting's photos averaged, decoded neutral), scores it against the identity's scan with the
protocol, and draws one row per method: the aligned-error map of the prediction (distance of each
predicted vertex to the scan after alignment; grey outside the 95 mm crop) from the front and at
45° yaw, all rows on one colour scale (mm), next to one of the input photos.
Views are drawn with ``error_maps.render_error_view`` (photoface's renderer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from photoface.errors import PhotofaceError
from photoface.evaluate import tables
from photoface.evaluate.benchmark import benchmark_methods, load_run, mesh_scorer
from photoface.evaluate.error_maps import render_error_view
from photoface.evaluate.runner import group_mesh
from photoface.evaluate.synthetic import SyntheticBenchmark


def write_synthetic_error_maps(
    checkpoint: str | Path,
    data: str | Path,
    path: str | Path = "docs/evaluate_synthetic_error_maps.png",
    identity: str | None = None,
    setting: str = "outdoor",
    baselines: Sequence[str] = ("landmark_fit", "mean_face"),
    yaws: Sequence[float] = (0.0, 45.0),
    vmax: float | None = None,
    image_size: int = 240,
) -> dict:
    """Write the figure (module docstring) and return {method: symmetric error mm}.

    Args:
        checkpoint: the model's run; data: a synthetic benchmark dataset.
        path: the PNG to write.
        identity: the test identity (default: the first); setting: its photos used.
        baselines: baseline rows after the model's.
        vmax: top of the colour scale in mm (default: the 95th percentile of all rows' errors).
    """
    import matplotlib
    from matplotlib.figure import Figure

    trained = load_run(checkpoint, "cpu", "model")
    bench = SyntheticBenchmark(data, face_model_hash=trained.face_model_hash)
    identity = identity or sorted(bench.scans)[0]
    if (identity, setting) not in bench.groups:
        raise PhotofaceError(f"{data}: no test photos of identity {identity!r} in setting {setting!r}")
    idx = bench.groups[(identity, setting)]
    fm = trained.face_model
    lm = fm.landmarks68.cpu().numpy()
    scorer = mesh_scorer(fm)
    scan = bench.scans[identity]
    methods = benchmark_methods(trained, baselines=baselines, image_size=bench.image_size)
    rows = []
    for m in methods:
        with torch.no_grad():
            out = m.predict(bench.images[idx], bench.landmarks[idx])
        mesh, _ = group_mesh(out, range(len(idx)), "identity")
        res = scorer.score(mesh, identity, scan, scorer.faces, scan_landmarks=scan[lm], scan_nose_tip=scan[lm[30]])
        rows.append((m.name, mesh, res["result"].pred_errors, res["symmetric_mm"]))
    if vmax is None:
        finite = np.concatenate([e[np.isfinite(e)] for _, _, e, _ in rows])
        vmax = max(0.5, float(np.ceil(2 * np.percentile(finite, 95)) / 2))
    cols = 1 + len(yaws)
    fig = Figure(figsize=(2.2 * cols + 0.9, 2.3 * len(rows) + 0.4))
    axes = fig.subplots(len(rows), cols, squeeze=False)
    photo = bench.images[idx[0]].permute(1, 2, 0).numpy()
    for r, (name, mesh, err, sym) in enumerate(rows):
        axes[r, 0].imshow(photo)
        axes[r, 0].set_title(f"{tables.METHOD_LABELS.get(name, name)}\n{sym:.2f} mm", fontsize=8)
        for c, yaw in enumerate(yaws, start=1):
            axes[r, c].imshow(render_error_view(mesh, scorer.faces, err, vmax, yaw, image_size=image_size))
        for ax in axes[r]:
            ax.set_axis_off()
    sm = matplotlib.cm.ScalarMappable(cmap="jet", norm=matplotlib.colors.Normalize(0.0, vmax))
    fig.colorbar(sm, ax=axes.ravel().tolist(), fraction=0.04, pad=0.02, label="error (mm)")
    fig.suptitle(f"{identity}, {setting} photos ({len(idx)}), average over identity", fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return {name: sym for name, _, _, sym in rows}
