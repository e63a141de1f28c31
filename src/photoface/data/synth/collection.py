"""``photoface synth``: synthetic unconstrained photo collections with ground truth.

Writes the prepared-dataset format (``photoface.data.format``) for any face-model file or the
built-in model: N identities, M photos each, as if taken on different days in three difficulty
settings (``photoface.data.synth.scene``). What goes into a photo is described in
``photoface.data.synth.photo``; identities and their nonlinear detail in
``photoface.data.synth.identity``; the 300W-LP-style labels in ``photoface.data.synth.fit``.

Splits: the first N − n_test identities are "train", the last n_test = round(test_fraction · N)
(at least one when test_fraction > 0, at most N − 1) are "test". Test identities are never
labeled, get photos in all three settings (photo j has setting j mod 3), and each has a
neutral, frontal "scan": its true neutral mesh (V, 3) mm in canonical pose.

Files (relative to the output folder)::

    images/<id>/<id>_<j>.png     the photo (PNG; JPEG artefacts are applied in memory)
    masks/<id>/<id>_<j>.png      255 = face pixel not hidden by an occluder
    meshes/<id>/<id>_<j>.npy     the TRUE mesh of that photo: (V, 3) float32 mm, canonical pose,
                                 including expression and the identity's detail (one per photo,
                                 so evaluation needs no face model to rebuild it)
    scans/<id>.npy, .obj         test identities: true neutral mesh (the MICC-style "scan")
    identities/<id>.json         identity ground truth: alpha_id, beta (albedo), albedo_source,
                                 detail RMS, hair, skin, glasses; identities/<id>_detail.npy (V, 3)
                                 mm; for a model without albedo modes also <id>_albedo.npy (V, 3),
                                 the procedural skin the identity got (``albedo_source`` says so;
                                 see ``photoface.data.synth.identity``)

Row fields beyond the format's common ones: ``true_mesh``, ``setting``, ``alpha_id_true`` and
``light`` (the format's synthetic fields; ``light`` is the exact code the face was rendered with,
auto-exposure included, so ``Renderer.render(true mesh, albedo(beta), pose_true, light)`` (the
identity's ``_albedo.npy`` for a model without albedo modes) reproduces the face pixels before
degradation), and in ``extra``: ``pose_true`` (6,) the camera the photo was rendered with
(``pose`` is the fit's label and present on labeled rows only),
``alpha_exp_true`` (L,), ``landmarks_true`` (68, 2) exact projections (``landmarks`` holds the
fit's landmarks on labeled rows and detector-like noisy ones otherwise), ``occluders`` (names),
``degradation`` and, on test rows, ``scan`` (path of the identity's scan .npy). meta.json's
``extra`` has ``generator`` (all parameters), ``settings``, ``scans`` ({identity: {"npy", "obj"}}),
``true_mesh`` = "per-photo" and ``albedo_source`` (the face model's albedo modes, or the procedural
skin for a model without any).

Determinism: identity i draws everything from ``SeedSequence([seed, i])`` and workers only
compute; the main process writes files in identity order, so the same arguments give
byte-identical files for any number of workers. Torch runs single-threaded in every worker
(and in this process while generating), and nothing else here threads, so thread settings do
not matter either. What a BLAS kernel would decide, the summation order of a matrix product, is
kept out of the stored numbers: linear shapes, expression displacements and label fits go
through ``photoface.data.synth.exact``, landmark projections run in float64, the exposure's
level is summed in float64 and its gain rounded (on an AVX-512 machine, MKL limited to AVX2
changed 15 of that test's 37 files before). tests/data/synth/test_synth_bits.py checks this in fresh processes: 1 thread and
1 worker, 5 threads and 2 workers, and AVX2 kernels (OpenBLAS Haswell, MKL AVX2, torch AVX2,
numpy without AVX-512) give the same bytes, for a model with albedo modes and for one without
(whose procedural skin goes through ``facemodel.albedo_transfer``'s rounded landmark warp).
Limits: the same photoface, torch and numpy
versions, on x86 CPUs with AVX2 or AVX-512. The float32 identity detail and label fit round
differently under torch's non-vectorised kernels (ATEN_CPU_CAPABILITY=default changed 17 of
46 files of that test: detail, meshes, scans and index.jsonl; no image), so CPUs of other
architectures (ARM) are expected to give other bytes; data made there is still valid, only not
identical. A dataset records the face model's hash, so data of another built-in model is
refused by train (photoface.facemodel.procedural makes that model machine-independent).
Interrupted runs resume: finished identities are journaled by the dataset writer and skipped.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic
from photoface.data.format import SETTINGS, DatasetMeta, DatasetRow, DatasetWriter, PreparedDataset
from photoface.data.synth.identity import MODEL_ALBEDO, PROCEDURAL_ALBEDO
from photoface.data.synth.photo import IdentityGenerator, PhotoResult
from photoface.data.synth.sheet import write_contact_sheet
from photoface.errors import PhotofaceError
from photoface.facemodel import face_model_name, load_face_model
from photoface.jsonfile import write_json

__all__ = ["synthesize", "write_contact_sheet", "split_counts"]

MIN_SIZE = 32


def split_counts(identities: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) identity counts for N identities and a test fraction."""
    n_test = int(round(test_fraction * identities))
    if test_fraction > 0:
        n_test = max(n_test, 1)
    n_test = min(n_test, identities - 1)
    return identities - n_test, n_test


