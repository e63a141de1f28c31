"""``photoface evaluate synthetic|micc|aflw2000|landmarks|now|meshes|identity|ablation|face-space|crossmodel``: benchmarks → JSON + Markdown.

Each handler imports its runner lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse

from photoface.cli.data import DEFAULT_DETECTOR, DETECTORS

LANDMARK_METHODS = ("default", "mediapipe", "dlib", "fit")  # photoface.evaluate.landmark_methods.METHODS


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``photoface evaluate`` and its benchmarks on the top-level sub-parsers ``sub``."""
    ev = sub.add_parser("evaluate", help="benchmarks: synthetic ground truth, MICC Florence, AFLW2000-3D, NoW, any "
                        "method's meshes, real-photo identity, ablation, face-space, crossmodel",
                        description="Each benchmark writes FILE.json and FILE.md next to it (docs/evaluation.md).")
    esub = ev.add_subparsers(dest="evaluate_command", metavar="BENCHMARK")

    p = esub.add_parser("synthetic", help="held-out synthetic identities with true shapes (photoface synth)")
    _common_options(p, "synthetic prepared dataset with test identities", checkpoint_required=False)
    p.add_argument("--model", metavar="MODEL", help="face model without --checkpoint (default: the dataset's)")
    p.add_argument("--set", dest="fit_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="FitConfig override for the fit / fit_single / refine methods; repeatable")
    p.add_argument("--max-photos", type=int, metavar="N", help="at most N photos per identity and setting")
    p.add_argument("--modes", default="identity", metavar="LIST",
                   help="identity and/or three_views, comma-separated (default identity)")
    p.add_argument("--neutral", choices=("zero", "mean"), default="zero",
                   help="the network's neutral expression code (default zero)")
    p.add_argument("--no-verification-file", action="store_true", help="do not write RUN/verification.json")
    p.set_defaults(handler=synthetic)

    p = esub.add_parser("micc", help="MICC Florence: videos against 3D scans, Table 1 layout")
    _common_options(p, "MICC Florence root (subject_* folders)")
    p.add_argument("--max-photos", type=int, default=30, metavar="N",
                   help="frames sampled evenly from each video (default 30)")
    p.add_argument("--modes", default="identity,three_views", metavar="LIST",
                   help="identity and/or three_views (default both)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector: mediapipe (default; dlib where it finds no face), dlib, auto, hog, cnn")
    p.add_argument("--max-subjects", type=int, metavar="K", help="only the first K subjects")
    p.set_defaults(handler=micc)

    p = esub.add_parser("aflw2000", help="AFLW2000-3D: 68-landmark NME per yaw bin")
    _common_options(p, "AFLW2000-3D folder (imageNNNNN.jpg + .mat)", baselines=False)
    p.add_argument("--max-photos", type=int, metavar="N", help="only the first N images")
    p.add_argument("--crop", choices=("box", "landmarks", "detector"), default="box",
                   help="how images are cropped for the network (default box; see docs/evaluation.md)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector of --crop detector: mediapipe (default; dlib where it finds no face), "
                        "dlib, auto, hog, cnn")
    p.set_defaults(handler=aflw2000)

    p = esub.add_parser("landmarks", help="photoface's detectors and fit against true 68 landmarks (AFLW2000-3D, "
                        "300-W .pts): NME per yaw bin, faces missed, ms per photo",
                        description="DATA: an AFLW2000-3D folder (imageNNNNN.jpg + .mat) or a 300-W style folder "
                        "(images + iBUG .pts files). Writes FILE.json, FILE.md and FILE.tsv (per photo); "
                        "protocol, face choice and 'missed' in docs/evaluation.md.")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--method", default=",".join(LANDMARK_METHODS), metavar="LIST",
                   help="comma-separated: default (prepare's: MediaPipe, dlib where it finds no face), mediapipe, "
                   "dlib, fit (the single-photo fit's projected 3-D landmarks); default all four")
    p.add_argument("--max-photos", type=int, metavar="N", help="only the first N photos (sorted by name)")
    p.add_argument("--model", default="builtin:demo", metavar="MODEL", help="face model of --method fit "
                   "(default builtin:demo)")
    p.add_argument("--size", type=int, default=128, metavar="PX", help="crop size of --method fit (default 128, "
                   "as photoface fit)")
    p.add_argument("--set", dest="fit_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="FitConfig override for --method fit; repeatable")
    p.add_argument("--out", metavar="FILE.json", help="results file (default DATA/eval_landmarks.json)")
    p.add_argument("--quiet", action="store_true", help="no line per photo")
    p.set_defaults(handler=landmarks)

    p = esub.add_parser("now", help="NoW: scan-to-mesh error of predicted meshes (the challenge's protocol)",
                        description="PRED_DIR holds <subject>/<challenge>/<image>.obj (or .ply) with <image>.npy or "
                        ".txt (7 landmarks), the challenge's submission layout (docs/evaluation.md, 'NoW').")
    p.add_argument("predictions", metavar="PRED_DIR")
    p.add_argument("--data", metavar="NOW_ROOT", help="NoW root: imagepaths*.txt, scans/, scans_lmks_onlypp/")
    p.add_argument("--image-set", choices=("val", "test"), default="val", help="image list under NOW_ROOT")
    p.add_argument("--image-list", metavar="FILE", help="image list (instead of NOW_ROOT's)")
    p.add_argument("--scans", metavar="DIR", help="scans folder (default NOW_ROOT/scans)")
    p.add_argument("--scan-landmarks", metavar="DIR", help=".pp folder (default NOW_ROOT/scans_lmks_onlypp)")
    p.add_argument("--challenge", default="", choices=("", "multiview_neutral", "multiview_expressions",
                                                       "multiview_occlusions", "selfie"),
                   help="score one challenge only (default all)")
    p.add_argument("--mode", choices=("single-image", "multi-image"), default="single-image",
                   help="how the predictions were made: a label carried into the results")
    p.add_argument("--out", metavar="FILE.json", help="results (default PRED_DIR/eval_now.json) and FILE.md")
    p.add_argument("--quiet", action="store_true", help="no line per image")
    p.set_defaults(handler=now)

    p = esub.add_parser("meshes", help="score any method's meshes (DECA, MICA, BFM or FLAME topology, ...) "
                        "with the MICC, NoW or synthetic-truth protocol",
                        description="Layouts and landmark sources: docs/evaluation.md, 'Scoring any method's meshes'.")
    p.add_argument("predictions", metavar="PRED_DIR")
    p.add_argument("--truth", required=True, metavar="DIR", help="NoW root, MICC root or photoface synth dataset")
    p.add_argument("--protocol", required=True, choices=("micc", "now", "synthetic"))
    p.add_argument("--topology", metavar="SPEC",
                   help="landmarks of meshes without a landmark file: MODEL.npz, flame:EMBEDDING or indices:FILE")
    p.add_argument("--image-set", choices=("val", "test"), default="val", help="NoW image list")
    p.add_argument("--mode", choices=("single-image", "multi-image"), default="single-image",
                   help="how the predictions were made: a label carried into the results")
    p.add_argument("--out", metavar="FILE.json", help="results (default PRED_DIR/eval_meshes_<protocol>.json) and .md")
    p.add_argument("--quiet", action="store_true", help="no line per mesh")
    p.set_defaults(handler=meshes)

    p = esub.add_parser("identity", help="per-photo identities on real person folders: EER, TAR@FAR, shape spread",
                        description="PHOTOS is a folder of person folders (no 3D truth needed). Each photo gets an "
                        "identity on its own; all pairs are scored (EER, TAR@FAR 0.1 and 0.01) and the identity "
                        "meshes compared (mean distance within and between people, mm). docs/evaluation.md.")
    p.add_argument("photos", metavar="PHOTOS")
    p.add_argument("--checkpoint", metavar="RUN", help="trained run (needed by --method network)")
    p.add_argument("--method", default=None, metavar="LIST",
                   help="comma-separated: network, fit (each photo fitted alone), pixels (24x24 grey baseline); "
                   "default network,pixels with --checkpoint, else fit,pixels")
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="face model of --method fit (default the checkpoint's, else builtin:demo)")
    p.add_argument("--size", type=int, default=128, metavar="PX", help="crop size without --checkpoint (default 128)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector: mediapipe (default; dlib where it finds no face), dlib, auto, hog, cnn")
    p.add_argument("--set", dest="fit_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="FitConfig override for --method fit; repeatable")
    p.add_argument("--out", metavar="FILE.json",
                   help="results file (default RUN/eval_identity.json, or ./eval_identity.json without a run)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=identity)

    p = esub.add_parser("ablation", help="train the paper's ablations (and shape supervision only), Table 2")
    p.add_argument("--data", required=True, metavar="DIR", help="synthetic prepared dataset (train + test)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the runs and ablation.json/.md")
    p.add_argument("--minutes-per-variant", type=float, default=None, metavar="M",
                   help="training time per variant (default: the preset's)")
    p.add_argument("--steps-per-variant", type=int, default=None, metavar="N", help="training steps per variant")
    p.add_argument("--variants", default=None, metavar="LIST",
                   help="comma-separated subset of full,no_recog,no_adv,laplacian,shape_supervised")
    p.add_argument("--preset", choices=("demo", "paper"), default="demo")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override applied to every variant; repeatable")
    p.add_argument("--max-photos", type=int, metavar="N", help="evaluation: at most N photos per identity and setting")
    p.set_defaults(handler=ablation)

    p = esub.add_parser("face-space", help="how human is a face model: its faces against a reference model's faces",
                        description="Samples N neutral identities of the reference (coefficients N(0, 1)) and scores, "
                        "with the 95 mm / 68-landmark / rigid then similarity ICP protocol, the reference's own mean "
                        "face, the model's mean face and the model's identity space registered in 3D to each face "
                        "(ICP + ridge: the floor of any reconstruction). Writes OUT/face_space.json, .md and "
                        "face_space_errors.png (docs/evaluation.md).")
    p.add_argument("--reference", required=True, metavar="REF",
                   help="the reference face model: .npz (e.g. a real-scan model imported by model import-ict) "
                        "or builtin:demo / builtin:paper")
    p.add_argument("--model", default="builtin:demo", metavar="MODEL",
                   help="the face model under test: .npz or builtin:demo / builtin:paper (default builtin:demo)")
    p.add_argument("--identities", type=int, default=20, metavar="N", help="reference identities (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the identities' draw (default 0)")
    p.add_argument("--ridge", type=float, default=None, metavar="LAMBDA",
                   help="ridge weight of the registration floor (default 1e-2, see docs/evaluation.md)")
    p.add_argument("--out", default="face_space", metavar="DIR", help="output folder (default ./face_space)")
    p.add_argument("--quiet", action="store_true", help="no line per identity")
    p.set_defaults(handler=face_space)

    p = esub.add_parser("crossmodel", help="fit a face model to photos of a reference model's faces (photoface fit)",
                        description="DIR is a synthetic benchmark made from the reference (photoface synth --model "
                        "REF.npz --test-fraction Q). Fits --fit-model to each held-out person's photos and scores the "
                        "posed meshes per photo and the neutral identity mesh per person against the true meshes "
                        "with the face-space protocol, next to both models' mean faces (docs/evaluation.md).")
    p.add_argument("--data", required=True, metavar="DIR", help="synthetic benchmark made from --reference")
    p.add_argument("--reference", required=True, metavar="REF", help="the face model the dataset was made from")
    p.add_argument("--fit-model", default="builtin:demo", metavar="MODEL",
                   help="the face model fitted: .npz or builtin:demo / builtin:paper (default builtin:demo)")
    p.add_argument("--max-identities", type=int, metavar="N", help="only the first N held-out people")
    p.add_argument("--max-photos", type=int, metavar="N", help="at most N photos per person and setting")
    p.add_argument("--set", dest="fit_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="FitConfig override of the fit; repeatable")
    p.add_argument("--landmarks", choices=("truth", "detected"), default="truth",
                   help="what the fit is given: the dataset's true landmarks (default; the reference's own 68 "
                        "points) or the photos' detections, prepared and fitted as photoface fit does")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector of --landmarks detected: mediapipe (default; dlib where it finds no face), "
                        "dlib, auto, hog, cnn")
    p.add_argument("--out", metavar="FILE.json", help="results file (default DIR/eval_crossmodel.json)")
    p.add_argument("--quiet", action="store_true", help="no line per person")
    p.set_defaults(handler=crossmodel)
    # Bare ``photoface evaluate`` shows the benchmarks and exits 2, like a usage error.
    ev.set_defaults(handler=lambda args: ev.print_help() or 2)


def _common_options(p: argparse.ArgumentParser, data_help: str, baselines: bool = True,
                    checkpoint_required: bool = True) -> None:
    """Options every checkpoint benchmark shares; ``data_help`` describes its ``--data`` folder."""
    p.add_argument("--checkpoint", required=checkpoint_required, metavar="RUN",
                   help="run folder or checkpoint file" + ("" if checkpoint_required else
                                                           " (optional: without one only the baselines are scored)"))
    p.add_argument("--data", required=True, metavar="DIR", help=data_help)
    p.add_argument("--out", metavar="FILE.json", help="results file (default RUN/eval_<benchmark>.json)")
    if baselines:
        p.add_argument("--baselines", default="mean_face,landmark_fit", metavar="LIST",
                       help="comma-separated: mean_face, landmark_fit, or 'none' (default both); the synthetic "
                            "benchmark also takes fit and fit_single (photoface.fit, minutes) and refine (the "
                            "checkpoint's predictions refined per person, next to its own row)")
    p.add_argument("--shape-supervised", metavar="RUN2", help="a run trained with only the shape losses")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--batch-size", type=int, default=32)


def _baselines(args: argparse.Namespace) -> list[str]:
    """The ``--baselines`` list; empty for 'none', an empty string, or a benchmark without the option."""
    text = getattr(args, "baselines", "none")
    return [] if text.strip().lower() in ("", "none") else [b.strip() for b in text.split(",") if b.strip()]


def _modes(args: argparse.Namespace) -> list[str]:
    """The ``--modes`` list."""
    return [m.strip() for m in args.modes.split(",") if m.strip()]


def _finish(args: argparse.Namespace, results: dict, kind: str) -> int:
    """Write ``results`` to ``--out`` (default RUN/eval_<kind>.json) and its Markdown twin; print both paths."""
    from pathlib import Path

    from photoface.evaluate.results_files import write_results

    folder = results["meta"]["run"] or results["meta"]["dataset"]  # no checkpoint: next to the data
    out = args.out or str(Path(folder) / f"eval_{kind}.json")
    paths = write_results(results, out)
    print(f"wrote {paths[0]} and {paths[1]} ({results['meta'].get('seconds', 0):.0f} s)")
    return 0


def synthetic(args: argparse.Namespace) -> int:
    """``evaluate synthetic``: held-out synthetic identities against their true shapes."""
    from photoface.evaluate.synthetic import evaluate_synthetic
    from photoface.fit.config import FitConfig, apply_overrides

    fit_config = apply_overrides(FitConfig(), args.fit_overrides)
    res = evaluate_synthetic(args.checkpoint, args.data, face_model=args.model, fit_config=fit_config,
                             baselines=_baselines(args),
                             shape_supervised=args.shape_supervised, max_photos=args.max_photos,
                             modes=_modes(args), neutral=args.neutral, device=args.device,
                             batch_size=args.batch_size, write_verification=not args.no_verification_file)
    return _finish(args, res, "synthetic")


def micc(args: argparse.Namespace) -> int:
    """``evaluate micc``: MICC Florence videos against their 3D scans."""
    from photoface.evaluate.micc_runner import evaluate_micc

    res = evaluate_micc(args.checkpoint, args.data, baselines=_baselines(args), shape_supervised=args.shape_supervised,
                        max_frames=args.max_photos, modes=_modes(args), detector=args.detector,
                        max_subjects=args.max_subjects, device=args.device, batch_size=args.batch_size)
    return _finish(args, res, "micc")


def now(args: argparse.Namespace) -> int:
    """``evaluate now``: the NoW protocol on a folder of predictions."""
    import sys
    from pathlib import Path

    from photoface.evaluate.now import evaluate_now
    from photoface.evaluate.results_files import write_results

    res = evaluate_now(args.predictions, args.data, image_list=args.image_list, image_set=args.image_set,
                       scans=args.scans, scan_landmarks=args.scan_landmarks, challenge=args.challenge,
                       mode=args.mode, log=None if args.quiet else lambda m: print(m, file=sys.stderr))
    paths = write_results(res, args.out or Path(args.predictions) / "eval_now.json")
    p = res["pooled"]
    print(f"NoW ({res['meta']['mode']}): median {p['median']:.3f} mm, mean {p['mean']:.3f} mm, std {p['std']:.3f} mm "
          f"over {res['meta']['n_scored']} images ({res['meta']['n_missing']} missing); wrote {paths[0]} and {paths[1]}")
    return 0


def meshes(args: argparse.Namespace) -> int:
    """``evaluate meshes``: any method's meshes against MICC, NoW or synthetic ground truth."""
    import sys
    from pathlib import Path

    from photoface.evaluate.meshes import evaluate_meshes
    from photoface.evaluate.results_files import write_results

    res = evaluate_meshes(args.predictions, args.truth, args.protocol, args.topology, image_set=args.image_set,
                          mode=args.mode, log=None if args.quiet else lambda m: print(m, file=sys.stderr))
    out = args.out or Path(args.predictions) / f"eval_meshes_{args.protocol}.json"
    paths = write_results(res, out)
    if args.protocol == "now":
        p = res["pooled"]
        line = f"median {p['median']:.3f} mm, mean {p['mean']:.3f} mm, std {p['std']:.3f} mm"
    else:
        s = res["overall"]["symmetric_mm"]
        line = f"symmetric {s['mean']:.3f} ± {s['std']:.3f} mm over {s['n']} subjects"
    print(f"{args.protocol} ({args.mode}): {line}; wrote {paths[0]} and {paths[1]}")
    return 0


def aflw2000(args: argparse.Namespace) -> int:
    """``evaluate aflw2000``: 68-landmark NME on AFLW2000-3D."""
    from photoface.evaluate.aflw2000_runner import evaluate_aflw2000

    res = evaluate_aflw2000(args.checkpoint, args.data, shape_supervised=args.shape_supervised,
                            max_images=args.max_photos, crop=args.crop, device=args.device,
                            batch_size=args.batch_size, detector=args.detector)
    return _finish(args, res, "aflw2000")


def landmarks(args: argparse.Namespace) -> int:
    """``evaluate landmarks``: detectors and fit against true 68 landmarks."""
    from pathlib import Path

    from photoface.evaluate.landmarks import evaluate_landmarks, write_landmark_results
    from photoface.fit.config import FitConfig, apply_overrides

    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    res = evaluate_landmarks(args.data, methods, max_photos=args.max_photos, fit_model=args.model,
                             image_size=args.size, fit_config=apply_overrides(FitConfig(), args.fit_overrides),
                             log=_log(args))
    paths = write_landmark_results(res, args.out or Path(args.data) / "eval_landmarks.json")
    print(f"wrote {paths[0]}, {paths[1]} and {paths[2]} ({res['meta']['seconds']:.0f} s)")
    return 0


def identity(args: argparse.Namespace) -> int:
    """``evaluate identity``: per-photo identities on a folder of person folders."""
    from pathlib import Path

    from photoface.evaluate.identity import evaluate_identity
    from photoface.fit.config import FitConfig, apply_overrides

    methods = None if args.method is None else [m.strip() for m in args.method.split(",") if m.strip()]
    res = evaluate_identity(args.photos, args.checkpoint, methods=methods, face_model=args.model,
                            image_size=args.size, detector=args.detector,
                            fit_config=apply_overrides(FitConfig(), args.fit_overrides), device=args.device,
                            progress=not args.quiet)
    if args.out is None:
        args.out = str(Path(res["meta"]["run"] or ".") / "eval_identity.json")
    return _finish(args, res, "identity")


def ablation(args: argparse.Namespace) -> int:
    """``evaluate ablation``: train and score the ablation variants, print the written files."""
    from photoface.apps.ablation import run_ablation

    res = run_ablation(args.data, args.out, minutes_per_variant=args.minutes_per_variant,
                       steps_per_variant=args.steps_per_variant,
                       variants=None if not args.variants else [v.strip() for v in args.variants.split(",")],
                       preset=args.preset, overrides=args.overrides, max_photos=args.max_photos)
    print(f"wrote {res['meta']['json']} and {res['meta']['markdown']}")
    return 0


def _log(args: argparse.Namespace):
    """A progress printer on stderr, or None with --quiet."""
    import sys

    return None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))


