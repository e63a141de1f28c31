"""Measure the error of FLAME's jaw linearisation (photoface.facemodel.flame_jaw) over 0–25°.

For random shapes (standard-normal identity coefficients, and identity + expression), every
sampled jaw opening is posed by LBS and compared with its best fit by the imported linear jaw
components, over the face area the import keeps (``flame.default_face_crop``) and over the
vertices that follow the jaw (jaw weight > 0.5). Prints mean and max vertex error (mm) per angle
next to the mean displacement the opening causes there.

Without ``--flame`` it measures the FLAME-like fixture head of the tests
(``tests/support/flame_files.py``); with ``--flame generic_model.pkl --landmarks
landmark_embedding.npy`` a real FLAME file.

Run:  .venv/bin/python benchmarks/bench_flame_jaw.py [--flame PKL --landmarks EMB] [--shapes 8] [--components 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from photoface.facemodel.flame import M_TO_MM, default_face_crop  # noqa: E402
from photoface.facemodel.flame_files import read_flame_model, read_landmark_embedding  # noqa: E402
from photoface.facemodel.flame_jaw import JAW_JOINT, jaw_basis, linearisation_error  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flame", help="a FLAME model .pkl (default: the tests' fixture head)")
    ap.add_argument("--landmarks", help="its landmark embedding (for the face crop's nose tip)")
    ap.add_argument("--shapes", type=int, default=8)
    ap.add_argument("--components", type=int, default=2)
    args = ap.parse_args()
    if args.flame is None:
        from support.flame_files import write_flame_files

        files = write_flame_files(Path(tempfile.mkdtemp()), masks=False)
        args.flame, args.landmarks = files["model"], files["landmarks"]
    flame = read_flame_model(args.flame)
    f_idx, bary = read_landmark_embedding(args.landmarks)
    verts_mm = flame["v_template"] * M_TO_MM
    tip = np.einsum("kd,k->d", verts_mm[flame["f"][f_idx[30]]], bary[30])
    face = default_face_crop(verts_mm, tip)
    jaw = np.flatnonzero(flame["weights"][:, JAW_JOINT] > 0.5)
    basis, _ = jaw_basis(flame, args.components)
    angles = np.deg2rad([5.0, 10.0, 15.0, 20.0, 25.0])
    sd = flame["shapedirs"]
    print(f"{args.flame}: {len(flame['v_template'])} vertices, face area {len(face)}, jaw {len(jaw)}; "
          f"{args.components} jaw components, {args.shapes} random shapes")
    for label, dirs in (("identity", sd[..., :300] if sd.shape[-1] > 300 else sd), ("identity+expression", sd)):
        for region, idx in (("face", face), ("jaw", jaw)):
            e = linearisation_error(flame, basis, dirs, idx, n_shapes=args.shapes, angles=angles)
            print(f"  {label:20s} {region:4s} " + "  ".join(
                f"{a:.0f}°: {m:.3f}/{x:.2f} ({o:.2f})" for a, m, x, o in
                zip(e["angles_deg"], e["mean_mm"], e["max_mm"], e["opening_mm"])))
    print("  (per angle: mean / max error mm (mean displacement of the opening mm))")


if __name__ == "__main__":
    main()
