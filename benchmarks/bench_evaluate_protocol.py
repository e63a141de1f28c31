"""Benchmark the MICC-style protocol's geometry (photoface.evaluate), numpy/scipy on the CPU.

Three timings, each with a reference timed in the same run (interleaved):

1. closest point on triangles, pairwise, 200k (point, triangle) pairs: ours vs
   ``trimesh.triangles.closest_point`` (the same computation in trimesh);
2. exact point-to-surface distance of a 60k-point scan to a prediction mesh (37k vertices, the
   paper's size, and 5k, the demo's): ours vs a nearest-VERTEX KD-tree query (inexact, the cheap
   lower bound of any such search);
3. the whole protocol (``evaluate_mesh``: crop, ICP with scale from a perturbed start, both
   error directions), reported with its ICP iteration count and error.

The scan is a face-sized dome sampled at about 0.8 mm with 0.2 mm noise; predictions are face-like
grids. ``trimesh.proximity.closest_point`` cannot be timed here: it needs ``rtree``, which is not
installed (nor a photoface dependency).

Run:  .venv/bin/python benchmarks/bench_evaluate_protocol.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photoface.evaluate.protocol import evaluate_mesh  # noqa: E402
from photoface.evaluate.surface import TriangleMeshDistance, closest_points_on_triangles  # noqa: E402
from photoface.mesh.similarity import Similarity  # noqa: E402
from timing import interleaved_medians, machine_summary, set_threads  # noqa: E402


def face_grid(n: int, width=170.0, height=210.0):
    """n×n face-like height field (mm): dome + nose ridge, z towards the viewer."""
    xs, ys = np.meshgrid(np.linspace(-width / 2, width / 2, n), np.linspace(-height / 2, height / 2, n))
    z = 60 * np.sqrt(np.clip(1 - (xs / 100) ** 2 - (ys / 125) ** 2, 0, None))
    z += 25 * np.exp(-(xs**2) / 80 - (ys + 5) ** 2 / 900)
    verts = np.stack([xs, ys, z], -1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return verts, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    set_threads()
    import trimesh

    print(machine_summary())
    rng = np.random.default_rng(0)

    tris = rng.normal(size=(200_000, 3, 3)) * 2
    pts = rng.normal(size=(200_000, 3)) * 3
    assert np.allclose(closest_points_on_triangles(pts, tris), trimesh.triangles.closest_point(tris, pts),
                       atol=1e-9)
    r = interleaved_medians({
        "ours": lambda: closest_points_on_triangles(pts, tris),
        "trimesh": lambda: trimesh.triangles.closest_point(tris, pts),
    }, repeats=args.repeats)
    print(f"[1] closest point, 200k pairs: ours {r['ours'][0]:.3f} s, trimesh.triangles "
          f"{r['trimesh'][0]:.3f} s, ratio {r['ours'][0] / r['trimesh'][0]:.2f}")

    scan_v, scan_f = face_grid(260)  # ~0.8 mm spacing
    scan_v = scan_v + rng.normal(size=scan_v.shape) * 0.2
    crop = np.linalg.norm(scan_v - scan_v[np.argmax(scan_v[:, 2])], axis=1) <= 95
    query = scan_v[crop]
    for name, n in (("paper 37k", 193), ("demo 5k", 71)):
        pv, pf = face_grid(n)
        tmd = TriangleMeshDistance(pv, pf)
        tree = cKDTree(pv)
        r = interleaved_medians({
            "exact": lambda: TriangleMeshDistance(pv, pf).query(query),
            "approx": lambda: tmd.query(query, certify=False),
            "vertex": lambda: tree.query(query),
        }, repeats=args.repeats)
        d_exact = tmd.query(query)[0]
        d_vertex = tree.query(query)[0]
        print(f"[2] {len(query)} scan points → {name} ({len(pv)} v, {len(pf)} tri): exact (incl. tree build) "
              f"{r['exact'][0]:.3f} s, uncertified {r['approx'][0]:.3f} s, nearest-vertex KD-tree "
              f"{r['vertex'][0]:.3f} s; ratio exact/vertex {r['exact'][0] / r['vertex'][0]:.1f}; "
              f"mean distance exact {d_exact.mean():.3f} mm vs nearest vertex {d_vertex.mean():.3f} mm")

        pert = Similarity(1.04, Rotation.from_euler("xyz", [5, -6, 3], degrees=True).as_matrix(),
                          np.array([4.0, -3.0, 5.0]))
        pred = pert.apply(pv)
        nose = scan_v[np.argmax(scan_v[:, 2])]
        results = {}

        def run():
            results["r"] = evaluate_mesh(pred, pf, scan_v, scan_f, scan_nose_tip=nose,
                                         pred_nose_tip=pred[np.argmax(pv[:, 2])])

        r = interleaved_medians({"protocol": run, "vertex": lambda: tree.query(query)}, repeats=args.repeats)
        res = results["r"]
        print(f"[3] evaluate_mesh {name}: {r['protocol'][0]:.2f} s (ratio to one nearest-vertex query "
              f"{r['protocol'][0] / r['vertex'][0]:.0f}), {res.icp_iterations} ICP iterations, "
              f"symmetric {res.symmetric_mm:.3f} mm (scan→pred {res.scan_to_pred_mm:.3f}, "
              f"pred→scan {res.pred_to_scan_mm:.3f})")


if __name__ == "__main__":
    main()
