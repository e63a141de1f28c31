import shutil

import pytest
import torch

from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import save_model
from photoface.run.checkpoint import checkpoint_dir, load_checkpoint
from photoface.run.inference import load_trained
from photoface.train import train
from support.runs import tiny_config


@pytest.fixture(scope="module")
def run(tiny_setup, tmp_path_factory):
    """A run trained two steps (stage 1, then stage 2), with a checkpoint after each (read-only)."""
    model, data = tiny_setup
    cfg = tiny_config(model, "schedule.stage1_steps=1", "schedule.stage2_steps=1", "schedule.checkpoint_every=1")
    out = tmp_path_factory.mktemp("inference") / "run"
    train(cfg, [data], out, progress=False)
    return out


def test_load_trained_restores_the_checkpoint_weights_stage_and_config(run, tiny_setup):
    trained = load_trained(run)
    state = load_checkpoint(run)
    assert trained.step == 2 and trained.stage == trained.net.stage == 2
    assert trained.run_dir == run and trained.checkpoint == checkpoint_dir(run) / "last.pt"
    assert trained.image_size == 32 and trained.config.model.id_dim == 16
    assert trained.face_model_hash == state["face_model_hash"]
    assert trained.identities == state["identities"]
    for name, value in trained.net.state_dict().items():
        assert torch.equal(value, state["model"][name]), name
    assert not trained.net.training and not any(p.requires_grad for p in trained.net.parameters())

    # a checkpoint file works too, and keeps its own stage
    first = load_trained(checkpoint_dir(run) / "step_0000001.pt")
    assert first.stage == 1 and first.step == 1 and first.run_dir == run


def test_predictions_are_deterministic_and_cover_both_albedo_branches(run):
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    lms = 6 + 20 * torch.rand(3, 68, 2, generator=torch.Generator().manual_seed(1))
    for ckpt in (checkpoint_dir(run) / "step_0000001.pt", run):
        trained = load_trained(ckpt)
        a, b = trained.predict(images, landmarks=lms), trained.predict(images[:1], landmarks=lms[:1])
        assert torch.allclose(a.id_code[:1], b.id_code, atol=1e-5), "eval mode: no batch statistics"
        albedo = trained.vertex_albedo(a)
        v = trained.face_model.num_vertices
        assert a.shape.shape == albedo.shape == (3, v, 3)
        assert ((albedo >= 0) & (albedo <= 1)).all()
        assert (a.albedo_map is None) == (trained.stage == 1)


def test_another_face_model_or_corrupt_checkpoint_is_a_clear_error(run, make_face_model, tmp_path):
    other = tmp_path / "other.npz"
    save_model(make_face_model(seed=1), other)
    with pytest.raises(InputFileError, match="another face model"):
        load_trained(run, face_model=other)

    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    last = checkpoint_dir(broken) / "last.pt"
    data = last.read_bytes()
    last.unlink()
    last.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="not a readable photoface"):
        load_trained(broken)
    assert last.stat().st_size == len(data) // 2

    with pytest.raises(InputFileError, match="no checkpoints/last.pt"):
        load_trained(tmp_path)
    with pytest.raises(InputFileError, match="no such run folder"):
        load_trained(tmp_path / "missing")


def test_weights_that_do_not_fit_their_network_description_are_reported(run, tmp_path):
    state = load_checkpoint(run)
    state["network"]["id_dim"] = 24
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(InputFileError, match="do not fit"):
        load_trained(bad)
    # a checkpoint from before the ``network`` entry: the network comes from its config
    del state["network"]
    state["config"]["model"]["id_dim"] = 24
    torch.save(state, bad)
    with pytest.raises(InputFileError, match="do not fit"):
        load_trained(bad)
    state["config"]["model"]["id_dim"] = load_checkpoint(run)["network"]["id_dim"]
    torch.save(state, bad)
    assert load_trained(bad).net.encoder is not None
    assert issubclass(InputFileError, PhotofaceError)
