"""Benchmark ``photoface.fit``: one person with 8 photos, fitted with the default FitConfig.

Two settings (issue 14):
- demo: the built-in demo model (~4.8k vertices), 128² photos (target: ≤ 20 s on 2 cores);
- paper: the built-in paper model (~37k vertices), 224² photos (target: ≤ 60 s).

The photos are rendered from the model itself (a random identity, expressions, yaws from −45° to
+45°, random light) with detector-like 1 px landmark noise (scaled with the image size). Timed
together, interleaved, with the renderer's own forward + backward on the same batch (8 photos,
the model's mesh, photometric + landmark loss), so the ratio fit / render-step says how many
render steps a fit costs, which stays meaningful on a loaded machine.

Run:  .venv/bin/python benchmarks/bench_fit.py [--repeats 3] [--settings demo,paper] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from photoface.facemodel import builtin_model  # noqa: E402
from photoface.fit import FitConfig, fit_person, make_batch  # noqa: E402
from photoface.render import Renderer  # noqa: E402
from photoface.render.camera import focal_at_code_zero  # noqa: E402
from timing import interleaved_medians, machine_summary, set_threads  # noqa: E402  (before torch)

PHOTOS = 8


def person_photos(model, size: int, seed: int = 0, photos: int = PHOTOS):
    """``photos`` photos (8) of one random person: images, masks, noisy landmarks (px), true poses."""
    g = torch.Generator().manual_seed(seed)
    coeffs = model.sample(photos, generator=g)
    alpha_id = coeffs.alpha_id[:1].expand(photos, -1)
    pose = torch.zeros(photos, 6)
    pose[:, 1] = torch.linspace(-45.0, 45.0, photos)
    pose[:, 0] = 8.0 * torch.randn(photos, generator=g)
    pose[:, 3] = focal_at_code_zero(size) * 1.2
    pose[:, 4:] = size / 2
    light = 0.2 * torch.randn(photos, 27, generator=g)
    albedo = model.albedo(coeffs.beta[:1]).expand(photos, -1, -1)
    with torch.no_grad():
        out = Renderer(model.faces, size).render(model.shape(alpha_id, coeffs.alpha_exp), albedo, pose, light,
                                                 background=0.4, landmarks=model.landmarks68)
    lm = out.landmarks2d + (size / 128.0) * torch.randn(photos, 68, 2, generator=g)
    return out.image.clamp(0, 1), out.mask, lm.double().numpy(), pose


def make_render_step(model, images, masks, size: int):
    """One forward + backward of the renderer on the person's batch (the reference)."""
    renderer = Renderer(model.faces, size)
    verts = model.mean[None].repeat(PHOTOS, 1, 1).requires_grad_(True)
    albedo = model.albedo()[0][None].repeat(PHOTOS, 1, 1).requires_grad_(True)
    pose = torch.zeros(PHOTOS, 6)
    pose[:, 3], pose[:, 4:] = focal_at_code_zero(size) * 1.2, size / 2
    pose.requires_grad_(True)
    light = torch.zeros(PHOTOS, 27, requires_grad=True)

    def step():
        out = renderer.render(verts, albedo, pose, light, landmarks=model.landmarks68)
        loss = ((out.image - images) ** 2 * out.mask * masks).mean() + 1e-4 * out.landmarks2d.pow(2).mean()
        loss.backward()
        for t in (verts, albedo, pose, light):
            t.grad = None

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settings", default="demo,paper")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(f"machine: {machine_summary()}")
    cfg = FitConfig()
    print(f"FitConfig: landmark {cfg.landmark_init_iterations}+{cfg.landmark_iterations} LM iterations, "
          f"{cfg.light_iterations} light + {cfg.photo_iterations} full Adam iterations")
    for name, size, target in (("demo", 128, 20.0), ("paper", 224, 60.0)):
        if name not in args.settings.split(","):
            continue
        model = builtin_model(name)
        images, masks, lm, pose = person_photos(model, size)
        batch = make_batch(images, masks, lm, None, cfg)
        result = {}

        def fit():
            cpu = time.process_time()
            result["fit"] = fit_person(model, batch, cfg)
            result.setdefault("cpu", []).append(time.process_time() - cpu)

        res = interleaved_medians({"fit": fit, "render": make_render_step(model, images, masks, size)},
                                  repeats=args.repeats, warmup=1)
        yaw_err = (torch.as_tensor(result["fit"].params.codes()["pose"][:, 1]) - pose[:, 1]).abs().max()
        print(f"[{name}] {model.num_vertices} v, {size}², {PHOTOS} photos; max |yaw error| {yaw_err:.2f}°")
        for key, (med, times) in res.items():
            print(f"  {key:7s} median {med:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times)})")
        cpu = sorted(result["cpu"])[len(result["cpu"]) // 2]
        print(f"  fit CPU time (median, all threads) {cpu:.1f} s: an idle 2-core machine needs at least {cpu / 2:.1f} s")
        print(f"  fit = {res['fit'][0] / res['render'][0]:.0f} render steps; target {target:.0f} s "
              f"= {target / res['render'][0]:.0f} render steps on this machine now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
