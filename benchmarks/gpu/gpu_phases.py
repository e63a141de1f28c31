"""What the GPU benchmark runs: its phases, their sizes (profiles) and their command lines.

Every command is the public ``photoface`` command (run as ``python -m photoface.cli``), pytest,
or this folder's ``gpu_throughput.py``; nothing here imports photoface, so the driver stays light
and a broken install shows up as a failed phase, not a dead driver.

Profiles:

* ``gpu`` — sized for one H200 machine (16 cores) and the default 8.5-minute budget;
* ``dry`` — tiny sizes on the CPU, to prove that every command line and result parser works
  (``GPU_BENCH_ALLOW_CPU=1``); its numbers mean nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from gpu_budget import Phase

# Nominal seconds (shares of the budget; they add up to a little more than the default 8.5 minutes
# leave) and the least worth starting, from costs measured on the 2-core CPU box scaled to 16
# cores (docs/gpu.md). The collections get more than they should need: everything after them
# needs them whole, and what they leave unused goes to the later phases.
PHASES = (
    Phase("pytest_cuda", 40, 10),
    Phase("synth_demo", 40, 8),
    Phase("synth_paper", 40, 8),
    Phase("throughput", 75, 25),
    Phase("train_demo", 110, 30),
    Phase("train_paper", 140, 40),
    Phase("eval_paper", 75, 20),
)
# Runs in the background from the end of train_demo until the final deadline: the protocol's
# point-to-surface distances are single-threaded CPU work that overlaps the paper training.
BACKGROUND = ("eval_demo",)
NEEDS = {
    "train_demo": ("synth_demo",),
    "eval_demo": ("train_demo",),
    "throughput": ("synth_paper",),
    "train_paper": ("synth_paper",),
    "eval_paper": ("train_paper",),
}
ALL_PHASES = tuple(p.name for p in PHASES) + BACKGROUND

# Seconds a training command spends outside its time limit: interpreter and torch start, CUDA
# context, face model and mesh hierarchy (cached by the synth phase), dataset index, loader
# workers, and the final checkpoint. The time limit is the phase's share minus this.
TRAIN_OVERHEAD_S = {"demo": 25.0, "paper": 40.0}


@dataclass(frozen=True)
class Profile:
    """Sizes and device of one benchmark flavour (see the module docstring)."""

    name: str
    device: str  # cuda | cpu
    demo_identities: int
    demo_photos: int
    demo_test_fraction: float
    paper_identities: int
    paper_photos: int
    paper_test_fraction: float
    demo_workers: int  # data.workers for the demo training (its preset's 0 suits a 2-core CPU only)
    paper_model: str = "builtin:paper"  # face model and image size of the paper collection
    paper_size: int = 224
    paper_overrides: tuple[str, ...] = ()  # extra --set values for the paper preset (training and throughput)
    train_overrides: tuple[str, ...] = ()  # extra --set values for both trainings and the throughput run
    max_steps: int | None = None  # hard cap on training steps (the dry run)
    eval_demo_args: tuple[str, ...] = ()
    eval_paper_args: tuple[str, ...] = ()
    throughput_warmup: int = 3
    throughput_steps: int = 4
    throughput_rounds: int = 2
    # (amp, channels_last) pairs; the paper preset's own setting comes first
    throughput_variants: tuple[tuple[bool, bool], ...] = ((True, True), (False, True), (True, False), (False, False))


PROFILES = {
    "gpu": Profile(
        name="gpu", device="cuda",
        # 30 held-out people for the demo (issue 13's minimum for its numbers), 5 for the paper
        # model, whose 37k-vertex protocol costs about 3 CPU seconds per scored mesh
        demo_identities=200, demo_photos=6, demo_test_fraction=0.15,
        paper_identities=100, paper_photos=6, paper_test_fraction=0.05,
        demo_workers=8,
        eval_paper_args=("--baselines", "mean_face"),
    ),
    "dry": Profile(
        name="dry", device="cpu",
        demo_identities=8, demo_photos=3, demo_test_fraction=0.125,
        paper_identities=6, paper_photos=3, paper_test_fraction=0.17,
        demo_workers=0,
        # the paper preset on the demo model at 128² with a ResNet-18: the 37k-vertex model and a
        # ResNet-50 at 224² take minutes per step on a shared 2-core CPU
        paper_model="builtin:demo", paper_size=128,
        paper_overrides=("model.face_model=builtin:demo", "model.image_size=128", "model.encoder=resnet18"),
        train_overrides=("data.identities_per_batch=2", "data.photos_per_identity=2", "data.labeled_pairs=1",
                         "data.workers=0", "schedule.threads=1"),
        max_steps=2,
        eval_demo_args=("--baselines", "mean_face", "--max-photos", "1"),
        eval_paper_args=("--baselines", "none", "--max-photos", "1"),
        throughput_warmup=1, throughput_steps=1, throughput_rounds=1,
        throughput_variants=((True, True), (False, True)),
    ),
}


@dataclass(frozen=True)
class Paths:
    """Where the benchmark writes: ``work`` holds data and runs (scratch), ``out`` the results."""

    repo: Path
    work: Path
    out: Path

    @property
    def bench_dir(self) -> Path:
        return self.repo / "benchmarks" / "gpu"

    def data(self, preset: str) -> Path:
        return self.work / f"synth_{preset}"

    def run(self, preset: str) -> Path:
        return self.work / f"run_{preset}"

    def eval_json(self, preset: str) -> Path:
        return self.work / f"eval_{preset}.json"


def photoface(python: str, *args: str) -> list[str]:
    """The ``photoface`` command line, run through ``python``."""
    return [python, "-m", "photoface.cli", *args]


def cuda_test_files(repo: Path) -> list[Path]:
    """The CUDA checks: every ``tests/**/test_*_cuda.py`` (each test in them needs a GPU)."""
    return sorted(p for p in (repo / "tests").rglob("test_*_cuda.py") if "benchmarks" not in p.parts)


def pytest_command(python: str, paths: Paths) -> list[str]:
    """pytest over the CUDA checks only, with a JUnit report to read outcomes from.

    Only their files are collected: the rest of the suite needs packages (dlib, trimesh) that a
    GPU machine's image may lack; a file that still fails to import is reported as an error
    while the others run.
    """
    files = [str(p.relative_to(paths.repo)) for p in cuda_test_files(paths.repo)]
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors",
            f"--junitxml={paths.work / 'pytest.xml'}", *files]


def synth_command(python: str, profile: Profile, paths: Paths, preset: str) -> list[str]:
    """``photoface synth`` for the preset's face model and image size, on every core."""
    if preset == "demo":
        model, size = "builtin:demo", 128
        n, m, test = profile.demo_identities, profile.demo_photos, profile.demo_test_fraction
    else:
        model, size = profile.paper_model, profile.paper_size
        n, m, test = profile.paper_identities, profile.paper_photos, profile.paper_test_fraction
    return photoface(python, "synth", "--model", model, "--identities", str(n), "--photos-per-identity", str(m),
                     "--size", str(size), "--test-fraction", str(test), "--seed", "0",
                     "--workers", str(os.cpu_count() or 1), "--out", str(paths.data(preset)), "--quiet")


