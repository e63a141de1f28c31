"""``photoface evaluate identity``: how consistently a method sees one real person across photos.

No 3D truth is needed: the input is a folder of person folders (``photoface prepare``'s layout;
each photo's largest face is used). Every photo gets its own identity vector, and all pairs of
photos are scored by the cosine similarity of their vectors (``photoface.run.verification``,
``runner.verification_summary``): EER, TAR at FAR 10 % and 1 %, and the balanced-accuracy threshold
(Youden's J) with its identity-disjoint cross-calibrated accuracy. Methods:

* ``fit`` (results key ``fit_own``; not the synthetic benchmark's ``fit_single``, which fits each
  photo from scratch): each photo's own identity coefficients, exactly what ``photoface fit``
  writes as ``codes.identity_single`` (``photoface.fit.collection.fit_singles``: from the photo's
  own landmarks and pixels, its pose, light and albedo started from its person's joint fit,
  ``photoface.fit.single``);
* ``network``: a trained run's identity code (``--checkpoint``);
* ``pixels``: the baseline any identity method must beat: the aligned crop as 24×24 grey pixels,
  mean removed (a photo's brightness says nothing about who it is).

Shape consistency (``fit`` and ``network``): each photo's identity mesh (its identity with a neutral
expression, millimetres, the model's canonical frame, so no alignment is needed) is compared with
every other photo's by the mean per-vertex distance; ``intra_mm`` is the mean over pairs of one
person, ``inter_mm`` over pairs of two people, and ``ratio`` = intra / inter (below 1: the method
separates people in shape; 1: it does not).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.errors import PhotofaceError
from photoface.evaluate.runner import verification_summary
from photoface.run.verification import all_pairs

METHODS = ("fit", "network", "pixels")
FARS = (1e-1, 1e-2)
PIXELS_SIDE = 24  # px: the raw-pixel baseline's grey thumbnail


def pixel_vectors(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) crops in [0, 1] → (N, 24·24) grey thumbnails, mean removed (Rec. 601 luma)."""
    grey = (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    small = torch.nn.functional.interpolate(grey.double(), size=(PIXELS_SIDE, PIXELS_SIDE), mode="area")
    flat = small.flatten(1).numpy()
    return flat - flat.mean(1, keepdims=True)


def shape_distances(meshes: np.ndarray, identities: Sequence[str]) -> dict:
    """(N, V, 3) mm identity meshes → mean per-vertex distance within and between people (mm)."""
    ids = np.asarray(list(identities))
    pairs = all_pairs(len(ids))
    same = ids[pairs[:, 0]] == ids[pairs[:, 1]]
    d = np.array([np.linalg.norm(meshes[i] - meshes[j], axis=-1).mean() for i, j in pairs])
    intra = float(d[same].mean()) if same.any() else float("nan")
    inter = float(d[~same].mean()) if (~same).any() else float("nan")
    return {"intra_mm": intra, "inter_mm": inter, "ratio": intra / inter if inter > 0 else float("nan"),
            "genuine_pairs": int(same.sum()), "impostor_pairs": int((~same).sum())}


def fit_vectors(ds, face_model, cfg, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each photo's own identity (``fit_singles`` after its person's joint fit), exactly as
    ``photoface fit`` makes it (``fit.collection.fit_collection``): (N, K) identity coefficients,
    (N, V, 3) mm identity meshes."""
    from dataclasses import replace

    from tqdm import tqdm

    from photoface.fit.collection import fit_collection

    order = {id(r): i for i, r in enumerate(ds.rows)}
    vectors, meshes = [None] * len(ds), [None] * len(ds)
    with tqdm(total=len(ds), desc="fit each photo", unit="photo", disable=not progress) as bar:
        for _, rows, joint in fit_collection(ds, face_model, replace(cfg, single_photo_fits=True)):
            for row, single in zip(rows, joint.singles):
                vectors[order[id(row)]] = single.params.identity_vector()
                meshes[order[id(row)]] = single.params.neutral_shape()[0].cpu().numpy()
                bar.update(1)
    return np.stack(vectors), np.stack(meshes)


@torch.no_grad()
def network_vectors(trained, ds, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A trained run's identity codes (N, D) and their neutral identity meshes (N, V, 3) mm."""
    codes, meshes = [], []
    for s in range(0, len(ds), batch_size):
        rows = ds.rows[s:s + batch_size]
        images = torch.stack([ds.load_image(r) for r in rows]).to(trained.device)
        lm = torch.from_numpy(np.stack([np.asarray(r.landmarks, np.float32) for r in rows]))
        id_code = trained.predict(images, render=False, landmarks=lm).id_code.float()
        exp = torch.zeros(len(rows), trained.config.model.exp_dim, device=id_code.device)
        codes.append(id_code.cpu().numpy())
        meshes.append(trained.net.decode_shape(id_code, exp).float().cpu().numpy())
    return np.concatenate(codes), np.concatenate(meshes)


def prepared_photos(photos: str | Path, work_dir: Path, image_size: int, detector: str, progress: bool):
    """``photos`` (a folder of person folders) prepared into ``work_dir``: (dataset, {key: skip reason})."""
    from photoface.data.prepare import PrepareOptions, prepare_photos
    from photoface.data.prepare.pipeline import read_report

    ds = prepare_photos(photos, work_dir, PrepareOptions(image_size=image_size, detector=detector), progress=progress)
    return ds, read_report(work_dir)[0]


def evaluate_identity(photos: str | Path, checkpoint: str | Path | None = None, methods: Sequence[str] | None = None,
                      face_model: str | None = None, image_size: int = 128, detector: str = DEFAULT_DETECTOR,
                      fit_config=None, work_dir: str | Path | None = None, device: str = "cpu",
                      progress: bool = True) -> dict:
    """Score ``methods`` on the person folders of ``photos`` (module docstring); JSON-ready results.

    Args:
        checkpoint: a trained run (needed by ``network``; its crop size is then used for all methods).
        methods: any of ``METHODS``; default ``network`` with a checkpoint, else ``fit``, and ``pixels``.
        face_model: the linear model of ``fit`` (default the checkpoint's, else ``builtin:demo``).
        fit_config: ``FitConfig`` of ``fit`` (default values).
        work_dir: where the prepared crops go (default a temporary folder, removed afterwards).
    """
    t0 = time.perf_counter()
    trained = None
    if checkpoint is not None:
        from photoface.run.inference import load_trained

        trained = load_trained(checkpoint, device=device)
        image_size = trained.image_size
    methods = list(methods or (["network"] if trained is not None else ["fit"]) + ["pixels"])
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise PhotofaceError(f"unknown identity method(s) {unknown}; choose from {', '.join(METHODS)}")
    if "network" in methods and trained is None:
        raise PhotofaceError("--method network needs --checkpoint RUN")
    with tempfile.TemporaryDirectory(prefix="photoface-identity-") as tmp:
        ds, skipped = prepared_photos(photos, Path(work_dir or tmp), image_size, detector, progress)
        ids = [r.identity for r in ds.rows]
        if len(set(ids)) < 2 or len(ids) == len(set(ids)):
            raise PhotofaceError(f"{photos}: identity needs at least two people and one person with two or more "
                                 f"photos with a face (found {len(ids)} photos of {len(set(ids))} people)")
        results: dict = {}
        for method in methods:
            t = time.perf_counter()
            meshes = None
            if method == "pixels":
                vectors = pixel_vectors(torch.stack([ds.load_image(r) for r in ds.rows]))
            elif method == "network":
                vectors, meshes = network_vectors(trained, ds)
            else:
                from photoface.facemodel import load_face_model
                from photoface.fit.config import FitConfig

                if face_model is None and trained is not None:
                    model = trained.face_model
                else:
                    model = load_face_model(face_model or "builtin:demo")
                vectors, meshes = fit_vectors(ds, model, fit_config or FitConfig(), progress)
            results["fit_own" if method == "fit" else method] = {"verification": verification_summary(vectors, ids, fars=FARS),
                               "shape": None if meshes is None else shape_distances(meshes, ids),
                               "seconds": round(time.perf_counter() - t, 1)}
    people = sorted(set(ids))
    results["meta"] = {
        "benchmark": "identity", "dataset": str(Path(photos).resolve()),
        "run": None if trained is None else str(Path(trained.run_dir or Path(trained.checkpoint).parent)),
        "checkpoint": None if trained is None else str(trained.checkpoint),
        "step": None if trained is None else trained.step,
        "face_model": (face_model or ("checkpoint's" if trained is not None else "builtin:demo"))
        if "fit" in methods else None, "image_size": image_size, "detector": detector,
        "people": len(people), "photos": len(ids), "photos_per_person": {p: ids.count(p) for p in people},
        "skipped": skipped, "seconds": round(time.perf_counter() - t0, 1),
        "protocol": "all pairs of photos, cosine of per-photo identity vectors (fit: codes.identity_single)",
    }
    return results
