"""Builders shared by the runner tests (loaded with importlib by the other test files; no tests here).

A tiny synthetic benchmark in the layout ``photoface synth`` writes: the training tests' 925-vertex
grid face model (tests/train/conftest.py), 32-px renders, train identities (every second photo
labeled) and test identities with photos in the three settings, a true mesh per photo (with
expression), a neutral scan per test identity, and the extra fields pose_true, alpha_exp_true,
landmarks_true; rows' ``landmarks`` are the exact ones plus 0.3 px noise.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from photoface.data.format import DatasetMeta, DatasetRow, DatasetWriter
from photoface.facemodel.io import model_hash, save_model
from photoface.render.camera import focal_at_code_zero
from photoface.render.renderer import Renderer

SIZE = 32
SETTINGS = ("cooperative", "indoor", "outdoor")
_TRAIN_CONFTEST = Path(__file__).resolve().parents[1] / "train" / "conftest.py"


def train_helpers():
    """The training tests' conftest as a module (tiny_face_model, tiny_config, ...)."""
    spec = importlib.util.spec_from_file_location("_photoface_train_helpers_for_evaluate", _TRAIN_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_benchmark(out, model, model_path, n_train=4, n_test=3, per_id=6, seed=0) -> Path:
    """Write the tiny benchmark dataset (module docstring) to ``out``."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    renderer = Renderer(model.faces, SIZE)
    meta = DatasetMeta(image_size=SIZE, source="tiny-benchmark", face_model=str(model_path),
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
                pose[:, 3] = focal_at_code_zero(SIZE) * (1 + 0.05 * jitter[:, 3])
                pose[:, 4:] = SIZE / 2 + jitter[:, 4:]
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


def build_tiny(root) -> dict:
    """Model file, benchmark dataset and a run trained 2 steps (one per stage) on it, in ``root``;
    reused when ``root`` already holds them (one build per pytest session: pass a folder under
    ``tmp_path_factory.getbasetemp()``). Treat the files as read-only."""
    from photoface.train import train
    from photoface.train.checkpoint import last_checkpoint

    helpers = train_helpers()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    model = helpers.tiny_face_model()
    model_path, data, run = root / "tiny_model.npz", root / "data", root / "run"
    if last_checkpoint(run) is None:
        save_model(model, model_path)
        write_benchmark(data, model, model_path)
        cfg = helpers.tiny_config(model_path, "schedule.stage1_steps=1", "schedule.stage2_steps=1")
        train(cfg, [data], run, progress=False)
    return {"model": model, "model_path": model_path, "data": data, "run": run, "helpers": helpers}
