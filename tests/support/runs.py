"""A tiny face model, the datasets rendered from it, and the config and runs trained on them.

The model is a 25×37 grid (925 vertices, 5 mm spacing) bulged into a face-like cap, so the losses
see real, consistent signals while a 32-px training step takes a few tens of milliseconds. Two
dataset layouts are written from it: the plain training one (``write_tiny_dataset``) and the
synthetic benchmark one ``photoface synth`` writes (``write_benchmark``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from photoface.data.format import DatasetMeta, DatasetRow, DatasetWriter
from photoface.facemodel.io import model_hash, save_model
from photoface.facemodel.model import MorphableModel
from photoface.render.camera import focal_at_code_zero
from photoface.render.renderer import Renderer
from photoface.run.config import preset
from photoface.run.config_parse import apply_overrides

IMAGE_SIZE = 32
SETTINGS = ("cooperative", "indoor", "outdoor")

# The 68-point markup laid out on the grid (mm, y up); each point snaps to its nearest vertex.
_LANDMARKS_XY = (
    [(-65 * np.cos(t), -20 - 70 * np.sin(t)) for t in np.linspace(0, np.pi, 17)]
    + [(x, 40) for x in (-50, -40, -30, -20, -10)] + [(x, 40) for x in (10, 20, 30, 40, 50)]
    + [(0, 30), (0, 20), (0, 10), (0, 0)] + [(x, -10) for x in (-20, -10, 0, 10, 20)]
    + [(-42, 20), (-34, 25), (-26, 25), (-18, 20), (-26, 15), (-34, 15)]
    + [(18, 20), (26, 25), (34, 25), (42, 20), (34, 15), (26, 15)]
    + [(-25, -40), (-15, -35), (-5, -33), (0, -33), (5, -33), (15, -35), (25, -40),
       (15, -47), (5, -50), (0, -50), (-5, -50), (-15, -47)]
    + [(-20, -40), (-8, -38), (0, -38), (8, -38), (20, -40), (8, -43), (0, -43), (-8, -43)]
)


def tiny_face_model(seed: int = 0) -> MorphableModel:
    """A 25×37 grid (5 mm spacing) bulged into a face-like cap, with smooth random bases
    (8 identity, 4 expression, 4 texture); ``seed`` picks the bases."""
    xs = np.linspace(-60, 60, 25)
    ys = np.linspace(-100, 80, 37)
    gx, gy = np.meshgrid(xs, ys)  # rows: y, cols: x
    cap = np.clip(1 - (gx / 80) ** 2 - (gy / 115) ** 2, 0, None)
    gz = 70 * np.sqrt(cap) + 18 * np.exp(-((gx / 10) ** 2 + ((gy - 5) / 18) ** 2))
    mean = np.stack([gx, gy, gz], -1).reshape(-1, 3)
    nx, ny = len(xs), len(ys)
    faces = []
    for r in range(ny - 1):
        for c in range(nx - 1):
            a, b, d, e = r * nx + c, r * nx + c + 1, (r + 1) * nx + c, (r + 1) * nx + c + 1
            faces += [(a, b, d), (b, e, d)]
    mirror = np.array([r * nx + (nx - 1 - c) for r in range(ny) for c in range(nx)])
    lm = [int(np.argmin(((mean[:, :2] - np.array(p)) ** 2).sum(1))) for p in _LANDMARKS_XY]
    rng = np.random.default_rng(seed)

    def smooth_basis(k: int, amp: float) -> np.ndarray:
        out = []
        for _ in range(k):
            f = rng.normal(size=(3, 3))
            field = sum(
                f[i, j] * np.cos((i + 1) * gx / 40 + rng.uniform(0, 6)) * np.cos((j + 1) * gy / 50)
                for i in range(3) for j in range(3)
            ).reshape(-1)
            direction = rng.normal(size=3) * np.array([0.4, 0.4, 1.0])
            out.append(amp * field[:, None] * direction[None])
        return np.stack(out)

    tex = rng.uniform(0.02, 0.05, size=(4, mean.shape[0], 3)) * rng.normal(size=(4, 1, 3))
    return MorphableModel(
        mean=mean, id_basis=smooth_basis(8, 1.5), exp_basis=smooth_basis(4, 1.0),
        tex_mean=np.full_like(mean, 0.6) * np.array([1.0, 0.8, 0.7]), tex_basis=tex,
        faces=np.array(faces), landmarks68=np.array(lm), mirror=mirror, name="tiny-test", source="tests",
    )


def with_exp_bounds(model: MorphableModel, bounds) -> MorphableModel:
    """A copy of ``model`` that states its own (L, 2) expression bounds (as FLAME's jaw does)."""
    return MorphableModel(
        model.mean, model.id_basis, model.exp_basis, model.tex_mean, model.tex_basis, model.faces,
        model.landmarks68, model.mirror, model.regions, name=model.name, source=model.source,
        license=model.license, exp_kind=model.exp_kind, exp_names=model.exp_names, exp_bounds=bounds,
    )


def jaw_like(model: MorphableModel, index: int = 1) -> MorphableModel:
    """``model`` with expression ``index`` one-sided, [0, inf), like FLAME's ``jaw_open_1``."""
    bounds = np.tile(np.array([-np.inf, np.inf], np.float32), (model.n_exp, 1))
    bounds[index, 0] = 0.0
    return with_exp_bounds(model, bounds)


def write_tiny_dataset(out, model: MorphableModel, model_path, n_ids=6, per_id=4, test_ids=2, seed=0):
    """Render ``n_ids`` train + ``test_ids`` test identities, ``per_id`` 32-px photos each, to ``out``;
    every second photo of a person is labeled. Test rows have no scans or settings."""
    g = torch.Generator().manual_seed(seed)
    renderer = Renderer(model.faces, IMAGE_SIZE)
    meta = DatasetMeta(image_size=IMAGE_SIZE, source="tiny-test", face_model=str(model_path),
                       face_model_hash=model_hash(model), seed=seed)
    with DatasetWriter(out, meta) as w:
        for i in range(n_ids + test_ids):
            alpha_id = torch.randn(1, model.n_id, generator=g)
            for j in range(per_id):
                alpha_exp = torch.randn(1, model.n_exp, generator=g)
                verts = model.shape(alpha_id, alpha_exp)
                f0 = focal_at_code_zero(IMAGE_SIZE)
                jitter = torch.randn(1, 6, generator=g)
                pose = torch.tensor([[10.0, 15.0, 5.0, 0.0, 0.0, 0.0]]) * jitter
                pose[:, 3] = f0 * (1 + 0.05 * jitter[:, 3])
                pose[:, 4:] = IMAGE_SIZE / 2 + jitter[:, 4:]
                out_r = renderer.render(verts, model.albedo(torch.randn(1, model.n_tex, generator=g)), pose,
                                        landmarks=model.landmarks68, background=0.2)
                labeled = j % 2 == 0
                name = f"img/{i:03d}_{j}.png"
                row = DatasetRow(
                    image=name, identity=f"p{i}", split="train" if i < n_ids else "test",
                    landmarks=out_r.landmarks2d[0].double().numpy(), labeled=labeled, mask=f"mask/{i:03d}_{j}.png",
                    alpha_id=alpha_id[0].double().numpy() if labeled else None,
                    alpha_exp=alpha_exp[0].double().numpy() if labeled else None,
                    pose=pose[0].double().numpy() if labeled else None,
                    true_mesh=f"mesh/{i:03d}_{j}.npy", alpha_id_true=alpha_id[0].double().numpy(),
                )
                w.add(row, image=out_r.image[0].clamp(0, 1), mask=out_r.mask[0, 0] > 0.5,
                      true_mesh=model.shape(alpha_id)[0].numpy())
    return out


def write_benchmark(out, model: MorphableModel, model_path, n_train=4, n_test=3, per_id=6, seed=0) -> Path:
    """Write a tiny synthetic benchmark in the layout ``photoface synth`` writes to ``out``.

    32-px renders; train identities (every second photo labeled) and test identities with photos
    in the three ``SETTINGS``, a true mesh per photo (with expression), a neutral scan per test
    identity, and the extra fields pose_true, alpha_exp_true, landmarks_true. Rows' ``landmarks``
    are the exact ones plus 0.3 px noise.
    """
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    renderer = Renderer(model.faces, IMAGE_SIZE)
    meta = DatasetMeta(image_size=IMAGE_SIZE, source="tiny-benchmark", face_model=str(model_path),
                       face_model_hash=model_hash(model), seed=seed)
    out = Path(out)
    with DatasetWriter(out, meta) as w:
        for i in range(n_train + n_test):
            test = i >= n_train
            name = f"id{i:03d}"
            alpha_id = torch.randn(1, model.n_id, generator=g)
            neutral = model.shape(alpha_id)[0]
            if test:
                (out / "scans").mkdir(parents=True, exist_ok=True)
                np.save(out / "scans" / f"{name}.npy", neutral.numpy())
            for j in range(per_id):
                alpha_exp = 0.8 * torch.randn(1, model.n_exp, generator=g)
                verts = model.shape(alpha_id, alpha_exp)
                jitter = torch.randn(1, 6, generator=g)
                pose = torch.tensor([[8.0, 0.0, 4.0, 0.0, 0.0, 0.0]]) * jitter
                pose[0, 1] = (-25.0, 0.0, 25.0)[j % 3] + 3.0 * float(jitter[0, 1])
                pose[:, 3] = focal_at_code_zero(IMAGE_SIZE) * (1 + 0.05 * jitter[:, 3])
                pose[:, 4:] = IMAGE_SIZE / 2 + jitter[:, 4:]
                r = renderer.render(verts, model.albedo(torch.randn(1, model.n_tex, generator=g)), pose,
                                    landmarks=model.landmarks68, background=0.2)
                lm_true = r.landmarks2d[0].double().numpy()
                labeled = not test and j % 2 == 0
                stem = f"{name}/{name}_{j:03d}"
                extra = {"pose_true": pose[0].tolist(), "alpha_exp_true": alpha_exp[0].tolist(),
                         "landmarks_true": lm_true.tolist()}
                if test:
                    extra["scan"] = f"scans/{name}.npy"
                row = DatasetRow(
                    image=f"images/{stem}.png", identity=name, split="test" if test else "train",
                    landmarks=lm_true + rng.normal(0, 0.3, lm_true.shape), labeled=labeled,
                    mask=f"masks/{stem}.png",
                    alpha_id=alpha_id[0].double().numpy() if labeled else None,
                    alpha_exp=alpha_exp[0].double().numpy() if labeled else None,
                    pose=pose[0].double().numpy() if labeled else None,
                    true_mesh=f"meshes/{stem}.npy", setting=SETTINGS[j % 3] if test else SETTINGS[0],
                    alpha_id_true=alpha_id[0].double().numpy(), extra=extra,
                )
                w.add(row, image=r.image[0].clamp(0, 1), mask=r.mask[0, 0] > 0.5, true_mesh=verts[0].numpy())
    return out


def tiny_overrides(model_path) -> list[str]:
    """The demo preset shrunk to the tiny model: 32 px, small channels, every step logged, CPU."""
    return [
        f"model.face_model={model_path}",
        f"model.image_size={IMAGE_SIZE}",
        "model.id_dim=16", "model.exp_dim=8",
        "model.decoder_channels=[16, 8]",
        "model.downsample_factors=[4, 4]",
        "model.discriminator_channels=[8, 8]",
        "model.cheb_k=3",
        "data.identities_per_batch=2", "data.photos_per_identity=2", "data.labeled_pairs=1",
        "schedule.stage1_steps=3", "schedule.stage2_steps=3",
        "schedule.time_limit_minutes=null",
        "schedule.log_every=1", "schedule.checkpoint_every=100", "schedule.image_every=1000",
        "schedule.threads=1", "schedule.device=cpu",
        "schedule.landmark_start_samples=256",  # the demo's 40,000 would take seconds in every tiny run
    ]


def tiny_config(model_path, *extra: str):
    """The demo preset with ``tiny_overrides`` applied, then ``extra`` ("key=value") overrides."""
    return apply_overrides(preset("demo"), [*tiny_overrides(model_path), *extra])


def build_benchmark_run(root) -> dict:
    """Model file, ``write_benchmark`` dataset and a run trained 2 steps (one per stage) on it, in
    ``root``; reused when ``root`` already holds them (one build per pytest session: pass a folder
    under ``tmp_path_factory.getbasetemp()``). Treat the files as read-only.

    Returns a dict: model (the MorphableModel), model_path, data (dataset dir), run (run dir).
    """
    from photoface.run.checkpoint import last_checkpoint
    from photoface.train import train

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    model = tiny_face_model()
    model_path, data, run = root / "tiny_model.npz", root / "data", root / "run"
    if last_checkpoint(run) is None:
        save_model(model, model_path)
        write_benchmark(data, model, model_path)
        cfg = tiny_config(model_path, "schedule.stage1_steps=1", "schedule.stage2_steps=1")
        train(cfg, [data], run, progress=False)
    return {"model": model, "model_path": model_path, "data": data, "run": run}
