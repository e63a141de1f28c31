import pytest
from gpu_budget import Budget, Phase

PHASES = [Phase("a", 100, 10), Phase("b", 200, 10), Phase("c", 100, 50)]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def budget(total=410.0, reserve=10.0):
    clock = Clock()
    return Budget(PHASES, total, reserve_s=reserve, clock=clock), clock


def test_shares_follow_nominal_lengths_and_the_reserve_is_kept():
    b, clock = budget()
    assert b.final_deadline == 1000 + 400
    assert b.deadline("a") == pytest.approx(1000 + 100)  # 400 s left, a has 100 of 400 nominal
    clock.now += 100
    assert b.deadline("b") == pytest.approx(1100 + 200)
    clock.now += 200
    assert b.deadline("c") == pytest.approx(1400)  # the last phase ends at the reserve


def test_time_a_phase_leaves_unused_goes_to_the_later_ones():
    b, clock = budget()
    clock.now += 40  # a took 40 of its 100 s
    assert b.deadline("b") == pytest.approx(1040 + 360 * 200 / 300)


def test_an_overrun_is_taken_from_later_phases_and_the_minimum_decides_skipping():
    b, clock = budget()
    clock.now += 330  # a ran 330 s: 70 s left for b and c
    assert b.deadline("b") == pytest.approx(1330 + 70 * 200 / 300)
    clock.now = 1400 - 40  # 40 s left, c needs at least 50
    assert b.deadline("c") is None
    clock.now = 1400 + 5  # past the end
    assert b.remaining() < 0 and b.deadline("a") is None


def test_a_share_below_the_minimum_is_raised_to_it_when_time_allows():
    b, clock = budget()
    clock.now = 1400 - 60  # 60 s left: c's proportional share is all of it; ask for a first
    assert b.deadline("a") == pytest.approx(1340 + 15)  # 60 * 100 / 400
    b2 = Budget([Phase("x", 1, 30), Phase("y", 100, 1)], 110, reserve_s=10, clock=clock)
    assert b2.deadline("x") == pytest.approx(clock.now + 30)  # 1 % of 100 s raised to its 30 s minimum


def test_bad_budgets_are_refused():
    with pytest.raises(ValueError, match="repeat"):
        Budget([Phase("a", 1, 0), Phase("a", 1, 0)], 100)
    with pytest.raises(ValueError, match="reserve"):
        Budget(PHASES, 10, reserve_s=10)
    b, _ = budget()
    with pytest.raises(KeyError):
        b.deadline("nope")
