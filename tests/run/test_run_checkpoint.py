import random

import numpy as np
import pytest
import torch

from photoface.errors import InputFileError, PhotofaceError
from photoface.run.checkpoint import (
    capture_rng,
    checkpoint_dir,
    last_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from photoface.run.layout import read_metrics
from photoface.train.run_log import LossWindow, truncate_metrics


def _state(step, value=1.0):
    return {"step": step, "stage": 1, "face_model_hash": "abc", "face_model": "m",
            "model": {"w": torch.full((3,), value)}, "rng": [capture_rng()]}


def test_save_keeps_the_newest_and_last_matches(tmp_path):
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, _state(step, step), keep=2)
    names = sorted(p.name for p in checkpoint_dir(tmp_path).iterdir())
    assert names == ["last.pt", "step_0000030.pt", "step_0000040.pt"]
    state = load_checkpoint(tmp_path, face_model_hash="abc")
    assert state["step"] == 40 and torch.equal(state["model"]["w"], torch.full((3,), 40.0))
    assert last_checkpoint(tmp_path) == checkpoint_dir(tmp_path) / "last.pt"


def test_nonfinite_state_is_never_written(tmp_path):
    save_checkpoint(tmp_path, _state(1))
    before = (checkpoint_dir(tmp_path) / "last.pt").read_bytes()
    with pytest.raises(PhotofaceError, match="non-finite"):
        save_checkpoint(tmp_path, _state(2, float("nan")))
    assert (checkpoint_dir(tmp_path) / "last.pt").read_bytes() == before
    assert not (checkpoint_dir(tmp_path) / "step_0000002.pt").exists()


def test_corrupt_foreign_and_other_model_checkpoints_are_clear_errors(tmp_path):
    save_checkpoint(tmp_path, _state(5))
    path = checkpoint_dir(tmp_path) / "last.pt"
    with pytest.raises(InputFileError, match="hash") as err:
        load_checkpoint(path, face_model_hash="other")
    assert str(path) in str(err.value)
    torn = tmp_path / "torn.pt"
    torn.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputFileError, match="not a readable photoface checkpoint"):
        load_checkpoint(torn)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputFileError, match="not a photoface checkpoint"):
        load_checkpoint(foreign)
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(InputFileError, match="no checkpoints"):
        load_checkpoint(tmp_path / "empty_run")
    with pytest.raises(InputFileError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_states_round_trip():
    state = capture_rng()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.random(), np.random.rand(), torch.rand(1)
    restore_rng(state)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


def test_metrics_truncation_and_window(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "total": 1.0}\n{"step": 2, "total": 2.0}\n{"step": 3, "tot')
    truncate_metrics(path, 1)
    assert read_metrics(path) == [{"step": 1, "total": 1.0}]
    w = LossWindow()
    w.add({"total": 1.0, "shape": 2.0}, 4, 0.5)
    w.add({"total": 3.0}, 4, 0.5)
    assert w.means() == {"total": 2.0, "shape": 2.0}
    other = LossWindow()
    other.load_state_dict(w.state_dict())
    assert other.means() == w.means() and other.images == 8
