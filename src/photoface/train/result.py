"""What a training call returns: :class:`RunSummary`."""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunSummary:
    """The outcome of :func:`photoface.train.train`.

    ``stopped_by``: "done" (all steps, or max_steps), "time_limit" or "signal". Losses are the
    first and last finite steps' unweighted terms of this invocation. ``selected``: the validation
    record of the weights the run selected (``photoface.train.validation``; None without
    validation), whose file is ``selected_checkpoint``.
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
    selected: dict | None = None
    selected_checkpoint: Path | None = None

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
        if self.selected is not None:
            numbers = ", ".join(f"{k} {v:.4g}" for k, v in self.selected.items() if k in ("eer", "shape_mm"))
            lines.append(f"selected by validation: step {self.selected['step']} ({numbers}): {self.selected_checkpoint}")
        for k in ("photometric", "landmark", "shape", "total"):
            if k in self.first_losses and k in self.last_losses:
                lines.append(f"{k}: {self.first_losses[k]:.4g} -> {self.last_losses[k]:.4g}")
        return "\n".join(lines)