def train_overrides(profile: Profile, preset: str) -> list[str]:
    """The ``--set`` values every training of ``preset`` in this profile gets (time limit aside)."""
    sets = [f"schedule.device={profile.device}"]
    if preset == "demo":
        sets.append(f"data.workers={profile.demo_workers}")
    else:
        sets += profile.paper_overrides
    return sets + list(profile.train_overrides)


def train_command(python: str, profile: Profile, paths: Paths, preset: str, minutes: float) -> list[str]:
    """``photoface train`` of ``preset`` for ``minutes`` of training time."""
    args = ["train", "--preset", preset, "--data", str(paths.data(preset)), "--out", str(paths.run(preset)),
            "--no-progress", "--set", f"schedule.time_limit_minutes={minutes:.2f}"]
    for s in train_overrides(profile, preset):
        args += ["--set", s]
    if profile.max_steps is not None:
        args += ["--max-steps", str(profile.max_steps)]
    return photoface(python, *args)


def train_minutes(preset: str, seconds_left: float) -> float | None:
    """Training time for a phase with ``seconds_left``, or None when the overhead leaves under 6 s."""
    train_s = seconds_left - TRAIN_OVERHEAD_S[preset]
    return None if train_s < 6 else train_s / 60


def eval_command(python: str, profile: Profile, paths: Paths, preset: str) -> list[str]:
    """``photoface evaluate synthetic`` of the preset's run on the held-out people of its collection."""
    extra = profile.eval_demo_args if preset == "demo" else profile.eval_paper_args
    return photoface(python, "evaluate", "synthetic", "--checkpoint", str(paths.run(preset)),
                     "--data", str(paths.data(preset)), "--device", profile.device,
                     "--out", str(paths.eval_json(preset)), *extra)


def throughput_command(python: str, profile: Profile, paths: Paths) -> list[str]:
    """This folder's in-process throughput measurement of the paper preset."""
    variants = ",".join(f"{'amp' if a else 'fp32'}:{'cl' if c else 'nchw'}" for a, c in profile.throughput_variants)
    args = [python, str(paths.bench_dir / "gpu_throughput.py"), "--data", str(paths.data("paper")),
            "--work", str(paths.work / "throughput_runs"), "--json", str(paths.work / "throughput.json"),
            "--warmup", str(profile.throughput_warmup), "--steps", str(profile.throughput_steps),
            "--rounds", str(profile.throughput_rounds), "--variants", variants, "--stage2"]
    for s in train_overrides(profile, "paper"):
        args += ["--set", s]
    return args


def display(cmd: list[str]) -> str:
    """A command as a person would type it: ``photoface ...`` for the CLI, paths left as they are."""
    cmd = ["photoface", *cmd[3:]] if cmd[1:3] == ["-m", "photoface.cli"] else ["python", *cmd[1:]]
    return " ".join(_quote(c) for c in cmd)


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
