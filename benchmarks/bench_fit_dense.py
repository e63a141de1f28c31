"""Benchmark the fit with MediaPipe's points against the 68 landmarks alone, on synthetic people.

People of the built-in demo model are rendered at 128² (a random identity, random expressions,
yaws spread over ±40°, random pitch and light), and two synthetic "detectors" read each photo,
as the 68-point one does for ``photoface synth``: the 68 landmark vertices projected, and
MediaPipe's 478 points as the model vertices of ``fit.dense_points`` projected (iris points
unused), both with 1 px Gaussian noise at 128². Each person is fitted twice with the default
``FitConfig`` (the contour off: these points are fixed vertices, as in synthetic datasets):

* ``68``: the 68 landmarks (``point_vertices.landmark_points``), the fit as before;
* ``68 + MediaPipe``: the 68 followed by the model's reliable MediaPipe points
  (``point_vertices.mediapipe_points``, ``dense_weight`` 1).

Reported per setting, means over the people: the identity error (mean distance of the fitted
neutral identity's vertices to the true one's, mm: the same model, so vertex to vertex), the
per-photo shape error (identity + expression, mm), the yaw error (degrees) and the fit's CPU time
per photo (process time, all threads, the person's batch divided by its photos).

Run:  .venv/bin/python benchmarks/bench_fit_dense.py [--people 4] [--photos 5] [--size 128]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from photoface.facemodel import builtin_model  # noqa: E402
from photoface.fit import FitConfig, fit_person, make_batch  # noqa: E402
from photoface.fit.dense_points import correspondence  # noqa: E402
from photoface.fit.point_vertices import landmark_points, mediapipe_points  # noqa: E402
from photoface.render import Renderer  # noqa: E402
from photoface.render.camera import focal_at_code_zero, project  # noqa: E402
from timing import machine_summary, set_threads  # noqa: E402  (before torch)


def person(model, photos: int, size: int, seed: int):
    """One synthetic person: images, masks, noisy 68 landmarks and 478 points (px), the truth."""
    g = torch.Generator().manual_seed(seed)
    coeffs = model.sample(photos, generator=g)
    alpha_id = coeffs.alpha_id[:1].expand(photos, -1)
    pose = torch.zeros(photos, 6)
    pose[:, 1] = torch.linspace(-40.0, 40.0, photos) + 5.0 * torch.randn(photos, generator=g)
    pose[:, 0] = 8.0 * torch.randn(photos, generator=g)
    pose[:, 3] = focal_at_code_zero(size) * 1.2
    pose[:, 4:] = size / 2
    light = 0.2 * torch.randn(photos, 27, generator=g)
    albedo = model.albedo(coeffs.beta[:1]).expand(photos, -1, -1)
    shape = model.shape(alpha_id, coeffs.alpha_exp)
    with torch.no_grad():
        out = Renderer(model.faces, size).render(shape, albedo, pose, light, background=0.4,
                                                 landmarks=model.landmarks68)
    noise = size / 128.0
    lm = out.landmarks2d + noise * torch.randn(photos, 68, 2, generator=g)
    corr = correspondence(model)
    verts = torch.as_tensor(np.where(corr.vertices >= 0, corr.vertices, 0))
    pts = project(shape[:, verts], pose)[..., :2] + noise * torch.randn(photos, 478, 2, generator=g)
    truth = {"identity": model.shape(coeffs.alpha_id[:1])[0], "shape": shape, "pose": pose}
    return out.image.clamp(0, 1), out.mask, lm.double().numpy(), list(pts.double().numpy()), truth


def score(fit, truth) -> dict[str, float]:
    d = fit.params.decode()
    return {
        "identity mm": float((fit.params.neutral_shape()[0] - truth["identity"]).norm(dim=-1).mean()),
        "shape mm": float((d.shape.detach() - truth["shape"]).norm(dim=-1).mean()),
        "yaw deg": float((d.pose[:, 1].detach() - truth["pose"][:, 1]).abs().mean()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=4)
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(f"machine: {machine_summary()}")
    model = builtin_model("demo")
    cfg = FitConfig(contour="off")
    settings = {"68": landmark_points(model, contour=False), "68 + MediaPipe": mediapipe_points(model, contour=False)}
    print(f"{args.people} people x {args.photos} photos at {args.size}²; MediaPipe points used: "
          f"{len(settings['68 + MediaPipe'].mediapipe_ids)} of 478")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in settings}
    for p in range(args.people):
        images, masks, lm, pts, truth = person(model, args.photos, args.size, seed=100 + p)
        for name, points in settings.items():
            batch = make_batch(images, masks, lm, None, cfg, points=pts, fit_points=points)
            cpu = time.process_time()
            fit = fit_person(model, batch, cfg, points=points)
            row = score(fit, truth)
            row["CPU s / photo"] = (time.process_time() - cpu) / args.photos
            results[name].append(row)
            print(f"person {p} {name:15s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print("\n| points | identity error mm | shape error mm | yaw error ° | CPU s / photo (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in results.items():
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        cpu = statistics.median(r["CPU s / photo"] for r in rows)
        print(f"| {name} | {mean['identity mm']:.3f} | {mean['shape mm']:.3f} | {mean['yaw deg']:.2f} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
