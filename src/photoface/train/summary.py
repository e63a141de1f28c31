"""What a training call returns, and the rules for starting or resuming a run from the CLI.

On ``--resume`` the run's own ``RUN/config.yaml`` is the base config and the data folders
recorded in its last checkpoint are the default data. Only keys that do not change what the
run computes may differ from the checkpoint's config (:data:`RESUMABLE_KEYS`): how long to
train, how often to log and checkpoint, data-loading workers, threads. Anything else would make
the continuation a different experiment, so it is refused.
"""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass, field
from pathlib import Path

from photoface.errors import PhotofaceError
from photoface.train.config import TrainConfig, apply_overrides, load_yaml
from photoface.train.config import preset as make_preset

RESUMABLE_KEYS = frozenset(
    {
        "schedule.max_steps",
        "schedule.time_limit_minutes",
        "schedule.checkpoint_every",
        "schedule.log_every",
        "schedule.image_every",
        "schedule.keep_checkpoints",
        "schedule.stage1_steps",
        "schedule.stage2_steps",
        "schedule.threads",
        "schedule.device",
        "data.workers",
    }
)


def _flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


def check_resume_config(saved: TrainConfig, new: TrainConfig) -> None:
    """Raise PhotofaceError naming every key outside RESUMABLE_KEYS that differs."""
    a, b = _flatten(saved.to_dict()), _flatten(new.to_dict())
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUMABLE_KEYS and k != "preset")
    if changed:
        detail = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed[:8])
        raise PhotofaceError(f"cannot resume with a different configuration ({detail}); start a new run instead")


def resolve_run_config(
    out_dir,
    preset: str | None = None,
    data_dirs: list[str] | None = None,
    resume: bool = False,
    overrides: list[str] | None = None,
    max_steps: int | None = None,
) -> tuple[TrainConfig, list[Path]]:
    """The config and data folders of ``photoface train`` (see the module docstring).

    Args:
        out_dir: the run folder.
        preset: "demo" or "paper" (default demo; on resume, the run's config.yaml unless given).
        data_dirs: prepared dataset folders (on resume, default: the run's own).
        resume: continue the run in ``out_dir``.
        overrides: ``section.key=value`` strings.
        max_steps: shortcut for ``schedule.max_steps``.
    """
    from photoface.train import checkpoint as ckpt

    run = Path(out_dir)
    overrides = list(overrides or [])
    if max_steps is not None:
        overrides.append(f"schedule.max_steps={int(max_steps)}")
    if resume:
        saved = run / "config.yaml"
        if not saved.is_file():
            raise PhotofaceError(f"{run}: nothing to resume (no config.yaml)")
        cfg = load_yaml(saved) if preset is None else make_preset(preset)
        if not data_dirs:
            last = ckpt.last_checkpoint(run)
            if last is None:
                raise PhotofaceError(f"{run}: nothing to resume (no checkpoints/last.pt)")
            data_dirs = [m["path"] for m in ckpt.load_checkpoint(last)["dataset"]]
    else:
        cfg = make_preset(preset or "demo")
        if not data_dirs:
            raise PhotofaceError("no training data given (--data DIR)")
    return apply_overrides(cfg, overrides), [Path(d) for d in data_dirs]


@dataclass
class RunSummary:
    """The outcome of :func:`photoface.train.train`.

    ``stopped_by``: "done" (all steps, or max_steps), "time_limit" or "signal". Losses are the
    first and last finite steps' unweighted terms of this invocation.
    """

    run_dir: Path
    steps: int
    total_steps: int
    stage: int
    skipped_steps: int
    checkpoint: Path | None
    stopped_by: str
    signal: int | None = None
    first_losses: dict[str, float] = field(default_factory=dict)
    last_losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal number when a signal stopped the run (shell convention)."""
        return 128 + int(self.signal) if self.stopped_by == "signal" and self.signal else 0

    def describe(self) -> str:
        lines = [
            f"run {self.run_dir}: step {self.steps}/{self.total_steps}, stage {self.stage}, "
            f"stopped by {self.stopped_by}"
            + (f" ({_signal.Signals(self.signal).name})" if self.signal else "")
            + f", {self.seconds:.0f} s, {self.skipped_steps} skipped steps",
            f"checkpoint: {self.checkpoint}",
        ]
        for k in ("photometric", "landmark", "shape", "total"):
            if k in self.first_losses and k in self.last_losses:
                lines.append(f"{k}: {self.first_losses[k]:.4g} -> {self.last_losses[k]:.4g}")
        return "\n".join(lines)