def _check_args(identities, photos_per_identity, labeled_fraction, size, test_fraction,
                workers) -> None:
    def integer(value, name, lo):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise PhotofaceError(f"{name} must be an integer >= {lo}, got {value!r}")

    integer(identities, "--identities", 1)
    integer(photos_per_identity, "--photos-per-identity", 1)
    integer(size, "--size", MIN_SIZE)
    if workers is not None:
        integer(workers, "--workers", 1)
    if not (0.0 <= float(labeled_fraction) <= 1.0):
        raise PhotofaceError(f"--labeled-fraction must lie in [0, 1], got {labeled_fraction!r}")
    if not (0.0 <= float(test_fraction) < 1.0):
        raise PhotofaceError(f"--test-fraction must lie in [0, 1), got {test_fraction!r}")
    n_train, n_test = split_counts(identities, test_fraction)
    if test_fraction > 0 and identities < 2:
        raise PhotofaceError("--identities must be at least 2 when --test-fraction > 0 "
                             "(one train and one test identity)")
    if n_test and photos_per_identity < len(SETTINGS):
        raise PhotofaceError(
            f"--photos-per-identity must be at least {len(SETTINGS)} when there are test "
            f"identities (each gets photos in all settings: {', '.join(SETTINGS)}), got "
            f"{photos_per_identity}")


def _check_out(out: Path) -> None:
    """Refuse a file, or a non-empty folder that holds no dataset run to resume."""
    if out.exists() and not out.is_dir():
        raise PhotofaceError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (
            (out / "progress.jsonl").is_file() or (out / "meta.json").is_file()):
        raise PhotofaceError(f"--out {out}: the folder is not empty and holds no dataset to "
                             "resume; choose a new or empty folder")


# ------------------------------------------------------------------ worker processes
_WORKER: dict = {}


def _init_worker(model_spec: str, size: int) -> None:
    import torch

    torch.set_num_threads(1)
    model = load_face_model(model_spec)
    _WORKER["gen"] = IdentityGenerator(model, size)


def _work(job):
    seed, index, name, split, photos, labeled_fraction = job
    ident, results = _WORKER["gen"].generate(seed, index, name, split, photos, labeled_fraction)
    return ident, results


# ------------------------------------------------------------------ writing
def _r(x, nd=4):
    return np.round(np.asarray(x, np.float64), nd)


def _row(ident, res: PhotoResult) -> DatasetRow:
    base = f"{ident.name}/{ident.name}_{res.index:03d}"
    extra = {
        "pose_true": _r(res.scene.pose).tolist(),
        "alpha_exp_true": _r(res.scene.alpha_exp).tolist(),
        "landmarks_true": _r(res.landmarks_true, 3).tolist(),
        "occluders": list(res.scene.occluders),
        "degradation": res.scene.degradation.to_json(),
    }
    if ident.split == "test":
        extra["scan"] = f"scans/{ident.name}.npy"
    row = DatasetRow(
        image=f"images/{base}.png", identity=ident.name, split=ident.split,
        landmarks=_r(res.landmarks, 3), labeled=res.labeled, mask=f"masks/{base}.png",
        visible=res.visible.astype(bool),
        alpha_id=None if res.alpha_id is None else _r(res.alpha_id),
        alpha_exp=None if res.alpha_exp is None else _r(res.alpha_exp),
        pose=None if res.pose is None else _r(res.pose),
        true_mesh=f"meshes/{base}.npy", setting=res.scene.setting,
        alpha_id_true=_r(ident.alpha_id), light=_r(res.scene.light, 5), extra=extra,
    )
    return row


