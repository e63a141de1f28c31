"""Training throughput of a preset: images/s at its batch, peak GPU memory, bf16 autocast and
channels_last on and off, in one process.

A case is (amp, channels_last, stage). One :class:`photoface.train.loop.Trainer` is built per
channels_last value (it decides how the networks are laid out); bf16 autocast (``schedule.amp``)
is read at every step, so the cases of one trainer alternate round by round on the same weights,
and drift in the machine's state hits them alike. Each timed step is exactly a training step:
the next batch from the loader, then forward, render, losses, critic and generator updates, with
``torch.cuda.synchronize`` before the clock is read. The first ``--warmup`` steps of every case
(cuDNN's algorithm search, lazy initialisation, loader start) are not timed. Stage 2 (the CNN
albedo decoder) is timed for the first listed variant only, when ``--stage2`` is given.

    python benchmarks/gpu/gpu_throughput.py --data SYNTH224 --work DIR --json OUT.json \
        [--preset paper] [--variants amp:cl,fp32:cl,amp:nchw,fp32:nchw] [--set section.key=value ...]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

from photoface.jsonfile import write_json
from photoface.run.config import preset
from photoface.run.config_parse import apply_overrides
from photoface.train.loop import Trainer


def parse_variants(text: str) -> list[tuple[bool, bool]]:
    """``amp:cl,fp32:nchw`` → [(True, True), (False, False)]."""
    out = []
    for item in text.split(","):
        precision, _, layout = item.strip().partition(":")
        if precision not in ("amp", "fp32") or layout not in ("cl", "nchw"):
            raise SystemExit(f"--variants: {item!r} is not amp|fp32:cl|nchw")
        out.append((precision == "amp", layout == "cl"))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(trainer: Trainer) -> tuple[float, float, float | None]:
    """One training step: (seconds with data loading, seconds of compute alone, weighted total loss)."""
    _sync(trainer.device)
    t0 = time.perf_counter()
    batch = trainer.stream.next()
    t1 = time.perf_counter()
    values, _ = trainer._train_step(batch)
    trainer.step += 1
    _sync(trainer.device)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1, None if values is None else values["total"]


def measure(cfg, data: Path, run_dir: Path, cases: list[tuple[bool, int]], warmup: int, steps: int,
            rounds: int) -> list[dict]:
    """Time ``cases`` = [(amp, stage), ...] on one trainer built from ``cfg``; one dict per case."""
    trainer = Trainer(cfg, [data], run_dir, progress=False)
    cuda = trainer.device.type == "cuda"
    batch = trainer.sampler.batch_size
    results = []
    try:
        for stage in sorted({s for _, s in cases}):
            if trainer.stage != stage:
                trainer._set_stage(stage)
            amps = [a for a, s in cases if s == stage]
            rows = {a: {"steps": [], "compute": [], "loss": [], "peak": 0} for a in amps}
            for amp in amps:
                cfg.schedule.amp = amp
                for _ in range(warmup):
                    timed_step(trainer)
            for _ in range(rounds):
                for amp in amps:
                    cfg.schedule.amp = amp
                    if cuda:
                        torch.cuda.reset_peak_memory_stats(trainer.device)
                    for _ in range(steps):
                        s, c, loss = timed_step(trainer)
                        rows[amp]["steps"].append(s)
                        rows[amp]["compute"].append(c)
                        rows[amp]["loss"].append(loss)
                    if cuda:
                        rows[amp]["peak"] = max(rows[amp]["peak"], torch.cuda.max_memory_allocated(trainer.device))
            for amp, r in rows.items():
                step_s, compute_s = statistics.median(r["steps"]), statistics.median(r["compute"])
                results.append({
                    "amp": amp, "amp_active": amp and cuda, "channels_last": cfg.schedule.channels_last,
                    "stage": stage, "batch": batch, "timed_steps": len(r["steps"]), "warmup_steps": warmup,
                    "step_s_median": step_s, "step_s": r["steps"], "compute_s_median": compute_s,
                    "images_per_s": batch / step_s, "compute_images_per_s": batch / compute_s,
                    "peak_memory_gib": r["peak"] / 2**30 if cuda else None,
                    "losses_finite": all(v is not None for v in r["loss"]),
                    "last_total_loss": next((v for v in reversed(r["loss"]) if v is not None), None),
                })
    finally:
        trainer.close()
        del trainer
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return results


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset for the preset")
    parser.add_argument("--work", required=True, type=Path, help="scratch folder for the trainers' run folders")
    parser.add_argument("--json", required=True, type=Path, help="results file")
    parser.add_argument("--preset", default="paper", choices=("demo", "paper"))
    parser.add_argument("--variants", default="amp:cl,fp32:cl,amp:nchw,fp32:nchw")
    parser.add_argument("--stage2", action="store_true", help="also time stage 2 for the first variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    variants = parse_variants(args.variants)
    base = apply_overrides(preset(args.preset), args.overrides)
    results: list[dict] = []
    for layout in dict.fromkeys(cl for _, cl in variants):
        cases = [(amp, 1) for amp, cl in variants if cl == layout]
        if args.stage2 and variants[0][1] == layout:
            cases.append((variants[0][0], 2))
        cfg = apply_overrides(base, [f"schedule.channels_last={str(layout).lower()}"])
        t0 = time.perf_counter()
        rows = measure(cfg, args.data, args.work / f"cl_{layout}", cases, args.warmup, args.steps, args.rounds)
        for r in rows:
            r["trainer_seconds"] = time.perf_counter() - t0
        results += rows
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"preset": args.preset, "cases": results}, indent=2)
    for r in results:
        print(f"amp={r['amp']!s:5} channels_last={r['channels_last']!s:5} stage={r['stage']} "
              f"batch={r['batch']} {r['images_per_s']:.1f} images/s (compute {r['compute_images_per_s']:.1f}), "
              f"peak {r['peak_memory_gib'] if r['peak_memory_gib'] is None else round(r['peak_memory_gib'], 2)} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
