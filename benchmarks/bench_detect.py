"""Benchmark face detection + landmarks per photo: MediaPipe FaceLandmarker against dlib, same pixels.

Each photo is loaded once as ``prepare`` loads it (``load_photo``: EXIF rotation, RGB 8-bit, at
most 2048 px), then each detector is timed on that same array, interleaved photo by photo
(MediaPipe, dlib HOG, dlib auto, ...) so that a change of machine load hits all alike:

* ``mediapipe``: ``MediaPipeDetector.detect``: face detection, 478 points, blendshapes, pose and
  the iBUG-68 table (everything ``prepare`` gets from it);
* ``dlib hog``: HOG (with ``prepare``'s resizing and upsampling policy) + the 68-point predictor
  on every face found;
* ``dlib auto``: ``--detector dlib``: HOG, the CNN confirming weak HOG boxes or running where HOG
  finds nothing, + the predictor;
* ``default``: ``prepare``'s default, MediaPipe, and dlib auto where MediaPipe finds no face
  (``faces.FaceFinder("mediapipe")``; the predictor on the largest face, as ``prepare`` does).

Per photo the median of ``--repeats`` runs (after one warm-up run) is taken; the table gives the
median over photos, and the share of photos within the 15 ms target. Wall-clock and process CPU
time are both printed (MediaPipe runs its own threads; CPU time counts all of them). Faces found:
photos with at least one face, and all faces found.

Run:  .venv/bin/python benchmarks/bench_detect.py [PHOTO_DIR ...] [--repeats 5] [--no-auto]
      (without a folder: scikit-image's astronaut and three renders of the built-in face model)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photoface.data.prepare.detect import FaceDetector  # noqa: E402
from photoface.data.prepare.faces import FaceFinder  # noqa: E402
from photoface.data.prepare.images import IMAGE_SUFFIXES, load_photo  # noqa: E402
from photoface.data.prepare.mediapipe_detect import MediaPipeDetector  # noqa: E402
from photoface.data.prepare.pipeline import LOAD_SIDE  # noqa: E402
from timing import machine_summary, set_threads  # noqa: E402


def builtin_photos() -> list[tuple[str, np.ndarray]]:
    """The astronaut and the built-in face model rendered at three yaws (512² each)."""
    import torch
    from skimage import data

    from photoface.facemodel.spec import load_face_model
    from photoface.render.framing import render_view

    model = load_face_model("builtin:demo")
    photos = [("astronaut", data.astronaut())]
    for yaw in (-40.0, 0.0, 40.0):
        pose = torch.tensor([[5.0, yaw, 0.0, 2.8, 256.0, 256.0]])
        photos.append((f"builtin yaw {yaw:+.0f}", render_view(model.shape(), model.faces, model.albedo(), pose, 512)[0]))
    return photos


def folder_photos(folders: list[str]) -> list[tuple[str, np.ndarray]]:
    photos = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                photos.append((str(path.relative_to(folder)), load_photo(path, max_side=LOAD_SIDE).rgb))
    return photos


def dlib_faces(det: FaceDetector, rgb: np.ndarray) -> int:
    found = det.detect(rgb)
    for d in found:
        det.landmarks(rgb, d.box)
    return len(found)


def time_photo(fn, rgb, repeats: int) -> tuple[float, float, int]:
    """(median wall s, median CPU s, faces found) of ``fn(rgb)`` after one warm-up call."""
    faces = fn(rgb)
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn(rgb)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", metavar="PHOTO_DIR")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-auto", action="store_true", help="leave out dlib auto (its CNN costs seconds)")
    args = ap.parse_args()
    set_threads()
    photos = folder_photos(args.folders) if args.folders else builtin_photos()
    mp = MediaPipeDetector()
    hog, auto = FaceDetector("hog"), FaceDetector("auto")
    subjects = {"mediapipe": lambda rgb: len(mp.detect(rgb)), "dlib hog": lambda rgb: dlib_faces(hog, rgb)}
    if not args.no_auto:
        finder = FaceFinder("mediapipe")
        subjects["dlib auto"] = lambda rgb: dlib_faces(auto, rgb)
        subjects["default"] = lambda rgb: len(finder.find(rgb, 1)[0])
    print(machine_summary())
    print(f"{len(photos)} photos, median of {args.repeats} runs each\n")
    rows: dict[str, list[tuple[float, float, int]]] = {name: [] for name in subjects}
    print("photo".ljust(40) + "".join(f"{name:>26}" for name in subjects))
    for name, rgb in photos:
        cells = []
        for subject, fn in subjects.items():
            wall, cpu, faces = time_photo(fn, rgb, args.repeats)
            rows[subject].append((wall, cpu, faces))
            cells.append(f"{1000 * wall:8.1f} ms {1000 * cpu:7.1f} cpu {faces:2d}f")
        print(f"{name[:39]:40}" + "".join(f"{c:>26}" for c in cells) + f"   {rgb.shape[1]}x{rgb.shape[0]}")
    print("\n| detector | median ms / photo (wall) | median CPU ms | ≤ 15 ms | photos with a face | faces |")
    print("|---|---:|---:|---:|---:|---:|")
    for subject, res in rows.items():
        wall = statistics.median(r[0] for r in res)
        cpu = statistics.median(r[1] for r in res)
        within = sum(r[0] <= 0.015 for r in res)
        print(f"| {subject} | {1000 * wall:.1f} | {1000 * cpu:.1f} | {within}/{len(res)} | "
              f"{sum(r[2] > 0 for r in res)}/{len(res)} | {sum(r[2] for r in res)} |")


if __name__ == "__main__":
    main()
