"""Deadlines for the GPU benchmark's phases, all derived from one total budget.

Each phase has a nominal length (its share at the default total) and a minimum below which it is
not worth starting. When a phase starts, it gets the time that is left (total minus a reserve for
writing the summary) split over itself and the phases still to come in proportion to their
nominal lengths. A phase that finishes early therefore hands its time to the later ones, and one
that overruns (and is stopped at its deadline) takes time only from them, never from the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Phase:
    """One step of the benchmark: ``seconds`` is its nominal share, ``min_seconds`` the least it
    needs to produce anything (with less it is skipped)."""

    name: str
    seconds: float
    min_seconds: float


class Budget:
    """Hands out deadlines (clock seconds) to the foreground ``phases``, in their order.

    Args:
        phases: the phases in the order they run.
        total_s: the whole budget, counted from ``start``.
        reserve_s: kept back at the end (writing the summary, stopping stragglers).
        start: clock value the budget counts from (default: now).
        clock: a monotonic clock in seconds.
    """

    def __init__(self, phases: Sequence[Phase], total_s: float, reserve_s: float = 10.0,
                 start: float | None = None, clock: Callable[[], float] = time.monotonic):
        names = [p.name for p in phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names repeat: {names}")
        if total_s <= reserve_s:
            raise ValueError(f"total budget {total_s} s leaves nothing after the {reserve_s} s reserve")
        self.phases = list(phases)
        self.clock = clock
        self.start = clock() if start is None else start
        self.end = self.start + total_s
        self.reserve_s = reserve_s

    @property
    def final_deadline(self) -> float:
        """When every phase, background ones included, must have stopped."""
        return self.end - self.reserve_s

    def remaining(self) -> float:
        """Seconds left for phases (the reserve excluded); negative once overrun."""
        return self.final_deadline - self.clock()

    def deadline(self, name: str) -> float | None:
        """The deadline of phase ``name`` if it starts now, or None when less than its minimum is left.

        A proportional share below the phase's minimum is raised to the minimum, at the cost of
        the later phases: earlier phases are what the later ones need.
        """
        index = next((i for i, p in enumerate(self.phases) if p.name == name), None)
        if index is None:
            raise KeyError(f"no phase {name!r}")
        phase, rest = self.phases[index], self.phases[index:]
        left = self.remaining()
        if left < phase.min_seconds:
            return None
        share = max(left * phase.seconds / sum(p.seconds for p in rest), phase.min_seconds)
        return self.clock() + share
