import torch

from photoface.run.config import PAPER_EPOCHS_PER_STAGE, ScheduleConfig
from photoface.train.distributed import DistInfo
from photoface.train.stages import carry_moments, stage2_due, stage_lengths

ONE_PROCESS = DistInfo()


def test_stage_lengths_are_the_configured_steps_or_the_papers_epochs():
    assert stage_lengths(ScheduleConfig(stage1_steps=7, stage2_steps=None), 3) == (7, PAPER_EPOCHS_PER_STAGE * 3)
    assert stage_lengths(ScheduleConfig(stage1_steps=None, stage2_steps=0), 5) == (PAPER_EPOCHS_PER_STAGE * 5, 0)


def test_stage2_begins_after_stage1s_steps_or_its_share_of_the_time_limit():
    assert not stage2_due(0, 100, 100, None, 10_000.0, ONE_PROCESS), "without a time limit only the step count switches"
    assert stage2_due(100, 100, 100, None, 0.0, ONE_PROCESS)
    # equal stages: stage 1 gets half of a 1-minute limit
    assert not stage2_due(0, 100, 100, 1.0, 29.0, ONE_PROCESS) and stage2_due(0, 100, 100, 1.0, 31.0, ONE_PROCESS)
    # 100 of 400 steps: stage 1 gets a quarter of a 2-minute limit, 30 s
    assert not stage2_due(99, 100, 300, 2.0, 29.0, ONE_PROCESS) and stage2_due(0, 100, 300, 2.0, 31.0, ONE_PROCESS)
    assert not stage2_due(0, 100, 0, 1.0, 10_000.0, ONE_PROCESS), "no stage 2 to give time to"


def test_the_switch_carries_the_adam_state_of_shared_parameters_only():
    a, b, c = (torch.nn.Parameter(torch.ones(2)) for _ in range(3))
    old = torch.optim.Adam([a, b], lr=0.1)
    (a.sum() + 2 * b.sum()).backward()
    old.step()
    new = torch.optim.Adam([b, c], lr=0.1)
    carry_moments(old, new, [b, c])
    assert new.state[b] is old.state[b] and c not in new.state and a not in new.state
    exp_avg = new.state[b]["exp_avg"].clone()
    b.grad, c.grad = torch.zeros(2), torch.zeros(2)
    new.step()
    assert float(new.state[b]["step"]) == 2 and torch.allclose(new.state[b]["exp_avg"], 0.9 * exp_avg)
