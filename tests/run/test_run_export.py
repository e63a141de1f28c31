import json

import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.run import export_model, load_trained
from photoface.run.layout import last_checkpoint, verification_path


@pytest.fixture()
def images():
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_export_reloads_the_same_network_without_training_state(tiny_run, tmp_path, images):
    run = tiny_run["run"]
    path = export_model(run, tmp_path / "model.pt")
    assert path.stat().st_size < 0.7 * last_checkpoint(run).stat().st_size
    state = torch.load(path, weights_only=True)
    assert not {"opt_g", "opt_d", "discriminator", "rng", "head"} & set(state)
    a, b = load_trained(run), load_trained(path)
    assert b.run_dir is None and b.stage == a.stage == 2 and b.step == a.step
    out_a, out_b = a.predict(images), b.predict(images)
    assert torch.equal(out_a.shape, out_b.shape) and torch.equal(out_a.image, out_b.image)


def test_half_export_is_smaller_and_close(tiny_run, tmp_path, images):
    full = export_model(tiny_run["run"], tmp_path / "full.pt")
    half = export_model(tiny_run["run"], tmp_path / "half.pt", half=True)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    a, b = load_trained(full).predict(images), load_trained(half).predict(images)
    assert (a.shape - b.shape).abs().max() < 0.05  # mm: float16 rounding of the weights only


def test_export_carries_the_calibration_and_refuses_to_re_export(tiny_run, tmp_path):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(tiny_run["run"], run)
    verification_path(run).write_text(json.dumps({"threshold": 0.25, "calibrated_on": "test pairs"}))
    path = export_model(run, tmp_path / "model.pt")
    trained = load_trained(path)
    assert trained.calibration["threshold"] == 0.25 and trained.calibration_source is None
    with pytest.raises(PhotofaceError, match="already an exported model"):
        export_model(path, tmp_path / "again.pt")
    assert not list(tmp_path.glob(".*tmp*")), "a temporary file was left behind"
