"""The rules for starting or resuming a run: which config and which data folders.

On ``--resume`` the run's own ``RUN/config.yaml`` is the base config and the data folders
recorded in its last checkpoint are the default data. Only keys that do not change what the
run computes may differ from the checkpoint's config (:data:`RESUMABLE_KEYS`): how long to
train, how often to log and checkpoint, data-loading workers, threads. Anything else would make
the continuation a different experiment, so it is refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from photoface.errors import PhotofaceError
from photoface.run.checkpoint import load_checkpoint
from photoface.run.config import FitConfig, TrainConfig
from photoface.run.config import preset as make_preset
from photoface.run.config_parse import apply_overrides, load_yaml
from photoface.run.layout import config_path, last_checkpoint

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
) | frozenset(f"fit.{f.name}" for f in dataclasses.fields(FitConfig))
"""Keys a resumed run may change: the fit section too (it never changes the trained weights)."""


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
    run = Path(out_dir)
    overrides = list(overrides or [])
    if max_steps is not None:
        overrides.append(f"schedule.max_steps={int(max_steps)}")
    if resume:
        saved = config_path(run)
        if not saved.is_file():
            raise PhotofaceError(f"{run}: nothing to resume (no config.yaml)")
        cfg = load_yaml(saved) if preset is None else make_preset(preset)
        if not data_dirs:
            last = last_checkpoint(run)
            if last is None:
                raise PhotofaceError(f"{run}: nothing to resume (no checkpoints/last.pt)")
            data_dirs = [m["path"] for m in load_checkpoint(last)["dataset"]]
    else:
        cfg = make_preset(preset or "demo")
        if not data_dirs:
            raise PhotofaceError("no training data given (--data DIR)")
    return apply_overrides(cfg, overrides), [Path(d) for d in data_dirs]
