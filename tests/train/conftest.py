"""Tiny fixtures for the training tests: a ~900-vertex grid face model and a 32-px dataset
rendered from it (so the losses see real, consistent signals), plus a config small enough that a
training step takes a few tens of milliseconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photoface.data.format import DatasetMeta, DatasetRow, DatasetWriter
from photoface.facemodel.io import model_hash, save_model
from photoface.facemodel.model import MorphableModel
from photoface.render.camera import focal_at_code_zero
from photoface.render.renderer import Renderer
from photoface.train.config import apply_overrides, preset

IMAGE_SIZE = 32

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
    """A 25×37 grid (5 mm spacing) bulged into a face-like cap, with smooth random bases."""
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


def write_tiny_dataset(out, model: MorphableModel, model_path, n_ids=6, per_id=4, test_ids=2, seed=0):
    """Render ``n_ids`` train + ``test_ids`` test identities; every second photo of a person is labeled."""
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


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """(model path, dataset dir) shared by the training tests (read-only)."""
    root = tmp_path_factory.mktemp("tiny")
    model = tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path)
    return model_path, data


def tiny_overrides(model_path) -> list[str]:
    """The demo preset shrunk to the tiny model: 32 px, small channels, every step logged."""
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
    ]


def tiny_config(model_path, *extra: str):
    return apply_overrides(preset("demo"), [*tiny_overrides(model_path), *extra])


@pytest.fixture()
def make_config():
    return tiny_config


@pytest.fixture()
def make_face_model():
    return tiny_face_model


@pytest.fixture()
def make_overrides():
    return tiny_overrides
