"""Fixtures shared by the test folders: the tiny face model and 32-px dataset of ``support.runs``,
its builders handed out as fixtures, and a tiny trained run (two steps, one per stage, with a
checkpoint after each, so both albedo branches can be exercised)."""

from __future__ import annotations

import pytest

from photoface.facemodel.io import save_model
from support.runs import tiny_config, tiny_face_model, tiny_overrides, write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """(model path, dataset dir) shared by the training tests (read-only)."""
    root = tmp_path_factory.mktemp("tiny")
    model = tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path)
    return model_path, data


@pytest.fixture()
def make_config():
    return tiny_config


@pytest.fixture()
def make_face_model():
    return tiny_face_model


@pytest.fixture()
def make_overrides():
    return tiny_overrides


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """dict: model (face-model .npz), data (dataset dir), run (run dir, stage 2 at step 2),
    stage1 (the stage-1 checkpoint file of step 1)."""
    from photoface.train import train

    root = tmp_path_factory.mktemp("apps_tiny")
    model = tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path)
    cfg = tiny_config(
        model_path, "schedule.stage1_steps=1", "schedule.stage2_steps=1", "schedule.checkpoint_every=1",
    )
    run = root / "run"
    summary = train(cfg, [data], run, progress=False)
    assert summary.steps == 2 and summary.stage == 2
    return {
        "model": model_path, "data": data, "run": run,
        "stage1": run / "checkpoints" / "step_0000001.pt",
    }
