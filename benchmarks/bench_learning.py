"""The learning ladder: does training learn, rung by rung, each number printed next to its target.

Rungs (issue 13; results in docs/training.md):

1. **overfit** — one fixed batch of 16 labeled training photos, ``--overfit-steps`` (300) Adam
   steps on the shape loss alone (eq. 7, the preset's encoder and decoders, no rendering). Target:
   mean vertex distance to the photos' label shapes < 0.3 mm, measured in eval mode. Missing it
   means a bug, not a budget problem.
2. **supervised** — every photo labeled (``synth --labeled-fraction 1``), only the shape loss
   (``loss.*=0`` for every other term), batches of 8 labeled pairs, ``--minutes`` of training,
   then the synthetic benchmark on the held-out identities: per-photo and identity-averaged error
   against the mean face's. This is the encoder's upper bound for the budget.
3. **full** — the preset as it is, labeled fraction 0.2, all losses, the same budget; scored with
   the mean-face and landmark-fit baselines. Targets: the issue's demo targets (identity-averaged
   and per-photo ≤ 0.9 × mean face, NME ≤ 4 %, EER ≤ 0.2).
4. **ablations** — full, w/o L_adv, w/o L_recog, each ``--ablation-minutes`` (the issue asks for
   60), on the rung-3 data; reports the identity-averaged error of each (the paper's Table 2 has
   full < w/o L_adv < w/o L_recog). ``--ablations`` picks a subset, so that the three can run as
   parallel processes (one thread each) sharing ``--out``; each merges its numbers into
   ``ladder.json``.

Data: two collections of the built-in demo model generated into ``OUT/data_*`` (``--identities``
× ``--photos``; the same seed, so the same people and photos, differing only in which photos are
labeled), or ``--data DIR``, an existing collection, for rungs 1, 3 and 4 (e.g. the demo's). Every
run is a normal run folder under ``OUT``; results go to ``OUT/ladder.json``.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/bench_learning.py --out /tmp/ladder --rungs 1,2,3 \\
          --minutes 10 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

from photoface.jsonfile import write_json  # noqa: E402
from timing import machine_summary, set_threads  # noqa: E402

OVERFIT_TARGET_MM = 0.3
SHAPE_ONLY = tuple(f"loss.{k}=0" for k in ("recognition", "center", "photometric", "landmark", "pairwise_shape",
                                            "smooth", "albedo_symmetry", "adversarial"))
# Every photo of rung 2 is labeled, so its batches are labeled pairs only: 8 pairs, the 16 photos
# of the preset's hybrid batch (4 people × 3 unlabeled photos + 2 labeled pairs).
SUPERVISED_BATCHES = ("data.identities_per_batch=0", "data.labeled_pairs=8")
ABLATIONS = {"full": (), "no_adv": ("loss.adversarial=0",), "no_recog": ("loss.recognition=0", "loss.center=0")}


def _say(text: str) -> None:
    print(text, flush=True)


def synth_data(out: Path, identities: int, photos: int, labeled: float, seed: int, workers: int) -> Path:
    from photoface.data.synth import synthesize

    folder = out / f"data_{identities}x{photos}_l{labeled:g}_s{seed}"
    synthesize("builtin:demo", identities, photos, folder, labeled_fraction=labeled, size=128, seed=seed,
               workers=workers, progress=False)
    return folder


def overfit(cfg, data: Path, steps: int, batch: int = 16, log=_say) -> dict:
    """Rung 1 (module docstring): returns {"steps", "first_mm", "final_mm", "seconds"}."""
    from photoface import losses as L
    from photoface.data.format import load_dataset
    from photoface.data.torch_dataset import PhotoDataset
    from photoface.train.build import build_parts

    torch.manual_seed(cfg.schedule.seed)
    parts = build_parts(cfg, torch.device("cpu"))
    fm, net = parts.face_model, parts.net
    ds = PhotoDataset([load_dataset(data)], "train", fm.n_id, fm.n_exp, cfg.model.image_size)
    rows = [i for i, lab in enumerate(ds.labeled) if lab][:batch]
    if len(rows) < batch:
        raise SystemExit(f"{data}: only {len(rows)} labeled training photos, the overfit rung needs {batch}")
    items = torch.utils.data.default_collate([ds[i] for i in rows])
    target = fm.shape(items["alpha_id"], items["alpha_exp"])
    params = [p for n, p in net.named_parameters() if not n.startswith(("albedo_decoder.", "albedo_cnn."))]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr_generator)

    def error() -> float:
        net.eval()
        with torch.no_grad():
            out = net(items["image"], render=False, landmarks=items["landmarks"])
        net.train()
        return float((out.shape - target).norm(dim=-1).mean())

    first = error()
    t0 = time.monotonic()
    for step in range(steps):
        out = net(items["image"], render=False, landmarks=items["landmarks"])
        loss = L.shape_loss(out.shape, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % max(1, steps // 6) == 0:
            log(f"  overfit step {step + 1}/{steps}: shape loss {float(loss.detach()):.3f}")
    return {"steps": steps, "first_mm": first, "final_mm": error(), "seconds": time.monotonic() - t0}


def train_and_score(name: str, out: Path, data: Path, minutes: float, overrides, baselines, threads: int,
                    max_steps: int | None, log=_say) -> dict:
    """Train the demo preset with ``overrides`` for ``minutes`` into OUT/name and score it."""
    from photoface.evaluate.synthetic import evaluate_synthetic
    from photoface.run.layout import last_checkpoint
    from photoface.run.resolve import resolve_run_config
    from photoface.train import train

    run = out / name
    if last_checkpoint(run) is None:
        sets = [f"schedule.time_limit_minutes={float(minutes)}", f"schedule.threads={threads}", *overrides]
        cfg, dirs = resolve_run_config(run, preset="demo", data_dirs=[str(data)], overrides=sets, max_steps=max_steps)
        summary = train(cfg, dirs, run, progress=False)
        log(f"  {name}: {summary.describe()}")
    else:
        log(f"  {name}: scoring the existing run in {run}")
    ev = evaluate_synthetic(run, data, baselines=baselines, write_verification=False)
    write_json(run / "eval_synthetic.json", ev)
    return ev


def _pooled(by_setting: dict) -> dict:
    from photoface.apps.report_html import pooled

    return pooled(by_setting) or {}


def headline(ev: dict) -> dict:
    """Pooled (over settings) numbers of the model and the baselines in a benchmark result."""
    out = {}
    for method in ("model", "mean_face", "landmark_fit"):
        r = ev.get(method)
        if not r:
            continue
        entry = {"identity_mm": _pooled(r["shape_mm"]["identity"]), "photo_mm": _pooled(r["photo_mm"])}
        if r.get("landmark_nme"):
            entry["nme"] = _pooled(r["landmark_nme"])
        if r.get("verification"):
            entry["eer"] = r["verification"]["eer"]
        out[method] = entry
    return out


def _fmt(s: dict, scale: float = 1.0) -> str:
    if not s:
        return "–"
    return f"{scale * s['mean']:.3f} ± {scale * s.get('sem', float('nan')):.3f} (SE)"


def report_scored(rung: str, h: dict) -> list[str]:
    m, b = h["model"], h["mean_face"]
    lines = []
    for key, label in (("identity_mm", "identity-averaged mm"), ("photo_mm", "per-photo mm")):
        ratio = m[key]["mean"] / b[key]["mean"]
        line = f"rung {rung}: {label} {_fmt(m[key])} vs mean face {_fmt(b[key])} = {ratio:.3f} × (target ≤ 0.9)"
        if "landmark_fit" in h:
            line += f"; landmark fit {_fmt(h['landmark_fit'][key])}"
        lines.append(line)
    if "nme" in m:
        lines.append(f"rung {rung}: landmark NME {100 * m['nme']['mean']:.2f} % (target ≤ 4 %)")
    if "eer" in m:
        lines.append(f"rung {rung}: verification EER {m['eer']:.3f} (target ≤ 0.2)")
    return lines


def merge_results(path: Path, results: dict) -> dict:
    """Write ``results`` into the JSON file ``path``, keeping what is there and not in ``results``
    (another process of this benchmark may have written other rungs or ablations since this one
    read it); rung 4's ablations merge by name. Written through a temporary file, so a reader never
    sees half a file. Returns what was written."""
    merged = json.loads(path.read_text()) if path.is_file() else {}
    for key, value in results.items():
        if key == "rung4":
            merged.setdefault("rung4", {}).update(value)
        else:
            merged[key] = value
    write_json(path, merged)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rungs", default="1,2,3", help="comma-separated subset of 1,2,3,4")
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overfit-steps", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget of rungs 2 and 3")
    parser.add_argument("--ablation-minutes", type=float, default=60.0)
    parser.add_argument("--ablations", default=",".join(ABLATIONS),
                        help=f"comma-separated subset of {','.join(ABLATIONS)} for rung 4 (parallel processes may "
                             "share --out: each merges its results into ladder.json)")
    parser.add_argument("--data", type=Path, default=None,
                        help="an existing collection for rungs 1, 3 and 4 instead of the generated one")
    parser.add_argument("--max-steps", type=int, default=None, help="also cap rungs 2-4 at this many steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="extra config override")
    args = parser.parse_args()

    from photoface.run.config import preset
    from photoface.run.config_parse import apply_overrides

    set_threads(args.threads)
    rungs = {int(r) for r in args.rungs.split(",") if r.strip()}
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "ladder.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results["machine"] = machine_summary()
    workers = max(1, args.threads)
    lines: list[str] = []

    def save() -> None:
        merge_results(results_path, results)

    ablations = [a for a in args.ablations.split(",") if a.strip()]
    unknown = sorted(set(ablations) - set(ABLATIONS))
    if unknown:
        parser.error(f"--ablations: unknown {', '.join(unknown)} (choose from {', '.join(ABLATIONS)})")
    if args.data is not None:
        partial = args.data
    else:
        partial = synth_data(args.out, args.identities, args.photos, 0.2, args.seed, workers) if rungs & {1, 3, 4} else None
    if 1 in rungs:
        _say("rung 1: overfit one batch of 16 photos")
        cfg = apply_overrides(preset("demo"), args.overrides)
        r = overfit(cfg, partial, args.overfit_steps)
        results["rung1"] = r
        lines.append(f"rung 1: shape error on the batch {r['final_mm']:.3f} mm after {r['steps']} steps "
                     f"(from {r['first_mm']:.2f} mm; target < {OVERFIT_TARGET_MM} mm) "
                     f"{'PASS' if r['final_mm'] < OVERFIT_TARGET_MM else 'FAIL'}")
        _say(lines[-1])
        save()
    if 2 in rungs:
        _say(f"rung 2: supervised only, {args.minutes:g} min")
        full = synth_data(args.out, args.identities, args.photos, 1.0, args.seed, workers)
        ev = train_and_score("rung2_supervised", args.out, full, args.minutes,
                             [*SHAPE_ONLY, *SUPERVISED_BATCHES, *args.overrides],
                             ["mean_face"], args.threads, args.max_steps)
        results["rung2"] = {"minutes": args.minutes, **headline(ev), "step": ev["meta"]["step"]}
        lines += report_scored("2", results["rung2"])
        _say("\n".join(lines[-4:]))
        save()
    if 3 in rungs:
        _say(f"rung 3: the full method, {args.minutes:g} min")
        ev = train_and_score("rung3_full", args.out, partial, args.minutes, args.overrides,
                             ["mean_face", "landmark_fit"], args.threads, args.max_steps)
        results["rung3"] = {"minutes": args.minutes, **headline(ev), "step": ev["meta"]["step"]}
        lines += report_scored("3", results["rung3"])
        _say("\n".join(lines[-4:]))
        save()
    if 4 in rungs:
        results["rung4"] = {}
        for name in ablations:
            extra = ABLATIONS[name]
            _say(f"rung 4: {name}, {args.ablation_minutes:g} min")
            ev = train_and_score(f"rung4_{name}", args.out, partial, args.ablation_minutes,
                                 [*extra, *args.overrides], ["mean_face"], args.threads, args.max_steps)
            results["rung4"][name] = {"minutes": args.ablation_minutes, **headline(ev), "step": ev["meta"]["step"]}
            m = results["rung4"][name]["model"]["identity_mm"]
            lines.append(f"rung 4: {name} identity-averaged {_fmt(m)} mm")
            _say(lines[-1])
            save()
        done = json.loads(results_path.read_text())["rung4"]
        if set(done) >= set(ABLATIONS):
            order = sorted(ABLATIONS, key=lambda n: done[n]["model"]["identity_mm"]["mean"])
            lines.append(f"rung 4: measured order {' < '.join(order)} (paper: full < no_adv < no_recog)")
    _say("\n".join(["", "== learning ladder =="] + lines))


if __name__ == "__main__":
    main()
