import pytest
import torch

from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import save_model
from photoface.run.checkpoint import checkpoint_dir, load_checkpoint
from photoface.run.config_parse import apply_overrides
from photoface.run.layout import read_metrics
from photoface.train import loop as loop_module
from photoface.train import train
from photoface.train.loop import Trainer
from photoface.train.run_log import LOSS_NAMES

_TIMING = {"images_per_s", "elapsed_s"}


def _losses(run):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in read_metrics(run / "metrics.jsonl")]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), ("schedule.stage0_steps=2", "model.landmark_input=0",
                                        "model.shape_linear_path=false")], ids=["preset", "stage0_paper_decoder"])
def test_interrupted_and_resumed_run_repeats_the_uninterrupted_losses_exactly(tiny_setup, make_config, tmp_path,
                                                                              extra):
    model, data = tiny_setup
    cfg = make_config(model, *extra)
    full = train(cfg, [data], tmp_path / "full", progress=False)
    assert full.steps == 6 and full.stage == 2 and full.stopped_by == "done"

    part = train(apply_overrides(cfg, ["schedule.max_steps=3"]), [data], tmp_path / "part", progress=False)
    assert part.steps == 3 and load_checkpoint(tmp_path / "part")["stage"] == 1
    resumed = train(cfg, [data], tmp_path / "part", resume=True, progress=False)
    assert resumed.steps == 6

    expected, got = _losses(tmp_path / "full"), _losses(tmp_path / "part")
    assert [r["step"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert [r["stage"] for r in got] == [1, 1, 1, 2, 2, 2]
    assert got == expected  # bit for bit, every loss of every step
    names = set(expected[0]) & set(LOSS_NAMES)
    assert {"photometric", "landmark", "shape", "pairwise_shape", "recognition", "total"} <= names

    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "part")
    for key in ("model", "head", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert torch.equal(a["centers"], b["centers"])
    assert a["sampler"] == b["sampler"] and a["stage"] == b["stage"] == 2


def test_non_finite_step_is_skipped_restored_and_never_checkpointed(tiny_setup, make_config, tmp_path, monkeypatch):
    model, data = tiny_setup
    cfg = make_config(model, "schedule.max_steps=2")
    trainer = Trainer(cfg, [data], tmp_path / "run", progress=False)
    original = loop_module.prepare_inputs
    before = {}

    def poisoned(*args, **kwargs):
        x = original(*args, **kwargs)
        if trainer.step == 1:  # the second step sees a NaN pixel
            x.images[0, 0, 0, 0] = float("nan")
            before.update(trainer._state())
        return x

    monkeypatch.setattr(loop_module, "prepare_inputs", poisoned)
    summary = trainer.run()
    trainer.close()
    assert summary.skipped_steps == 1 and summary.steps == 2
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert records[-1]["skipped_steps"] == 1 and "total" not in records[-1]
    saved = load_checkpoint(tmp_path / "run")
    assert saved["step"] == 2 and saved["counters"]["skipped_steps"] == 1
    # the skipped step changed nothing: weights, batch-norm statistics, critic, Adam state
    for key in ("model", "head", "discriminator"):
        for name, value in saved[key].items():
            assert torch.isfinite(value.float()).all(), name
            assert torch.equal(value, before[key][name]), name
    state, old = saved["opt_g"]["state"], before["opt_g"]["state"]
    assert state.keys() == old.keys() and all(torch.equal(state[k]["exp_avg"], old[k]["exp_avg"]) for k in old)


def test_resume_refuses_other_face_model_corrupt_file_and_changed_config(tiny_setup, make_config, make_face_model,
                                                                        tmp_path):
    model, data = tiny_setup
    run = tmp_path / "run"
    cfg = make_config(model, "schedule.max_steps=1", "loss.adversarial=0")
    summary = train(cfg, [data], run, progress=False)
    assert summary.steps == 1
    records = read_metrics(run / "metrics.jsonl")
    assert "adversarial" not in records[0] and "critic" not in records[0], "a weight of 0 switches a loss off"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}

    other = tmp_path / "other_model.npz"
    save_model(make_face_model(seed=1), other)
    with pytest.raises(InputFileError, match="face model"):
        train(apply_overrides(cfg, [f"model.face_model={other}"]), [data], run, resume=True, progress=False)
    with pytest.raises(PhotofaceError, match="loss.shape"):
        train(apply_overrides(cfg, ["loss.shape=0.5", "schedule.max_steps=2"]), [data], run, resume=True, progress=False)
    with pytest.raises(PhotofaceError, match="already holds a run"):
        train(cfg, [data], run, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before, "nothing was overwritten"

    broken = tmp_path / "broken"
    checkpoint_dir(broken).mkdir(parents=True)
    (checkpoint_dir(broken) / "last.pt").write_bytes(before[checkpoint_dir(run) / "last.pt"][:5000])
    with pytest.raises(InputFileError, match="not a readable photoface checkpoint"):
        train(cfg, [data], broken, resume=True, progress=False)
    assert sorted(p.name for p in broken.rglob("*")) == ["checkpoints", "last.pt"]


def test_paper_schedule_counts_epochs_and_stage_switch_rebuilds_the_optimiser(tiny_setup, make_config, tmp_path):
    model, data = tiny_setup
    cfg = make_config(model, "schedule.stage1_steps=null", "schedule.stage2_steps=null")
    trainer = Trainer(cfg, [data], tmp_path / "run", progress=False)
    per_epoch = len(trainer.sampler)
    assert trainer.stage1_steps == trainer.stage2_steps == 100 * per_epoch
    stage1 = {id(p) for g in trainer.opt_g.param_groups for p in g["params"]}
    cnn = {id(p) for p in trainer.parts.net.albedo_cnn.parameters()}
    gcn = {id(p) for p in trainer.parts.net.albedo_decoder.parameters()}
    assert gcn <= stage1 and not cnn & stage1
    trainer._set_stage(2)
    stage2 = {id(p) for g in trainer.opt_g.param_groups for p in g["params"]}
    assert cnn <= stage2 and not gcn & stage2
    assert not any(p.requires_grad for p in trainer.parts.net.albedo_decoder.parameters())
    trainer.close()


def test_a_fresh_run_starts_at_the_landmark_regression_with_its_own_slow_optimiser_group(tiny_setup, make_config,
                                                                                       tmp_path):
    model, data = tiny_setup
    cfg = make_config(model, "schedule.max_steps=1")
    assert cfg.schedule.landmark_start and cfg.model.landmark_linear  # the demo preset's
    trainer = Trainer(cfg, [data], tmp_path / "run", progress=False)
    linear = trainer.parts.net.encoder.landmark_linear
    assert trainer.landmark_start.photos == sum(trainer.dataset.labeled) > 0 and torch.count_nonzero(linear.linear.weight) > 0
    groups = {id(p): g["lr"] for g in trainer.opt_g.param_groups for p in g["params"]}
    assert groups[id(linear.linear.weight)] == cfg.optim.lr_landmark_linear < cfg.optim.lr_generator
    assert trainer.opt_g.param_groups[0]["lr"] == cfg.optim.lr_generator  # what the log reports
    trainer.close()
    off = apply_overrides(cfg, ["schedule.landmark_start=false"])
    trainer = Trainer(off, [data], tmp_path / "off", progress=False)
    assert trainer.landmark_start is None
    assert torch.count_nonzero(trainer.parts.net.encoder.landmark_linear.linear.weight) == 0
    trainer.close()
    with pytest.raises(PhotofaceError, match="shape_linear_path"):
        Trainer(apply_overrides(cfg, ["model.shape_linear_path=false"]), [data], tmp_path / "bad", progress=False)
