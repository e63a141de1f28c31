"""``evaluate landmarks`` on synthetic photos with exact landmarks, written in the AFLW2000-3D layout.

A dataset of ``photoface synth`` holds, per photo, the exact projections of the face model's 68
landmark vertices (``extra["landmarks_true"]``: 3-D landmarks, hidden jaw points not on the
silhouette, the AFLW2000-3D convention) and the camera's yaw (``extra["pose_true"]``). This script
writes every photo of it as ``imageNNNNN.<ext>`` + ``imageNNNNN.mat`` (``pt3d_68`` 1-based as
MATLAB stores it, ``Pose_Para`` with the yaw in radians, the dataset's other keys zero), so the
scorer runs exactly as on AFLW2000-3D, through its own reader, then prints the scorer's table.

Run:  .venv/bin/python benchmarks/bench_landmarks.py SYNTH_DIR --out OUT_DIR [--method LIST] [--max-photos N]
      [--threads 1] [--fit-model MODEL]
      (the dataset: ``photoface synth --model builtin:demo --identities 10 --photos-per-identity 4
      --size 256 --seed 0 --out SYNTH_DIR``; OUT_DIR receives the AFLW-style folder and eval_landmarks.*)

A collection rendered with ANOTHER face model (``photoface synth --model OTHER.npz``) has that
model's 68 landmark vertices as its truth: a 3-D convention defined by someone else, as
AFLW2000-3D's is (BFM 2009 vertices of 3DDFA's fits). It measures how far the fit's face model
defines its points from the truth's; ``--fit-model OTHER.npz`` is the fit with the truth's own
definitions, the bound that importing the annotation's model (BFM with 3DDFA's keypoints for
AFLW2000-3D) reaches for.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photoface.data.format import load_dataset  # noqa: E402
from photoface.evaluate.landmarks import evaluate_landmarks, write_landmark_results  # noqa: E402
from photoface.evaluate.tables import landmark_region_table, landmark_table  # noqa: E402
from timing import machine_summary, set_threads  # noqa: E402


def export_aflw_layout(synth_dir: str | Path, out: Path) -> int:
    """Every photo of the synthetic dataset as an AFLW2000-3D image + .mat pair in ``out``; returns the count."""
    ds = load_dataset(synth_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for row in ds.rows:
        if "landmarks_true" not in row.extra or "pose_true" not in row.extra:
            continue
        truth = np.asarray(row.extra["landmarks_true"], np.float64)
        pitch, yaw, roll = np.radians(np.asarray(row.extra["pose_true"], np.float64)[:3])
        pts = np.zeros((3, 68))
        pts[:2] = (truth + 0.5).T  # photoface pixel centres → MATLAB's 1-based ones
        src = ds.root / row.image
        shutil.copyfile(src, out / f"image{n:05d}{src.suffix}")
        scipy.io.savemat(out / f"image{n:05d}.mat", {
            "pt3d_68": pts, "Pose_Para": np.array([[pitch, yaw, roll, 0.0, 0.0, 0.0, 0.0]]),
            "Shape_Para": np.zeros((199, 1)), "Exp_Para": np.zeros((29, 1))})
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("synth", metavar="SYNTH_DIR")
    ap.add_argument("--out", required=True, metavar="OUT_DIR")
    ap.add_argument("--method", default="default,mediapipe,dlib,fit")
    ap.add_argument("--max-photos", type=int)
    ap.add_argument("--fit-model", default="builtin:demo", metavar="MODEL",
                    help="face model of the fit method (default builtin:demo)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the fit (default 1)")
    args = ap.parse_args()
    set_threads(args.threads)
    out = Path(args.out)
    n = export_aflw_layout(args.synth, out / "aflw")
    print(machine_summary())
    print(f"{n} synthetic photos written in the AFLW2000-3D layout to {out / 'aflw'}")
    res = evaluate_landmarks(out / "aflw", args.method.split(","), max_photos=args.max_photos,
                             fit_model=args.fit_model, log=lambda line: print(line, flush=True))
    paths = write_landmark_results(res, out / "eval_landmarks.json")
    print()
    print(landmark_table({m: res[m] for m in res["meta"]["methods"]}))
    print()
    print(landmark_region_table({m: res[m] for m in res["meta"]["methods"]}))
    print(f"wrote {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    main()