def face_space(args: argparse.Namespace) -> int:
    """``evaluate face-space``: a face model's faces against a reference model's faces."""
    from pathlib import Path

    from photoface.evaluate.face_space import RESULTS_FILE, evaluate_face_space

    res = evaluate_face_space(args.reference, args.model, identities=args.identities, seed=args.seed,
                              ridge=args.ridge, out_dir=args.out, log=_log(args))
    path = Path(args.out) / RESULTS_FILE
    print(f"wrote {path}, {path.with_suffix('.md')} and {res['meta']['figure']} ({res['meta']['seconds']:.0f} s)")
    return 0


def crossmodel(args: argparse.Namespace) -> int:
    """``evaluate crossmodel``: fit a face model to photos of a reference model's faces."""
    from pathlib import Path

    from photoface.evaluate.crossmodel import evaluate_crossmodel
    from photoface.fit.config import FitConfig, apply_overrides

    out = Path(args.out or Path(args.data) / "eval_crossmodel.json")
    res = evaluate_crossmodel(args.data, args.reference, args.fit_model,
                              fit_config=apply_overrides(FitConfig(), args.fit_overrides),
                              max_identities=args.max_identities, max_photos=args.max_photos, out=out,
                              log=_log(args), landmarks=args.landmarks, detector=args.detector)
    print(f"wrote {out} and {out.with_suffix('.md')} ({res['meta']['seconds']:.0f} s)")
    return 0