def _obj_bytes(verts: np.ndarray, faces: np.ndarray) -> bytes:
    """A plain OBJ (v / f lines, mm). Written here rather than through trimesh (as
    ``photoface.facemodel.export`` does) because trimesh puts its version into the header, and
    the dataset's bytes must depend only on the seed."""
    lines = [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return ("\n".join(lines) + "\n").encode()


def _write_identity(writer: DatasetWriter, ident, results, faces: np.ndarray, io_pool) -> None:
    """Write one identity's files, then journal its rows in photo order.

    The files go through ``DatasetWriter.write_file`` on a few threads: each write ends in an
    fsync, and overlapping those waits keeps the single writing process ahead of the workers.
    Rows are journaled only after all their files exist, so a resumed run never trusts a row
    whose files are missing.
    """
    info = {
        "identity": ident.name, "split": ident.split, "alpha_id": _r(ident.alpha_id).tolist(),
        "beta": _r(ident.beta).tolist(), "detail_rms_mm": round(ident.detail_rms, 4),
        "detail": f"identities/{ident.name}_detail.npy", "hair_style": ident.look.style,
        "hair_rgb": _r(ident.look.hair).tolist(), "skin_rgb": _r(ident.look.skin).tolist(),
        "wears_glasses": ident.wears_glasses, "albedo_source": ident.albedo_source,
    }
    if ident.albedo_source != MODEL_ALBEDO:
        info["albedo"] = f"identities/{ident.name}_albedo.npy"
    write_json(writer.root / f"identities/{ident.name}.json", info)
    files = [(f"identities/{ident.name}_detail.npy", ident.detail)]
    if ident.albedo_source != MODEL_ALBEDO:
        files.append((info["albedo"], ident.albedo))
    if ident.split == "test":
        files.append((f"scans/{ident.name}.npy", ident.neutral))
        write_atomic(writer.root / f"scans/{ident.name}.obj", _obj_bytes(ident.neutral, faces))
    rows = []
    for res in results:
        row = _row(ident, res)
        rows.append(row)
        files += [(row.image, res.image), (row.mask, res.mask), (row.true_mesh, res.true_mesh)]
    for future in [io_pool.submit(writer.write_file, rel, data) for rel, data in files]:
        future.result()
    for row in rows:
        writer.add(row)
    writer.mark_done(f"identity:{ident.name}")


def synthesize(model: str, identities: int, photos_per_identity: int, out, *,
               labeled_fraction: float = 0.5, size: int = 128, seed: int = 0,
               test_fraction: float = 0.2, workers: int | None = None,
               progress: bool = True) -> PreparedDataset:
    """Generate a synthetic photo-collection dataset (see the module docstring).

    Args:
        model: face-model ``.npz`` path, or ``builtin:demo`` / ``builtin:paper``.
        identities: N, number of people.
        photos_per_identity: M, photos of each.
        out: output folder (created; an interrupted run of the same arguments resumes).
        labeled_fraction: probability that a training photo carries linear-fit labels.
        size: image side in pixels (128 for the demo preset, 224 for the paper's).
        seed: everything random derives from it.
        test_fraction: share of identities held out for testing.
        workers: processes (default: min(CPU count, N)); 1 runs in this process.
        progress: show a progress bar on stderr.

    Returns:
        The dataset as ``load_dataset`` would read it.
    """
    _check_args(identities, photos_per_identity, labeled_fraction, size, test_fraction, workers)
    _check_out(Path(out))
    model_obj, model_name = load_face_model(model), face_model_name(model)
    from photoface.facemodel.io import model_hash

    n_train, n_test = split_counts(identities, test_fraction)
    params = dict(model=model_name, identities=identities,
                  photos_per_identity=photos_per_identity, labeled_fraction=labeled_fraction,
                  size=size, seed=seed, test_fraction=test_fraction)
    digest = model_hash(model_obj)
    source = "synthetic:" + ",".join(f"{k}={v}" for k, v in params.items()) + f",hash={digest[:12]}"
    scans = {f"id{i:05d}": {"npy": f"scans/id{i:05d}.npy", "obj": f"scans/id{i:05d}.obj"}
             for i in range(n_train, identities)}
    meta = DatasetMeta(
        image_size=size, source=source, face_model=model_name, face_model_hash=digest, seed=seed,
        extra={"generator": {"name": "photoface synth", **params},
               "settings": list(SETTINGS), "scans": scans, "true_mesh": "per-photo",
               "train_identities": n_train, "test_identities": n_test,
               "albedo_source": MODEL_ALBEDO if model_obj.n_tex > 0 else PROCEDURAL_ALBEDO},
    )
    jobs = [(seed, i, f"id{i:05d}", "train" if i < n_train else "test", photos_per_identity,
             float(labeled_fraction)) for i in range(identities)]
    workers = min(workers or os.cpu_count() or 1, identities)
    faces = model_obj.faces.cpu().numpy()
    writer = DatasetWriter(out, meta)
    jobs = [j for j in jobs if not writer.is_done(f"identity:{j[2]}")]
    from tqdm import tqdm

    bar = tqdm(total=len(jobs) * photos_per_identity, unit="photo", disable=not progress,
               desc="synth")
    io_pool = ThreadPoolExecutor(4)
    try:
        if workers == 1:
            import torch

            # one thread, as in the worker processes: these small tensors gain nothing from
            # more, and on a busy machine the thread pool's waiting costs several times the work
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                gen = IdentityGenerator(model_obj, size)
                for job in jobs:
                    ident, results = gen.generate(*job)
                    _write_identity(writer, ident, results, faces, io_pool)
                    bar.update(len(results))
            finally:
                torch.set_num_threads(threads)
        else:
            # spawn, not fork: forking a process that already ran torch's thread pool can hang
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(str(model), size)) as pool:
                try:
                    for ident, results in pool.map(_work, jobs):
                        _write_identity(writer, ident, results, faces, io_pool)
                        bar.update(len(results))
                except BrokenProcessPool:
                    raise PhotofaceError(
                        "synth worker processes died (out of memory, or started from a script "
                        "they cannot re-import such as stdin); try --workers 1") from None
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
        io_pool.shutdown()
    return writer.close()
