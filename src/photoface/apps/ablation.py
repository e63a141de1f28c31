"""The ablation runner: train the paper's Table 2 variants with one budget and seed, score them alike.

Variants (config overrides on top of the preset and the user's ``--set`` overrides):

* ``full`` — the full model;
* ``no_recog`` — without the recognition loss (``loss.recognition=0``, ``loss.center=0``);
* ``no_adv`` — without the adversarial loss (``loss.adversarial=0``);
* ``laplacian`` — conventional Laplacian smoothing instead of eq. 9 (``loss.smooth_kind=laplacian``);
* ``shape_supervised`` — the "shape supervision only" baseline: every loss but the shape,
  pairwise-shape and landmark losses set to 0. It is not a row of the paper's Table 2; it is
  trained here because it needs the same budget, and ``photoface evaluate synthetic
  --shape-supervised OUT/shape_supervised`` scores it next to the model.

Each variant trains in ``OUT/<variant>`` with ``photoface.train.train`` for the same budget
(``minutes_per_variant`` of wall time and/or ``steps_per_variant`` steps) and the preset's seed,
then is scored with the synthetic benchmark (``photoface.evaluate.synthetic``, model only) on the
held-out identities of the same dataset. A variant folder that already holds a checkpoint is
scored as it is, not retrained, so an interrupted ablation continues where it stopped.
Results: ``OUT/ablation.json`` and ``OUT/ablation.md`` (the paper's Table 2 layout,
``tables.ablation_table``; columns = settings, average over identity).

Note on budgets: a time budget gives each variant the same wall time, so a variant with cheaper
steps (no critic) takes more steps; a step budget gives the same number of updates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from photoface.errors import PhotofaceError

SHAPE_ONLY_ZERO = ("recognition", "center", "photometric", "photometric_gdl", "smooth", "albedo_symmetry",
                   "adversarial")
VARIANTS: dict[str, tuple[str, ...]] = {
    "full": (),
    "no_recog": ("loss.recognition=0", "loss.center=0"),
    "no_adv": ("loss.adversarial=0",),
    "laplacian": ("loss.smooth_kind=laplacian",),
    "shape_supervised": tuple(f"loss.{k}=0" for k in SHAPE_ONLY_ZERO),
}


def variant_config(name: str, preset: str = "demo", overrides: Sequence[str] = (),
                   minutes: float | None = None, steps: int | None = None):
    """The training config of one variant (see the module docstring)."""
    from photoface.run.config import preset as make_preset
    from photoface.run.config_parse import apply_overrides

    if name not in VARIANTS:
        raise PhotofaceError(f"unknown ablation variant {name!r}; choose from {', '.join(VARIANTS)}")
    budget = []
    if minutes is not None:
        if minutes <= 0:
            raise PhotofaceError(f"minutes per variant must be positive, got {minutes}")
        budget.append(f"schedule.time_limit_minutes={float(minutes)}")
    if steps is not None:
        if steps < 1:
            raise PhotofaceError(f"steps per variant must be at least 1, got {steps}")
        budget.append(f"schedule.max_steps={int(steps)}")
    return apply_overrides(make_preset(preset), [*overrides, *VARIANTS[name], *budget])


def run_ablation(
    data: str | Path,
    out: str | Path,
    *,
    minutes_per_variant: float | None = None,
    steps_per_variant: int | None = None,
    variants: Sequence[str] | None = None,
    preset: str = "demo",
    overrides: Sequence[str] = (),
    eval_data: str | Path | None = None,
    max_photos: int | None = None,
    modes: Sequence[str] = ("identity",),
    device: str = "cpu",
    progress: bool = True,
    protocol_options: dict | None = None,
) -> dict:
    """Train and score the variants; write ``OUT/ablation.json`` and ``OUT/ablation.md``.

    Args:
        data: synthetic prepared dataset (train rows for training, test rows for scoring).
        out: folder for the variant runs and the results.
        minutes_per_variant, steps_per_variant: the common budget (default: the preset's).
        variants: subset of :data:`VARIANTS` (default all, in the table's order).
        preset, overrides: the base config (``photoface train --preset/--set``).
        eval_data: score on this dataset's test rows instead of ``data``'s.
        max_photos, modes, protocol_options: passed to the synthetic benchmark.

    Returns:
        {variant: {"shape_mm": ..., ..., "training": {...}}, "meta": {...}}.
    """
    from photoface.evaluate.results_files import write_results
    from photoface.evaluate.synthetic import evaluate_synthetic
    from photoface.run.layout import last_checkpoint
    from photoface.train import train

    t0 = time.perf_counter()
    names = list(variants) if variants else list(VARIANTS)
    configs = {v: variant_config(v, preset, overrides, minutes_per_variant, steps_per_variant) for v in names}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for name in names:
        run = out / name
        if last_checkpoint(run) is None:
            summary = train(configs[name], [data], run, progress=progress)
            training = {"steps": summary.steps, "seconds": round(summary.seconds, 1), "stopped_by": summary.stopped_by,
                        "reused": False}
        else:
            training = {"reused": True}
        res = evaluate_synthetic(run, eval_data or data, baselines=(), max_photos=max_photos, modes=modes,
                                 device=device, protocol_options=protocol_options)
        entry = dict(res["model"])
        entry["training"] = {**training, "step": res["meta"]["step"], "run": str(run),
                             "overrides": list(VARIANTS[name])}
        results[name] = entry
    json_path = out / "ablation.json"
    results["meta"] = {
        "benchmark": "ablation", "dataset": str(Path(data).resolve()),
        "eval_dataset": str(Path(eval_data or data).resolve()), "preset": preset, "overrides": list(overrides),
        "budget": {"minutes_per_variant": minutes_per_variant, "steps_per_variant": steps_per_variant},
        "seed": next(iter(configs.values())).schedule.seed, "modes": list(modes),
        "json": str(json_path), "markdown": str(json_path.with_suffix(".md")),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_results(results, json_path)
    return results
