import os
import signal
import subprocess
import sys
import time

import pytest

from photoface.cli import build_parser, main
from photoface.errors import PhotofaceError
from photoface.run.checkpoint import load_checkpoint, save_checkpoint
from photoface.run.layout import read_metrics
from photoface.train import resolve_run_config


def test_command_line_and_overrides_reach_the_config(tmp_path):
    args = build_parser().parse_args(
        ["train", "--preset", "paper", "--data", "a", "b", "--out", "run", "--max-steps", "7",
         "--set", "loss.adversarial=0", "--set", "optim.lr_discriminator=5e-05",
         "--set", "loss.smooth_kind=laplacian", "--set", "data.scale_range=[0.9, 1.0]"]
    )
    cfg, data = resolve_run_config(args.out, preset=args.preset, data_dirs=args.data, resume=args.resume,
                                   overrides=args.overrides, max_steps=args.max_steps)
    assert cfg.preset == "paper" and cfg.model.encoder == "resnet50"
    assert cfg.loss.adversarial == 0.0 and isinstance(cfg.loss.adversarial, float)
    assert cfg.optim.lr_discriminator == 5e-5
    assert cfg.loss.smooth_kind == "laplacian" and cfg.data.scale_range == (0.9, 1.0)
    assert cfg.schedule.max_steps == 7 and [p.name for p in data] == ["a", "b"]
    with pytest.raises(PhotofaceError, match="no config key"):
        resolve_run_config("run", data_dirs=["a"], overrides=["loss.nonsense=1"])
    with pytest.raises(PhotofaceError, match="expects float"):
        resolve_run_config("run", data_dirs=["a"], overrides=["loss.shape=abc"])
    with pytest.raises(PhotofaceError, match="no training data"):
        resolve_run_config("run")


def test_resume_takes_the_runs_config_and_data(tmp_path):
    run = tmp_path / "run"
    cfg, _ = resolve_run_config(run, data_dirs=["x"], overrides=["loss.shape=0.3"])
    run.mkdir()
    cfg.to_yaml(run / "config.yaml")
    save_checkpoint(run, {"step": 5, "stage": 1, "dataset": [{"path": "/data/one"}, {"path": "/data/two"}]})
    again, data = resolve_run_config(run, resume=True, max_steps=9)
    assert again.loss.shape == 0.3 and again.schedule.max_steps == 9
    assert [str(p) for p in data] == ["/data/one", "/data/two"]
    with pytest.raises(PhotofaceError, match="nothing to resume"):
        resolve_run_config(tmp_path / "empty", resume=True)
    assert main(["train", "--out", str(tmp_path / "empty"), "--resume"]) == 1


def _wait_for(predicate, timeout, proc):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_continues(tiny_setup, make_overrides, tmp_path):
    model, data = tiny_setup
    run = tmp_path / "run"
    sets = [a for o in make_overrides(model) + ["schedule.stage1_steps=100000"] for a in ("--set", o)]
    cmd = [sys.executable, "-m", "photoface.cli", "train", "--data", str(data), "--out", str(run), "--no-progress", *sets]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    metrics = run / "metrics.jsonl"
    try:
        started = _wait_for(lambda: metrics.is_file() and len(metrics.read_text().splitlines()) >= 2, 120, proc)
        assert started, proc.communicate()[0].decode()[-2000:]
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, output[-2000:]
    state = load_checkpoint(run)
    steps = [r["step"] for r in read_metrics(metrics)]
    assert state["step"] == steps[-1] >= 2, "the checkpoint holds the last finished step"
    assert "SIGTERM" in output

    assert main(["train", "--out", str(run), "--resume", "--max-steps", str(state["step"] + 1), "--no-progress"]) == 0
    assert load_checkpoint(run)["step"] == state["step"] + 1
    assert [r["step"] for r in read_metrics(metrics)] == list(range(1, state["step"] + 2))


@pytest.mark.slow
def test_two_process_distributed_training(tiny_setup, make_overrides, tmp_path):
    model, data = tiny_setup
    run = tmp_path / "ddp"
    sets = [a for o in make_overrides(model) for a in ("--set", o)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "photoface.cli", "train", "--data", str(data), "--out", str(run), "--max-steps", "2",
           "--no-progress", *sets]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2], "only rank 0 writes the logs"
    state = load_checkpoint(run)
    assert state["step"] == 2 and len(state["rng"]) == 2, "the RNG states of both ranks are saved"
    # 12 unlabeled photos make 3 global batches of 2×2, one per rank and epoch: step 2 is the
    # first batch of epoch 1
    assert state["sampler"] == {"epoch": 1, "position": 1}
