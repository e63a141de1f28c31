"""A tiny trained run for the app tests: the training tests' 900-vertex grid face model and 32-px
dataset (reused from tests/train/conftest.py), trained for two steps, one per stage, with a
checkpoint after each, so both albedo branches can be exercised."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from photoface.facemodel.io import save_model

_TRAIN_CONFTEST = Path(__file__).resolve().parents[1] / "train" / "conftest.py"


def _train_helpers():
    spec = importlib.util.spec_from_file_location("_photoface_train_test_helpers", _TRAIN_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """dict: model (face-model .npz), data (dataset dir), run (run dir, stage 2 at step 2),
    stage1 (the stage-1 checkpoint file of step 1), helpers (the training tests' module)."""
    from photoface.train import train

    helpers = _train_helpers()
    root = tmp_path_factory.mktemp("apps_tiny")
    model = helpers.tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = helpers.write_tiny_dataset(root / "data", model, model_path)
    cfg = helpers.tiny_config(
        model_path, "schedule.stage1_steps=1", "schedule.stage2_steps=1", "schedule.checkpoint_every=1",
    )
    run = root / "run"
    summary = train(cfg, [data], run, progress=False)
    assert summary.steps == 2 and summary.stage == 2
    return {
        "model": model_path, "data": data, "run": run, "helpers": helpers,
        "stage1": run / "checkpoints" / "step_0000001.pt",
    }
