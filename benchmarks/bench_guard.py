"""The training guard, measured: every checkpoint of a run scored on the test people, next to its
validation numbers and the checkpoint the run selected (docs/training.md, "The training guard").

For each run folder and each of its checkpoint files (``step_*.pt``; keep them with
``--set schedule.keep_checkpoints=100``), the identity codes' verification EER over every pair of
the test split's photos and the mean per-vertex shape error after a similarity alignment against
their true meshes (the cheap metrics of the validation, ``photoface.train.validation.Validator``,
here on the test people, whom training and validation never see). Rows are marked ``selected``
(what ``best.pt`` links to, what the apps and ``export`` read) and ``last``. The official numbers
of the final weights come from ``photoface evaluate synthetic --checkpoint RUN``.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/bench_guard.py RUN [RUN ...] --data DIR \\
          --out guard.json --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import set_threads  # noqa: E402


def score_run(run: Path, data: Path) -> list[dict]:
    """One dict per checkpoint file of ``run``: step, stage, test EER and shape mm, validation
    numbers where the run was validated, selected / last marks."""
    from photoface.data.format import load_dataset
    from photoface.data.torch_dataset import PhotoDataset
    from photoface.run.inference import load_trained
    from photoface.run.layout import best_checkpoint, checkpoint_dir, last_checkpoint, validation_path
    from photoface.train.validation import Validator

    folder = checkpoint_dir(run)
    files = sorted(folder.glob("step_*.pt"))
    best, last = best_checkpoint(run), last_checkpoint(run)
    validation = {}
    if validation_path(run).is_file():
        validation = {r["step"]: r for r in json.loads(validation_path(run).read_text())["records"]}
    test = None
    rows = []
    for f in files:
        trained = load_trained(f)
        if test is None:
            ds = PhotoDataset([load_dataset(data)], "test", trained.face_model.n_id, trained.face_model.n_exp,
                              trained.image_size)
            test = Validator(ds, trained.face_model)
        row = {"run": run.name, "step": trained.step, "stage": trained.stage,
               **{f"test_{k}": v for k, v in test(trained.net).items()},
               "selected": best is not None and os.path.samefile(f, best),
               "last": last is not None and os.path.samefile(f, last)}
        if trained.step in validation:
            row.update({f"val_{k}": validation[trained.step].get(k) for k in ("eer", "shape_mm")})
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the synthetic collection the runs trained on")
    parser.add_argument("--out", type=Path, help="write the rows here as JSON")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = [r for run in args.runs for r in score_run(run, args.data)]
    print(f"{'run':<12} {'step':>5} {'stage':>5} {'test EER':>9} {'test mm':>8} {'val EER':>8} {'val mm':>7}")
    for r in rows:
        val = (f"{r['val_eer']:>8.3f} {r['val_shape_mm']:>7.3f}" if r.get("val_eer") is not None
               else f"{'':>8} {'':>7}")
        marks = " ".join(m for m in ("selected", "last") if r[m])
        print(f"{r['run']:<12} {r['step']:>5} {r['stage']:>5} {r['test_eer']:>9.3f} {r['test_shape_mm']:>8.3f} {val} "
              f"{marks}")
    if args.out:
        from photoface.jsonfile import write_json

        write_json(args.out, rows)


if __name__ == "__main__":
    main()
