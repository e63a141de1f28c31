"""The two training stages' schedule (paper §3.4): how long each runs and when stage 2 begins.

Stage 1 (``schedule.stage1_steps``) trains with the GCN albedo decoder, stage 2
(``schedule.stage2_steps``) with the CNN albedo decoder with U-Net skips; a length of None is the
paper's 100 epochs. Stage 2 begins after stage 1's steps or, under ``schedule.time_limit_minutes``,
once stage 1 has had its share of the time, so that a run stopped by the clock has reached both.
The switch rebuilds the generator optimiser over stage 2's parameters (``photoface.train.loop``),
carrying the Adam state of the parameters both stages share (:func:`carry_moments`).

Split out of the training loop because these rules need nothing of a run but its step count, its
clock and its processes; the loop calls them.
"""

from __future__ import annotations

from typing import Iterable

import torch

from photoface.run.config import PAPER_EPOCHS_PER_STAGE, ScheduleConfig
from photoface.train import distributed as dist_ops
from photoface.train.distributed import DistInfo


def stage_lengths(schedule: ScheduleConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(stage-1 steps, stage-2 steps); a length of None is the paper's epochs of ``steps_per_epoch``."""
    s1, s2 = schedule.stage1_steps, schedule.stage2_steps
    s1 = PAPER_EPOCHS_PER_STAGE * steps_per_epoch if s1 is None else int(s1)
    s2 = PAPER_EPOCHS_PER_STAGE * steps_per_epoch if s2 is None else int(s2)
    return s1, s2


def stage2_due(step: int, stage1_steps: int, stage2_steps: int, time_limit_minutes: float | None,
               elapsed: float, dist: DistInfo) -> bool:
    """Stage 1 is over after its steps or, under a time limit, after its share of the time,
    stage1_steps / (stage1_steps + stage2_steps) of it; ``elapsed`` is seconds since the run
    started. The time decision is every process's (one slow process switches all of them)."""
    if step >= stage1_steps:
        return True
    if time_limit_minutes is None or stage2_steps == 0:
        return False
    share = stage1_steps / (stage1_steps + stage2_steps)
    return dist_ops.any_true(elapsed > 60 * time_limit_minutes * share, dist)


def carry_moments(old: torch.optim.Optimizer, new: torch.optim.Optimizer,
                  params: Iterable[torch.nn.Parameter]) -> None:
    """Give ``new`` the optimiser state ``old`` holds for each of ``params`` (Adam's moments of the
    parameters both stages train); parameters ``old`` has no state for start afresh."""
    for p in params:
        if p in old.state:
            new.state[p] = old.state[p]
