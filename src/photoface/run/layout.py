"""The run folder: where each file of a trained run lives, and how its metrics log is read.

A run folder ``RUN/`` holds::

    RUN/config.yaml                 the run's full config (written when the run starts or resumes)
    RUN/checkpoints/step_0000200.pt one file per checkpoint (the newest ``keep`` are kept)
    RUN/checkpoints/last.pt         a copy of the newest checkpoint (what --resume reads)
    RUN/checkpoints/best.pt         the checkpoint validation selected (what the apps and export read)
    RUN/metrics.jsonl               one JSON object per logged step (photoface.train.run_log)
    RUN/tb/                         TensorBoard event files
    RUN/validation.json             every validation of the run and the step it selected
    RUN/verification.json           the same/different threshold calibrated by the evaluation
    RUN/verification_photos.json    the threshold calibrated on real person folders (verify --calibrate)

Every reader and writer takes these names from here, so the layout is stated once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.yaml"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
VALIDATION_FILE = "validation.json"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tb"
VERIFICATION_FILE = "verification.json"
PHOTO_VERIFICATION_FILE = "verification_photos.json"


def config_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CONFIG_FILE


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """``RUN/checkpoints/last.pt`` if it exists."""
    path = checkpoint_dir(run_dir) / LAST_CHECKPOINT
    return path if path.is_file() else None


def best_checkpoint(run_dir: str | Path) -> Path | None:
    """``RUN/checkpoints/best.pt`` (the weights validation selected) if it exists."""
    path = checkpoint_dir(run_dir) / BEST_CHECKPOINT
    return path if path.is_file() else None


def selected_checkpoint(run_dir: str | Path) -> Path | None:
    """The run's weights for use: ``best.pt`` when the run was validated, else ``last.pt``."""
    return best_checkpoint(run_dir) or last_checkpoint(run_dir)


def validation_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / VALIDATION_FILE


def metrics_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / METRICS_FILE


def tensorboard_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / TENSORBOARD_DIR


def verification_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / VERIFICATION_FILE


def run_of_checkpoint(checkpoint: str | Path) -> Path | None:
    """The run folder a checkpoint file lies in (``RUN/checkpoints/X.pt``), or None."""
    checkpoint = Path(checkpoint)
    run = checkpoint.parent.parent
    if checkpoint.parent.name == CHECKPOINT_DIR and config_path(run).is_file():
        return run
    return None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file (a run folder means its ``metrics.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        path = metrics_path(path)
    # a loss logged as non-finite is written as null (photoface.jsonfile); read it back as NaN
    return [{k: (math.nan if v is None else v) for k, v in json.loads(line).items()}
            for line in path.read_text().splitlines() if line.strip()]
