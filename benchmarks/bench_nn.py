"""Benchmark the networks (issue 5) on 2 CPU threads: medians, with a reference timed in the same run.

Sections (``--only`` picks some):

* ``decoder``: the paper's COMA decoder (FC → US(2) → GC(6,256) → … → GC(6,16) → GC(6,3)) at
  batch 8, forward + backward, ours (photoface.nn.GraphDecoder) against the same decoder built
  from torch_geometric's ChebConv (node-major (B, V, C), edge list, the usual COMA port), timed
  interleaved, on the built-in paper (~37k vertices) and demo (~5k) meshes. Both are first
  checked to compute the same function with the same weights.
* ``facenet``: FaceNet forward + backward (stage 1: encoder, both GCN decoders, renderer, a
  photometric + landmark loss) per batch, for the demo preset (ResNet-18, 128², ~5k vertices,
  batch 16) and the paper preset (ResNet-50, 224², ~37k vertices, batch 8), each in a fresh
  subprocess so its peak memory (ru_maxrss) is its own. Reference in the same process: the bare
  torchvision ResNet of the preset, forward + backward at the same batch, interleaved. Peak
  memory is ru_maxrss after two FaceNet steps, before the reference runs.
* ``hierarchy``: building the 37k template's mesh hierarchy (factors 4, 4, 4, 4, 2) without the
  cache; reference: fast_simplification decimating the same mesh to the first level's size.

Run:  .venv/bin/python benchmarks/bench_nn.py [--repeats 5] [--only decoder facenet hierarchy]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

# timing must come before torch: it sets OMP_WAIT_POLICY for the shared, loaded machine.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved_medians, machine_summary, set_threads  # noqa: E402, I001

import numpy as np  # noqa: E402
import torch  # noqa: E402

from photoface.facemodel import builtin_model  # noqa: E402
from photoface.jsonfile import json_text  # noqa: E402
from photoface.mesh.hierarchy import MeshHierarchy, load_or_build  # noqa: E402
from photoface.nn.decoders import GraphDecoder  # noqa: E402
from photoface.nn.facenet import build_facenet  # noqa: E402

PRESETS = {
    "demo": dict(encoder="resnet18", image_size=128, batch=16),
    "paper": dict(encoder="resnet50", image_size=224, batch=8, channels_last=True),
}


def _with_cpu(fn, store: list):
    """Wrap ``fn`` to also record the process CPU seconds (all threads) of each call.

    CPU time barely depends on how many other jobs share the cores, so CPU / threads estimates
    the wall time of an idle machine (a lower bound: it assumes both threads stay busy).
    """

    def run():
        c = time.process_time()
        fn()
        store.append(time.process_time() - c)

    return run


def _median(x) -> float:
    return float(np.median(x)) if len(x) else float("nan")


def _hierarchy(resolution: str):
    m = builtin_model(resolution)
    return m, load_or_build(m.mean.double().numpy(), m.faces.numpy())


class PygDecoder(torch.nn.Module):
    """The same decoder with torch_geometric.nn.ChebConv, node-major (B, V, C)."""

    def __init__(self, ours: GraphDecoder, hierarchy: MeshHierarchy):
        super().__init__()
        from torch_geometric.nn import ChebConv as PygChebConv

        self.coarse, self.c0 = ours.coarse_vertices, ours.channels[0]
        self.fc = torch.nn.Linear(ours.fc.in_features, ours.fc.out_features)
        self.fc.load_state_dict(ours.fc.state_dict())
        self.up = [(u.matrix, u.matrix.shape) for u in ours.up]
        self.convs = torch.nn.ModuleList()
        self.edges = []
        for conv in [*ours.convs, ours.out_conv]:
            pyg = PygChebConv(conv.in_channels, conv.out_channels, K=conv.K, normalization="sym")
            with torch.no_grad():
                for k, lin in enumerate(pyg.lins):
                    lin.weight.copy_(conv.weight[k].t())
                pyg.bias.copy_(conv.bias)
            self.convs.append(pyg)
            lap = conv.laplacian.to_sparse_coo().coalesce()
            self.edges.append(lap.indices().long())
        self.act = torch.nn.ELU()

    def _conv(self, i, x):
        return self.convs[i](x, self.edges[i], lambda_max=2.0)

    def forward(self, code):
        b = code.shape[0]
        x = self.fc(code).view(b, self.coarse, self.c0)
        for i, (mat, (v_out, v_in)) in enumerate(self.up):
            c = x.shape[-1]
            x = torch.sparse.mm(mat, x.transpose(0, 1).reshape(v_in, b * c)).view(v_out, b, c).transpose(0, 1)
            x = self.act(self._conv(i, x))
        return self._conv(len(self.up), x)


def bench_decoder(repeats: int) -> None:
    for resolution in ("paper", "demo"):
        _, hier = _hierarchy(resolution)
        torch.manual_seed(0)
        ours = GraphDecoder(192, hier)
        torch.nn.init.normal_(ours.out_conv.weight, std=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = PygDecoder(ours, hier)
        z = torch.randn(8, 192)
        with torch.no_grad():
            err = (ours(z) - ref(z)).abs().max().item()
        g = torch.randn(8, hier.sizes[0], 3)

        def step(net):
            def run():
                net.zero_grad(set_to_none=True)
                (net(z) * g).sum().backward()

            return run

        cpu = {"ours": [], "torch_geometric": []}
        fns = {"ours": _with_cpu(step(ours), cpu["ours"]), "torch_geometric": _with_cpu(step(ref), cpu["torch_geometric"])}
        res = interleaved_medians(fns, repeats=repeats)
        o, r = res["ours"][0], res["torch_geometric"][0]
        print(f"[decoder {resolution}] {hier.sizes[0]} vertices, batch 8, fwd+bwd; max |ours - pyg| = {err:.1e}")
        for name, (med, times) in res.items():
            c = _median(cpu[name][-repeats:])
            print(f"  {name:16s} median {med:.3f} s, CPU {c:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times)})")
        print(f"  torch_geometric / ours = {r / o:.1f}x (CPU: {_median(cpu['torch_geometric'][-repeats:]) / _median(cpu['ours'][-repeats:]):.1f}x)")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def facenet_child(preset: str, repeats: int) -> dict:
    """One preset in this (fresh) process; returns timings and memory as a dict."""
    import torchvision

    p = PRESETS[preset]
    face, hier = _hierarchy(preset)
    torch.manual_seed(0)
    net = build_facenet(
        face, encoder=p["encoder"], image_size=p["image_size"], hierarchy=hier,
        channels_last=p.get("channels_last", False),
    )
    b, s = p["batch"], p["image_size"]
    images = torch.rand(b, 3, s, s)
    target_lm = torch.full((b, 68, 2), s / 2.0)

    def facenet_step():
        net.zero_grad(set_to_none=True)
        out = net(images)
        photo = ((out.image - images) ** 2 * out.mask).sum() / out.mask.sum().clamp_min(1.0)
        lm = ((out.landmarks2d - target_lm) ** 2).mean() / s**2
        (photo + lm + out.id_code.square().mean()).backward()

    resnet = getattr(torchvision.models, p["encoder"])(weights=None)
    x = images
    if p.get("channels_last"):
        resnet = resnet.to(memory_format=torch.channels_last)
        x = images.contiguous(memory_format=torch.channels_last)

    def resnet_step():
        resnet.zero_grad(set_to_none=True)
        resnet(x).sum().backward()

    rss_before = _rss_mb()
    t0 = time.perf_counter()
    facenet_step()
    first = time.perf_counter() - t0
    facenet_step()
    # Peak of the FaceNet steps alone, before the reference ResNet allocates anything.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = {"facenet": [], "resnet": []}
    res = interleaved_medians(
        {"facenet": _with_cpu(facenet_step, cpu["facenet"]), "resnet": _with_cpu(resnet_step, cpu["resnet"])},
        repeats=repeats, warmup=0,
    )
    return {
        "preset": preset, "vertices": hier.sizes[0], "batch": b, "size": s, "encoder": p["encoder"],
        "first_step_s": first,
        "facenet_s": res["facenet"][0], "facenet_runs": res["facenet"][1],
        "resnet_s": res["resnet"][0], "resnet_runs": res["resnet"][1],
        "facenet_cpu_s": _median(cpu["facenet"]), "resnet_cpu_s": _median(cpu["resnet"]),
        "rss_before_mb": rss_before, "peak_rss_mb": peak,
    }


def bench_facenet(repeats: int, presets) -> None:
    for preset in presets:
        cmd = [sys.executable, __file__, "--child-facenet", preset, "--repeats", str(repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"[facenet {preset}] {r['encoder']}, {r['size']}², {r['vertices']} vertices, batch {r['batch']}, "
            "stage 1 fwd+bwd"
        )
        print(f"  facenet  median {r['facenet_s']:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in r['facenet_runs'])})"
              f"  = {r['batch'] / r['facenet_s']:.1f} img/s; first step {r['first_step_s']:.2f} s")
        print(f"  {r['encoder']} alone median {r['resnet_s']:.3f} s; facenet / resnet = {r['facenet_s'] / r['resnet_s']:.2f}")
        print(f"  CPU medians: facenet {r['facenet_cpu_s']:.2f} s, {r['encoder']} {r['resnet_cpu_s']:.2f} s")
        print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (model built: {r['rss_before_mb']:.0f} MB; "
              f"training steps add ≤ {r['peak_rss_mb'] - r['rss_before_mb']:.0f} MB)")


def bench_hierarchy(repeats: int) -> None:
    import fast_simplification

    m = builtin_model("paper")
    v, f = m.mean.double().numpy(), m.faces.numpy()
    target = int(np.ceil(len(v) / 4))
    ours, ref, cpu = [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        h = MeshHierarchy.build(v, f)
        ours.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        fast_simplification.simplify(v.astype(np.float32), f.astype(np.int32), target_count=2 * target)
        ref.append(time.perf_counter() - t0)
    o, r = float(np.median(ours)), float(np.median(ref))
    print(f"[hierarchy] {len(v)} vertices → {h.sizes}")
    print(f"  MeshHierarchy.build median {o:.2f} s, CPU {_median(cpu):.2f} s (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"  fast_simplification to one level median {r:.3f} s; ratio {o / r:.0f}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=["decoder", "facenet", "hierarchy"],
                    default=["decoder", "facenet", "hierarchy"])
    ap.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["demo", "paper"])
    ap.add_argument("--child-facenet", choices=sorted(PRESETS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    set_threads(2)
    if args.child_facenet:
        print(json_text(facenet_child(args.child_facenet, args.repeats)))
        return 0
    print(f"machine: {machine_summary()}")
    if "hierarchy" in args.only:
        bench_hierarchy(max(1, min(args.repeats, 3)))
    if "decoder" in args.only:
        bench_decoder(args.repeats)
    if "facenet" in args.only:
        bench_facenet(args.repeats, args.presets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
