"""photoface.train: configs, the two-stage semi-supervised loop, checkpoints, logging, DDP.

Python API::

    from photoface.train import train, preset
    summary = train(preset("demo"), ["/data/synth"], "runs/demo")          # fresh run
    summary = train(cfg, ["/data/synth"], "runs/demo", resume=True)         # continue it

Command: ``photoface train --preset demo|paper --data DIR [DIR...] --out RUN [--max-steps N]
[--resume] [--set section.key=value ...]``; several processes with ``torchrun``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from photoface.run.config import TrainConfig, preset
from photoface.run.config_parse import apply_overrides
from photoface.run.resolve import resolve_run_config
from photoface.train.result import RunSummary


def train(
    cfg: TrainConfig,
    data_dirs: Sequence[str | Path],
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Train (or, with ``resume``, continue) the run in ``out_dir`` on prepared datasets.

    Args:
        cfg: the configuration (``preset(...)`` + ``apply_overrides``).
        data_dirs: prepared dataset folders; their ``train`` rows are used.
        out_dir: the run folder (config.yaml, checkpoints/, metrics.jsonl, tb/).
        resume: continue from ``out_dir/checkpoints/last.pt`` (bit-exact on the same device).
        progress: show a progress bar.

    Returns:
        a :class:`RunSummary`; a SIGINT/SIGTERM ends the run early with a checkpoint and
        ``stopped_by == "signal"``.
    """
    from photoface.train.loop import Trainer

    trainer = Trainer(cfg, data_dirs, out_dir, resume=resume, progress=progress)
    try:
        return trainer.run()
    finally:
        trainer.close()


__all__ = ["RunSummary", "TrainConfig", "apply_overrides", "preset", "resolve_run_config", "train"]
