"""``photoface demo`` (``make demo``): the main job on the embedded default, offline.

Steps, all inside ``OUT/``:

1. ``OUT/data``: a synthetic photo collection of the built-in demo face model
   (``photoface.data.synth.synthesize``; 200 identities × 5 photos at 128² by default, a fifth of
   the identities held out for testing, so that the evaluation's means over 40 held-out people
   come with standard errors small enough to tell a 10 % gain from noise; under a minute on 2 cores);
2. ``OUT/run``: the ``demo`` preset trained for ``minutes`` of wall time
   (``photoface.train.train``; a run already in ``OUT/run`` is continued for another ``minutes``);
3. ``OUT/evaluation.json`` and ``.md``: the synthetic benchmark on the held-out identities with the
   mean-face and landmark-fit baselines (``photoface.evaluate.synthetic``), which also writes
   ``OUT/run/verification.json``, the calibrated threshold that ``photoface verify`` uses;
4. ``OUT/reconstruct`` (held-out photos, two per difficulty setting), ``OUT/transfer`` (one
   held-out person with the expressions of others) and verification of photo pairs and collections;
5. ``OUT/report.html`` (``photoface.apps.report_html``), which embeds the reconstructions' 3D
   viewer ``OUT/reconstruct/view.html`` (with error maps against the true meshes) and links the
   transfer's, and ``OUT/report_overview.png``.

``write_docs_figures(OUT, "docs")`` copies the report's pictures into docs/ for the README.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from photoface.apps import figures
from photoface.apps.report_html import ReportInputs, loss_curves, write_report
from photoface.run.layout import metrics_path

DEMO_MODEL = "builtin:demo"
IMAGE_SIZE = 128


FITTED_PEOPLE = 2
"""Held-out people the demo also fits (linear collection fit) and refines (keeps ``make demo`` ~1-2 min longer)."""


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def _train(data: Path, run: Path, minutes: float, device: str, seed: int, progress: bool, log, extra=()):
    from photoface.run.layout import last_checkpoint
    from photoface.run.resolve import resolve_run_config
    from photoface.train import train

    overrides = [f"schedule.time_limit_minutes={float(minutes)}", f"schedule.device={device}", *extra]
    resume = last_checkpoint(run) is not None
    if resume:
        log(f"continuing the run in {run} for up to {minutes:g} more minutes")
        cfg, dirs = resolve_run_config(run, resume=True, overrides=overrides)
    else:
        log(f"training the demo preset for up to {minutes:g} minutes into {run}")
        cfg, dirs = resolve_run_config(run, preset="demo", data_dirs=[str(data)],
                                       overrides=overrides + [f"schedule.seed={seed}"])
    summary = train(cfg, dirs, run, resume=resume, progress=progress)
    log(summary.describe())
    return summary


def pick_reconstructions(rows, per_setting: int = 2) -> list:
    """Held-out rows to reconstruct: ``per_setting`` per difficulty setting, distinct identities."""
    chosen = []
    for setting in sorted({r.setting for r in rows}, key=str):
        seen: set[str] = set()
        for r in rows:
            if r.setting == setting and r.identity not in seen:
                chosen.append(r)
                seen.add(r.identity)
                if len(seen) == per_setting:
                    break
    return chosen


def _expression_strength(row) -> float:
    exp = row.extra.get("alpha_exp_true")
    return float(np.linalg.norm(exp)) if exp is not None else 0.0


def pick_transfer(rows, targets: int = 4) -> tuple:
    """(source row, target rows): the source is a cooperative photo of the first held-out person;
    targets are the strongest expressions of the other people, one per person where possible."""
    coop = [r for r in rows if r.setting == "cooperative"] or list(rows)
    source = coop[0]
    others = sorted((r for r in rows if r.identity != source.identity), key=_expression_strength, reverse=True)
    picked, seen = [], set()
    for r in others:
        if r.identity not in seen:
            picked.append(r)
            seen.add(r.identity)
        if len(picked) == targets:
            break
    for r in others:
        if len(picked) == targets:
            break
        if r not in picked:
            picked.append(r)
    return source, picked


def _thumb(src: Path, dst: Path, size: int = 96) -> Path:
    Image.open(src).convert("RGB").resize((size, size), Image.Resampling.BICUBIC).save(dst)
    return dst


def _verifications(trained, ds, out: Path, log) -> list[dict]:
    from photoface.apps.verify import verify

    rows = ds.rows
    ids = sorted({r.identity for r in rows})
    a_rows = [r for r in rows if r.identity == ids[0]]
    b_rows = [r for r in rows if r.identity == ids[1 % len(ids)]]
    thumbs = out / "verify"
    thumbs.mkdir(parents=True, exist_ok=True)
    root = ds.root
    cases = [(root / a_rows[0].image, root / a_rows[-1].image), (root / a_rows[0].image, root / b_rows[0].image),
             ((root / a_rows[0].image).parent, (root / b_rows[0].image).parent)]
    result = []
    for a, b in cases:
        v = verify(a, b, None, aligned=True, trained=trained, log=log)
        names = []
        for p in (a, b):
            img = p if p.is_file() else sorted(p.glob("*.png"))[0]
            names.append(_thumb(img, thumbs / f"{p.parent.name}_{p.stem}.png" if p.is_file()
                                else thumbs / f"{p.name}_collection.png"))
        def label(p, v=v):
            return f"{p.stem} (one photo)" if p.is_file() else f"all {v.photos_a if p == a else v.photos_b} photos of {p.name}"

        result.append({"a": label(a), "b": label(b), "verdict": v.describe(), "thumbs": names,
                       "score": v.score, "same": v.same})
        log(f"verify {label(a)} vs {label(b)}: {v.describe()}")
    return result


def overview_image(panels: list[Path], transfer_grid: Path | None, loss_png: Path | None,
                   max_panels: int = 3) -> np.ndarray:
    """A one-picture summary of the report: some panels, the transfer grid, the loss curves."""
    rows = [np.asarray(Image.open(p).convert("RGB")) for p in panels[:max_panels]]
    if transfer_grid is not None:
        rows.append(np.asarray(Image.open(transfer_grid).convert("RGB")))
    if loss_png is not None:
        rows.append(np.asarray(Image.open(loss_png).convert("RGB")))
    width = max(r.shape[1] for r in rows)
    scaled = []
    for r in rows:
        if r.shape[1] > width:
            r = np.asarray(Image.fromarray(r).resize((width, round(r.shape[0] * width / r.shape[1]))))
        scaled.append(r)
    return figures.vstack(scaled, gap=6)


def run_demo(out: str | Path, minutes: float = 10.0, identities: int = 200, photos_per_identity: int = 5,
             seed: int = 0, device: str = "auto", progress: bool = True,
             log: Callable[[str], None] = _say, train_overrides: tuple[str, ...] = ()) -> Path:
    """Run the whole demo into ``out`` (see the module docstring); returns the report path.

    Args:
        out: the demo folder.
        minutes: training wall-time budget.
        identities, photos_per_identity: size of the synthetic collection.
        seed: seed of the data and of training.
        device: "auto", "cpu" or "cuda".
        train_overrides: further ``section.key=value`` config overrides (e.g. ``schedule.max_steps=50``).
    """
    import torch

    from photoface.apps.reconstruct import reconstruct
    from photoface.apps.transfer import transfer
    from photoface.data.format import load_dataset
    from photoface.data.synth.collection import synthesize
    from photoface.evaluate.results_files import write_results
    from photoface.evaluate.synthetic import evaluate_synthetic
    from photoface.run.inference import load_trained

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data, run = out / "data", out / "run"
    t0 = time.monotonic()
    log(f"1/5 synthesizing {identities} identities × {photos_per_identity} photos into {data}")
    synthesize(DEMO_MODEL, identities, photos_per_identity, data, size=IMAGE_SIZE, seed=seed, progress=progress)
    t_synth = time.monotonic() - t0

    log("2/5 training")
    t1 = time.monotonic()
    summary = _train(data, run, minutes, device, seed, progress, log, train_overrides)
    t_train = time.monotonic() - t1
    if summary.stopped_by == "signal":
        log(f"training interrupted; its checkpoint is saved: run the same command again to continue in {run}")
        raise KeyboardInterrupt

    log("3/5 evaluating on held-out identities")
    infer_device = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    evaluation = evaluate_synthetic(run, data, device=infer_device)
    write_results(evaluation, out / "evaluation.json")
    # the fits take ~10-20 s per person on 2 cores: a few held-out people only, said so in the report
    fitted = evaluate_synthetic(run, data, device=infer_device, baselines=["refine", "fit"],
                                max_identities=FITTED_PEOPLE, write_verification=False)
    write_results(fitted, out / "evaluation_fitted.json")
    trained = load_trained(run, device=infer_device)

    log("4/5 reconstruction, expression transfer and verification on held-out photos")
    test = load_dataset(data).filter(split="test")
    rec_rows = pick_reconstructions(test.rows)
    rec = reconstruct([data / r.image for r in rec_rows], None, out / "reconstruct", aligned=True,
                      trained=trained, progress=progress, log=log,
                      truths={data / r.image: test.load_true_mesh(r).numpy() for r in rec_rows})
    src, tgts = pick_transfer(test.rows)
    tr = transfer(data / src.image, [data / r.image for r in tgts], None, out / "transfer", meshes=True,
                  aligned=True, trained=trained, log=log)
    verifications = _verifications(trained, test, out, log)

    log("5/5 writing the report")
    loss_png = loss_curves(metrics_path(run), out / "losses.png")
    panels = [p.with_name(p.stem + "_panel.png") for p in rec.written]
    overlays = [p.with_name(p.stem + "_overlay.png") for p in rec.written]
    counts = load_dataset(data).meta.counts
    facts = {
        "steps": summary.steps, "stage": summary.stage, "train_minutes": summary.seconds / 60.0,
        "summary": (f"Data: {counts.get('identities')} synthetic identities, {counts.get('photos')} photos "
                    f"({counts.get('train')} train / {counts.get('test')} held-out test photos, "
                    f"{counts.get('labeled')} labeled), generated in {t_synth:.0f} s. Training: demo preset, "
                    f"{summary.steps} steps (stage {summary.stage}, stopped by {summary.stopped_by}) in "
                    f"{t_train / 60:.1f} min on {trained.device}. Checkpoint: {trained.checkpoint}"
                    + (f" (step {trained.step}: the best of the run's validations on held-out training people, "
                       "the start included; RUN/validation.json)." if summary.selected is not None else ".")),
        "commands": (f"photoface demo --out {out} --minutes {minutes:g}\n"
                     f"photoface reconstruct {data}/images/<id> --aligned --checkpoint {run} --out DIR\n"
                     f"photoface transfer SOURCE.png TARGET.png ... --aligned --checkpoint {run} --out DIR\n"
                     f"photoface verify A B --aligned --checkpoint {run}"),
    }
    report = write_report(ReportInputs(
        out_dir=out, run_dir=run, evaluation=evaluation, facts=facts, panels=panels, overlays=overlays,
        transfer_grid=tr.grid, verifications=verifications, loss_png=loss_png, fitted=fitted,
        views=[v for v in (rec.view, tr.view) if v is not None],
    ))
    # a 256-colour palette keeps the picture small enough for docs/ (< 300 KB)
    overview = Image.fromarray(overview_image(panels, tr.grid, loss_png)).quantize(256, dither=Image.Dither.NONE)
    overview.save(out / "report_overview.png", optimize=True)
    log(f"done in {(time.monotonic() - t0) / 60:.1f} min: {report}")
    return report


def write_docs_figures(demo_dir: str | Path, docs_dir: str | Path = "docs") -> list[Path]:
    """Copy a finished demo's pictures into docs/: report_example.png (the overview),
    demo_transfer.png and demo_losses.png."""
    demo_dir, docs_dir = Path(demo_dir), Path(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    pairs = [("report_overview.png", "report_example.png"), ("transfer/transfer.png", "demo_transfer.png"),
             ("losses.png", "demo_losses.png")]
    written = []
    for src, dst in pairs:
        if (demo_dir / src).is_file():
            shutil.copyfile(demo_dir / src, docs_dir / dst)
            written.append(docs_dir / dst)
    return written


if __name__ == "__main__":
    for p in write_docs_figures(sys.argv[1] if len(sys.argv) > 1 else "demo_out",
                                sys.argv[2] if len(sys.argv) > 2 else "docs"):
        print(p)
