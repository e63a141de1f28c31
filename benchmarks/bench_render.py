"""Benchmark the differentiable renderer, forward + backward, on 2 CPU threads.

Two sizes (issue 3):
- paper: about 37k vertices / 74k triangles, 224², batch 8, timed together with a ResNet-50
  forward + backward at batch 8, 224² (target: renderer < 1/3 of it);
- demo: about 5k vertices, 128², batch 16, timed together with a ResNet-18 forward + backward at
  batch 16, 128² (the demo preset's encoder).

The mesh is a face-like grid (a dome of the size of a face crop, triangles counter-clockwise from
outside) unless ``--builtin`` asks for the procedural face model of ``photoface.facemodel``. One
timed step = render (random pose per item, random light, per-vertex albedo) + photometric loss
(masked squared error against a target image) + landmark loss + backward to vertices, albedo,
pose code and light, as in a training step.

Run:  .venv/bin/python benchmarks/bench_render.py [--repeats 7] [--builtin] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from photoface.render import Renderer, pose_from_code  # noqa: E402
from timing import interleaved_medians, machine_summary, set_threads  # noqa: E402  (before torch)


def face_like_grid(n: int, width_mm: float = 160.0, height_mm: float = 200.0, depth_mm: float = 90.0):
    """An n×n grid bent into a half-ellipsoid dome: (V, 3) mm, (F, 3) counter-clockwise from +z."""
    u = torch.linspace(-1.0, 1.0, n)
    gy, gx = torch.meshgrid(u, u, indexing="ij")
    r2 = (gx * gx + gy * gy).clamp(max=1.0)
    z = depth_mm * torch.sqrt(1.0 - 0.9 * r2) - 0.5 * depth_mm
    verts = torch.stack([gx * width_mm / 2, -gy * height_mm / 2, z], -1).reshape(-1, 3)
    idx = torch.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].reshape(-1), idx[:-1, 1:].reshape(-1)
    c, d = idx[1:, :-1].reshape(-1), idx[1:, 1:].reshape(-1)
    # Row index grows downwards (−y), so (a, c, b) is counter-clockwise seen from +z.
    faces = torch.cat([torch.stack([a, c, b], 1), torch.stack([b, c, d], 1)])
    return verts, faces


def builtin_mesh(resolution: str):
    from photoface.facemodel import builtin_model

    model = builtin_model(resolution)
    return model.mean.clone(), model.faces.clone()


def make_render_step(verts, faces, size: int, batch: int, device: str, seed: int = 0):
    """A closure doing one forward + backward of render + losses."""
    g = torch.Generator().manual_seed(seed)
    renderer = Renderer(faces, size).to(device)
    # Small smooth-ish perturbation per item: a decoder output, not a crumpled mesh.
    v = (verts[None].repeat(batch, 1, 1) + 0.1 * torch.randn(batch, *verts.shape, generator=g)).to(device)
    v.requires_grad_(True)
    albedo = (0.4 + 0.3 * torch.rand(batch, verts.shape[0], 3, generator=g)).to(device).requires_grad_(True)
    code = (0.2 * torch.randn(batch, 6, generator=g)).to(device).requires_grad_(True)
    light = (0.1 * torch.randn(batch, 27, generator=g)).to(device).requires_grad_(True)
    target = torch.rand(batch, 3, size, size, generator=g).to(device)
    landmarks = torch.randint(0, verts.shape[0], (68,), generator=g).to(device)
    target_lm = torch.full((batch, 68, 2), size / 2.0, device=device)

    def step():
        out = renderer.render(v, albedo, pose_from_code(code, size), light, landmarks=landmarks)
        photo = ((out.image - target) ** 2 * out.mask).sum() / out.mask.sum().clamp_min(1.0)
        lm = ((out.landmarks2d - target_lm) ** 2).mean()
        (photo + 1e-3 * lm).backward()
        for t in (v, albedo, code, light):
            t.grad = None
        return out

    return step


def make_resnet_step(batch: int, size: int, device: str, channels_last: bool, depth: int = 50):
    import torchvision

    net = getattr(torchvision.models, f"resnet{depth}")(weights=None).to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        net.zero_grad(set_to_none=True)
        net(x).sum().backward()

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--builtin", action="store_true", help="use builtin_model('paper'/'demo') meshes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-resnet", action="store_true")
    ap.add_argument("--sizes", default="paper,demo", help="comma-separated: paper, demo")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the reported setting is 2)")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    torch.manual_seed(0)
    print(f"machine: {machine_summary()}, device {args.device}")

    for name, grid_n, size, batch in (("paper", 193, 224, 8), ("demo", 71, 128, 16)):
        if name not in args.sizes.split(","):
            continue
        verts, faces = builtin_mesh(name) if args.builtin else face_like_grid(grid_n)
        step = make_render_step(verts, faces, size, batch, args.device)
        out = step()
        cands = out.fragments.pix.numel() / batch
        fns = {"render": step}
        if name == "paper" and not args.skip_resnet:
            fns["resnet50"] = make_resnet_step(batch, size, args.device, channels_last=False)
            fns["resnet50_cl"] = make_resnet_step(batch, size, args.device, channels_last=True)
        if name == "demo" and not args.skip_resnet:  # the demo preset's encoder
            fns["resnet18"] = make_resnet_step(batch, size, args.device, channels_last=False, depth=18)
        res = interleaved_medians(fns, repeats=args.repeats, warmup=args.warmup)
        mesh = f"{'builtin' if args.builtin else 'grid'} {verts.shape[0]} v / {faces.shape[0]} tri"
        print(f"[{name}] {mesh}, {size}², batch {batch}, {cands:.0f} covered px/image")
        for key, (med, times) in res.items():
            spread = ", ".join(f"{t:.3f}" for t in times)
            print(f"  {key:12s} median {med:.3f} s  (runs: {spread})")
        for key in ("resnet50", "resnet50_cl", "resnet18"):
            if key in res:
                target = f"  (target < {1 / 3:.3f})" if key.startswith("resnet50") else ""
                print(f"  render / {key} = {res['render'][0] / res[key][0]:.3f}{target}")
        print(f"  renderer alone: {batch / res['render'][0]:.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
