"""``photoface train``, ``train-report`` and ``export``: train the networks, judge a run, share it.

Each handler imports its library lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``photoface train``, ``train-report`` and ``export`` on the top-level sub-parsers ``sub``."""
    p = sub.add_parser(
        "train",
        help="train the face networks on prepared datasets (two stages, checkpoints, --resume)",
        description="Semi-supervised training on one or more prepared datasets. Writes RUN/config.yaml, "
        "RUN/checkpoints/, RUN/metrics.jsonl and TensorBoard logs in RUN/tb. Ctrl-C or SIGTERM saves a "
        "checkpoint first. For several processes: torchrun --nproc_per_node N -m photoface.cli train ...",
    )
    p.add_argument("--preset", choices=("demo", "paper"), default=None,
                   help="config preset (default demo; with --resume, the run's own config)")
    p.add_argument("--data", nargs="+", metavar="DIR", default=None,
                   help="prepared dataset folder(s) (with --resume, default: the run's own)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN from its last checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (YAML syntax), e.g. --set loss.adversarial=0; repeatable")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.set_defaults(handler=run_train)

    r = sub.add_parser(
        "train-report",
        help="numbers that show whether a run learned: loss trends, identity clustering, held-out shape error",
        description="Reads RUN/metrics.jsonl and every kept checkpoint of RUN; on a prepared dataset with "
        "true meshes (e.g. from photoface synth) reports, per checkpoint, the ratio of intra- to "
        "inter-identity cosine distance of identity codes, the aligned shape error on test identities "
        "next to the mean face's, and how far the decoded shapes spread (0: every photo gets one face).",
    )
    r.add_argument("run", metavar="RUN", help="run folder")
    r.add_argument("--data", required=True, metavar="DIR", help="prepared dataset with true meshes")
    r.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    r.add_argument("--steps", metavar="LIST", help="comma-separated steps of the checkpoints to score "
                   "(default: every kept checkpoint)")
    r.set_defaults(handler=run_report)

    e = sub.add_parser(
        "export",
        help="write a run's network as one small inference file (weights + network arguments) to share",
        description="Writes the FaceNet weights of RUN (the checkpoint its validation selected, else its last; "
        "or the checkpoint file given) with the network arguments, the face model's name and hash, the "
        "training config and the verification calibration. reconstruct, fit, transfer, verify and evaluate "
        "accept the file in place of a run. "
        "No optimiser, critic or RNG state: a fraction of a training checkpoint's size.",
    )
    e.add_argument("run", metavar="RUN", help="run folder or training checkpoint")
    e.add_argument("-o", "--out", required=True, metavar="MODEL.pt", help="the model file to write")
    e.add_argument("--half", action="store_true", help="store the weights as float16 (half the size)")
    e.set_defaults(handler=run_export)


def run_train(args: argparse.Namespace) -> int:
    """``train``: train (or resume) a run, print its summary; the exit code is the summary's."""
    from photoface.train import resolve_run_config, train

    cfg, data = resolve_run_config(args.out, preset=args.preset, data_dirs=args.data, resume=args.resume,
                                   overrides=args.overrides, max_steps=args.max_steps)
    summary = train(cfg, data, args.out, resume=args.resume, progress=not args.no_progress)
    print(summary.describe())
    return summary.exit_code


def run_report(args: argparse.Namespace) -> int:
    """``train-report``: print the run's learning numbers, and write them as JSON with ``--json``."""
    from photoface.evaluate.training_report import format_report, training_report
    from photoface.jsonfile import write_json

    steps = None if args.steps is None else [int(x) for x in args.steps.split(",") if x.strip()]
    report = training_report(args.run, args.data, steps=steps)
    print(format_report(report))
    if args.json:
        write_json(args.json, report, indent=2)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``export``: write the inference file of a run and print its path and size."""
    from photoface.run.export import export_model

    path = export_model(args.run, args.out, half=args.half)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0
