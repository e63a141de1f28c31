"""Training logs: progress bar, ``RUN/metrics.jsonl``, TensorBoard scalars and image grids.

``metrics.jsonl`` holds one JSON object per logged step::

    {"step": 120, "stage": 1, "recognition": ..., "center": ..., "photometric": ...,
     "landmark": ..., "shape": ..., "pairwise_shape": ..., "smooth": ..., "albedo_symmetry": ...,
     "adversarial": ..., "critic": ..., "total": ..., "images_per_s": ..., "skipped_steps": ...,
     "lr_generator": ..., "elapsed_s": ...}

Loss values are unweighted (``total`` is the weighted sum that was minimised) and averaged over the
steps since the previous logged step (over every process in distributed training). A loss that is
switched off (weight 0) or had no rows in the window (e.g. ``shape`` without labeled rows) is
absent. On resume, lines after the checkpoint's step are dropped before appending, so the file
never holds two records of a step.

Image grids, one row per photo: input | render | albedo | shading | mesh (the decoded shape,
grey and shaded). Only the main process writes anything.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from photoface.jsonfile import json_text
from photoface.pixels import to_uint8
from photoface.run.layout import metrics_path, tensorboard_dir

LOSS_NAMES = (
    "recognition",
    "center",
    "photometric",
    "landmark",
    "shape",
    "pairwise_shape",
    "smooth",
    "albedo_symmetry",
    "adversarial",
    "critic",
    "total",
)


class LossWindow:
    """Running sums of losses between two logged steps (picklable state for exact resume)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.images = 0
        self.seconds = 0.0

    def add(self, losses: dict[str, float], images: int, seconds: float) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1
        self.images += images
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "images": self.images, "seconds": self.seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.counts = dict(state["sums"]), dict(state["counts"])
        self.images, self.seconds = int(state["images"]), float(state["seconds"])


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop records with ``step > last_step`` (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line of a killed run
    path.write_text("".join(line + "\n" for line in kept))


class RunLogger:
    """Writes the logs of one run (a no-op object on non-main processes).

    Args:
        run_dir: the run folder.
        total_steps: the step count the progress bar counts towards.
        start_step: first step of this invocation (after a resume, the checkpoint's step).
        enabled: False on non-main ranks.
        progress: show a tqdm bar (ETA and running losses).
    """

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, enabled: bool = True, progress: bool = True):
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self._bar = None
        self._tb = None
        self._file = None
        self._started = time.monotonic()
        self._ema: dict[str, float] = {}
        if not enabled:
            return
        metrics = metrics_path(self.run_dir)
        truncate_metrics(metrics, start_step)
        self._file = open(metrics, "a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(tensorboard_dir(self.run_dir)), purge_step=start_step + 1)
        except ImportError:  # tensorboard is a dependency, but a broken install must not stop training
            self._tb = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def step_done(self, losses: dict[str, float]) -> None:
        """Advance the bar and its running (exponentially averaged) losses."""
        if not self.enabled:
            return
        for k, v in losses.items():
            self._ema[k] = v if k not in self._ema else 0.9 * self._ema[k] + 0.1 * v
        if self._bar is not None:
            shown = {k: f"{self._ema[k]:.3g}" for k in ("total", "photometric", "landmark", "shape") if k in self._ema}
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)

    def log(self, step: int, stage: int, means: dict[str, float], extra: dict[str, float]) -> None:
        """Write one metrics record and the TensorBoard scalars of a logged step."""
        if not self.enabled:
            return
        record: dict[str, Any] = {"step": step, "stage": stage}
        record.update({k: means[k] for k in LOSS_NAMES if k in means})
        record.update(extra)
        record["elapsed_s"] = round(time.monotonic() - self._started, 3)
        self._file.write(json_text(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    group = "loss" if k in LOSS_NAMES else "train"
                    self._tb.add_scalar(f"{group}/{k}", v, step)

    def images(self, step: int, grid: torch.Tensor) -> None:
        """Log an image grid (3, H, W) in [0, 1] to TensorBoard and RUN/images/latest.png."""
        if not self.enabled:
            return
        if self._tb is not None:
            self._tb.add_image("reconstruction", grid, step)
        from PIL import Image

        out = self.run_dir / "images"
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(grid)).save(out / "latest.png")

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._file is not None:
            self._file.close()
        self._bar = self._tb = self._file = None
