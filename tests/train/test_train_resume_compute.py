"""Resume on another thread count continues (with a warning that it is not bit for bit), and a
checkpoint whose networks ran on another mesh hierarchy is refused."""

from __future__ import annotations

import pytest
import torch

from photoface.errors import InputFileError
from photoface.run.checkpoint import load_checkpoint
from photoface.run.config_parse import apply_overrides
from photoface.run.inference import load_trained
from photoface.run.layout import last_checkpoint, read_metrics
from photoface.train import train

pytestmark = pytest.mark.slow


def _totals(run):
    return [r["total"] for r in read_metrics(run / "metrics.jsonl")]


def test_resume_on_another_thread_count(tiny_setup, make_config, tmp_path):
    model, data = tiny_setup
    one = make_config(model, "schedule.threads=1")
    train(one, [data], tmp_path / "full", progress=False)
    train(apply_overrides(one, ["schedule.max_steps=3"]), [data], tmp_path / "part", progress=False)
    assert load_checkpoint(tmp_path / "part")["compute"] == {"threads": 1, "device": "cpu"}
    with pytest.warns(RuntimeWarning, match="not bit for bit"):
        train(make_config(model, "schedule.threads=2"), [data], tmp_path / "part", resume=True, progress=False)
    full, part = _totals(tmp_path / "full"), _totals(tmp_path / "part")
    assert part[:3] == full[:3] and len(part) == 6
    assert part[3:] == pytest.approx(full[3:], rel=1e-3)


def test_a_checkpoint_of_another_hierarchy_is_refused(tiny_setup, make_config, tmp_path):
    model, data = tiny_setup
    cfg = make_config(model, "schedule.max_steps=1")
    train(cfg, [data], tmp_path / "run", progress=False)
    path = last_checkpoint(tmp_path / "run")
    state = torch.load(path, weights_only=True)
    assert len(state["mesh_hierarchy"]) == 64
    state["mesh_hierarchy"] = "0" * 64
    torch.save(state, path)
    with pytest.raises(InputFileError, match="mesh hierarchy 000000000000"):
        load_trained(tmp_path / "run")
    with pytest.raises(InputFileError, match="mesh_hierarchy-"):
        train(make_config(model, "schedule.max_steps=2"), [data], tmp_path / "run", resume=True, progress=False)
