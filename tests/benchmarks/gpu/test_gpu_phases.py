import ast
import sys
from pathlib import Path

import gpu_phases as P
import gpu_throughput
import pytest

from photoface.cli.entry import build_parser
from photoface.run.config import preset
from photoface.run.config_parse import apply_overrides

REPO = Path(__file__).resolve().parents[3]
PY = sys.executable
# what the GPU machine's image lacks (docs/gpu.md): the CUDA checks must not need them
ABSENT_THERE = {"trimesh", "dlib", "fast_simplification", "face_recognition_models"}


def paths(tmp_path):
    return P.Paths(repo=REPO, work=tmp_path / "work", out=tmp_path / "out")


@pytest.mark.parametrize("name", sorted(P.PROFILES))
def test_every_photoface_command_parses_and_its_overrides_apply(name, tmp_path):
    profile, where = P.PROFILES[name], paths(tmp_path)
    parser = build_parser()
    for preset_name in ("demo", "paper"):
        commands = [P.synth_command(PY, profile, where, preset_name),
                    P.train_command(PY, profile, where, preset_name, 1.25),
                    P.eval_command(PY, profile, where, preset_name)]
        for cmd in commands:
            assert cmd[:3] == [PY, "-m", "photoface.cli"]
            args = parser.parse_args(cmd[3:])  # argparse exits on an unknown flag or a bad value
            assert callable(args.handler)
        synth, train, ev = (parser.parse_args(c[3:]) for c in commands)
        assert synth.out == str(where.data(preset_name)) == train.data[0] == ev.data
        assert train.out == ev.checkpoint == str(where.run(preset_name)) and ev.device == profile.device
        cfg = apply_overrides(preset(train.preset), train.overrides)  # every --set names a real key
        assert cfg.schedule.device == profile.device and cfg.schedule.time_limit_minutes == 1.25
        assert (synth.model, synth.size) == (cfg.model.face_model, cfg.model.image_size)  # data fit the net


@pytest.mark.parametrize("name", sorted(P.PROFILES))
def test_the_throughput_command_parses_and_measures_the_paper_preset(name, tmp_path):
    profile, where = P.PROFILES[name], paths(tmp_path)
    cmd = P.throughput_command(PY, profile, where)
    assert Path(cmd[1]) == REPO / "benchmarks" / "gpu" / "gpu_throughput.py"
    args = gpu_throughput.build_parser().parse_args(cmd[2:])
    assert gpu_throughput.parse_variants(args.variants) == list(profile.throughput_variants)
    cfg = apply_overrides(preset(args.preset), args.overrides)
    assert args.preset == "paper" and cfg.schedule.device == profile.device
    assert args.data == where.data("paper")


def test_the_gpu_checks_are_found_and_need_nothing_the_gpu_image_lacks(tmp_path):
    files = P.cuda_test_files(REPO)
    names = {f.name for f in files}
    assert {"test_nn_chebconv_cuda.py", "test_render_cuda.py", "test_train_cuda.py"} <= names
    for f in files:
        tree = ast.parse(f.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & ABSENT_THERE, f.name
    cmd = P.pytest_command(PY, paths(tmp_path))
    assert cmd[-len(files):] == [str(f.relative_to(REPO)) for f in files]
    for f in files:  # every test in them is a GPU check, skipped without one
        assert "pytestmark = pytest.mark.skipif(not torch.cuda.is_available()" in f.read_text(), f.name


def test_training_time_is_the_share_minus_start_up_and_none_when_too_short():
    assert P.train_minutes("demo", 85.0) == pytest.approx(1.0)
    assert P.train_minutes("paper", 100.0) == pytest.approx(1.0)
    assert P.train_minutes("paper", P.TRAIN_OVERHEAD_S["paper"] + 5) is None


def test_commands_display_as_typed():
    assert P.display([PY, "-m", "photoface.cli", "train", "--set", "a.b=1"]) == "photoface train --set a.b=1"
    assert P.display([PY, "/x/y.py", "--v", "amp:cl,fp32:nchw", "two words"]) == \
        "python /x/y.py --v amp:cl,fp32:nchw 'two words'"


def test_every_phase_has_a_driver_step_and_known_needs():
    import gpu_bench

    assert set(P.NEEDS) <= set(P.ALL_PHASES) and all(set(v) <= set(P.ALL_PHASES) for v in P.NEEDS.values())
    for phase in P.PHASES:
        assert callable(getattr(gpu_bench.Bench, "_" + phase.name))
