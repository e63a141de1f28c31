"""The ``photoface`` command. It only parses arguments and calls library functions.

Each command group registers its sub-parsers in its own ``_add_*`` function below; the handler
imports its library lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from photoface.errors import PhotofaceError


def _add_model_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface model ...``: build, import, inspect and export face models."""
    model = sub.add_parser("model", help="build, import, inspect, export and preview face models")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION")

    p = msub.add_parser("build-procedural", help="write the built-in procedural face model")
    p.add_argument("--resolution", choices=("demo", "paper"), default="demo",
                   help="demo: ~4.8k vertices; paper: ~37k vertices (default: demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random identity/albedo components")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")

    def build(args):
        from photoface.facemodel.io import save_model
        from photoface.facemodel.procedural import build_procedural_model

        print(save_model(build_procedural_model(args.resolution, args.seed), args.output))

    p.set_defaults(handler=build)

    p = msub.add_parser("import-bfm", help="import Basel Face Model 2009 (+ an expression basis)")
    p.add_argument("bfm", help="01_MorphableModel.mat (or Deep3DFaceRecon's BFM_model_front.mat)")
    p.add_argument("--expression", help="Exp_Pca.bin or BFM_model_front.mat")
    p.add_argument("--exp-std", help="std_exp.txt for Exp_Pca.bin (default: next to it)")
    p.add_argument("--trim-index", help="BFM_exp_idx.mat or 3DDFA model_info.mat with trimIndex")
    p.add_argument("--landmarks", help="file of 68 0-based BFM vertex indices in iBUG order")
    p.add_argument("--no-crop", action="store_true", help="keep all vertices (no paper crop)")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")

    def import_bfm(args):
        from photoface.facemodel.bfm import import_bfm as run
        from photoface.facemodel.io import save_model

        m = run(args.bfm, args.expression, args.exp_std, args.trim_index, args.landmarks, not args.no_crop)
        print(save_model(m, args.output))

    p.set_defaults(handler=import_bfm)

    p = msub.add_parser("import-ict", help="import an ICT-FaceKit FaceXModel folder")
    p.add_argument("folder", help="the FaceXModel directory")
    p.add_argument("--area", choices=("narrow", "full"), default="narrow", help="face area to keep")
    p.add_argument("--landmarks", help="file of 68 0-based vertex indices (overrides the folder's)")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")

    def import_ict(args):
        from photoface.facemodel.ict import import_ict as run
        from photoface.facemodel.io import save_model

        print(save_model(run(args.folder, args.area, args.landmarks), args.output))

    p.set_defaults(handler=import_ict)

    p = msub.add_parser("info", help="describe a face-model file")
    p.add_argument("model", help="MODEL.npz")

    def info(args):
        from photoface.facemodel.io import load_model
        from photoface.facemodel.summary import describe

        print(describe(load_model(args.model)))

    p.set_defaults(handler=info)

    p = msub.add_parser("export", help="write one face as .obj/.ply with per-vertex colours")
    p.add_argument("model", help="MODEL.npz")
    p.add_argument("--identity", help="comma-separated coefficients, or random:SEED")
    p.add_argument("--expression", help="comma-separated coefficients/weights, or random:SEED")
    p.add_argument("--albedo", help="comma-separated albedo coefficients, or random:SEED")
    p.add_argument("-o", "--output", required=True, help="FACE.obj or FACE.ply")

    def export(args):
        from photoface.facemodel.export import export_face, parse_coefficients
        from photoface.facemodel.io import load_model

        m = load_model(args.model)
        a_id = parse_coefficients(args.identity, m.n_id, "identity")
        a_exp = parse_coefficients(args.expression, m.n_exp, "expression", m.exp_kind)
        beta = parse_coefficients(args.albedo, m.n_tex, "albedo")
        print(export_face(m, args.output, a_id, a_exp, beta))

    p.set_defaults(handler=export)

    p = msub.add_parser("preview", help="PNG pictures of a model: views, identities, expressions")
    p.add_argument("model", help="MODEL.npz")
    p.add_argument("--out", required=True, help="output directory")

    def preview(args):
        from pathlib import Path

        from photoface.apps.preview import write_previews
        from photoface.facemodel.io import load_model

        for path in write_previews(load_model(args.model), args.out, prefix=Path(args.model).stem):
            print(path)

    p.set_defaults(handler=preview)
    model.set_defaults(handler=lambda args: model.print_help() or 2)


def _add_render_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface render``: render a face-model file to a PNG."""
    p = sub.add_parser(
        "render",
        help="render a face-model file (.npz) to a PNG",
        description="Render the mean face of a face-model file. Angles in degrees: positive yaw turns "
        "the face to the subject's left, positive pitch tilts it down, positive roll turns it "
        "counter-clockwise in the image. The default pose is frontal and centred.",
    )
    p.add_argument("model", help="face-model file (.npz)")
    p.add_argument("--pitch", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument("--yaw", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument("--roll", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument(
        "--light",
        default=None,
        help="light preset (front, flat, left, right, above, below, warm, dim) or 27 comma-separated "
        "SH coefficients, channel-major (default: the renderer's default light)",
    )
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("-o", "--out", required=True, help="output PNG")

    def handler(args: argparse.Namespace) -> int:
        from photoface.apps.render_face import render_model_file
        from photoface.render.sh import parse_light

        light = None if args.light is None else parse_light(args.light)
        path = render_model_file(
            args.model, args.out, pitch=args.pitch, yaw=args.yaw, roll=args.roll,
            light=light, size=args.size,
        )
        print(path)
        return 0

    p.set_defaults(handler=handler)


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface synth`` and ``photoface prepare``: write prepared datasets."""
    s = sub.add_parser(
        "synth",
        help="generate synthetic photo collections with 3D ground truth",
        description="Render N identities x M photos (expressions, poses up to ±75° yaw, coloured "
        "and hard light, backgrounds, occluders, noise/blur/JPEG) in three difficulty settings, "
        "with true meshes, landmarks, masks and 300W-LP-style linear-fit labels. The same "
        "arguments give byte-identical files; re-running into the same --out resumes.",
    )
    s.add_argument("--model", default="builtin:demo", metavar="MODEL",
                   help="face-model .npz, or builtin:demo / builtin:paper (default builtin:demo)")
    s.add_argument("--identities", type=int, required=True, metavar="N")
    s.add_argument("--photos-per-identity", type=int, required=True, metavar="M")
    s.add_argument("--labeled-fraction", type=float, default=0.5, metavar="P",
                   help="share of training photos with linear-fit labels (default 0.5)")
    s.add_argument("--size", type=int, choices=(128, 224), default=128, help="image side, pixels")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--test-fraction", type=float, default=0.2, metavar="Q",
                   help="share of identities held out as test identities (default 0.2)")
    s.add_argument("--workers", type=int, default=None, metavar="W",
                   help="parallel processes (default: number of CPUs)")
    s.add_argument("--contact-sheet", metavar="PNG", help="also write a contact sheet here")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_synth(args: argparse.Namespace) -> int:
        from photoface.data.synth import synthesize, write_contact_sheet

        ds = synthesize(
            args.model, args.identities, args.photos_per_identity, args.out,
            labeled_fraction=args.labeled_fraction, size=args.size, seed=args.seed,
            test_fraction=args.test_fraction, workers=args.workers, progress=not args.quiet,
        )
        if args.contact_sheet:
            write_contact_sheet(args.out, args.contact_sheet)
        c = ds.meta.counts
        print(f"wrote {c['photos']} photos of {c['identities']} identities "
              f"({c['train']} train / {c['test']} test photos, {c['labeled']} labeled) to {args.out}")
        return 0

    s.set_defaults(handler=run_synth)
    p = sub.add_parser(
        "prepare",
        help="detect, landmark, align and mask real photos into a prepared dataset",
        description="PHOTOS is a folder of person folders, a list file (PATH IDENTITY [SPLIT] per "
        "line), a CelebA folder (img_align_celeba/ + identity_CelebA.txt) or a 300W-LP folder. "
        "Re-running with the same --out resumes; skipped photos are listed in DIR/prepare_report.tsv.",
    )
    p.add_argument("photos", metavar="PHOTOS")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--kind", choices=("auto", "photos", "celeba", "300w-lp"), default="auto",
                   help="what PHOTOS is (default: recognised from its contents)")
    p.add_argument("--size", type=int, choices=(128, 224), default=128, help="crop side in pixels")
    p.add_argument("--all-faces", action="store_true", help="keep every face, not only the largest")
    p.add_argument("--masks", metavar="MASK_DIR", help="precomputed masks, same relative names")
    p.add_argument("--detector", choices=("auto", "hog", "cnn"), default="auto",
                   help="auto: HOG, and the slow CNN only where HOG finds nothing")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--min-face", type=float, default=40.0, help="smallest face kept, pixels")
    p.add_argument("--model", metavar="MODEL.npz",
                   help="300W-LP: the imported BFM face-model file its labels refer to")
    p.add_argument("--bfm", metavar="01_MorphableModel.mat",
                   help="300W-LP: the BFM 2009 file MODEL was imported from (for shapeEV)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_prepare(args: argparse.Namespace) -> int:
        from photoface.data.adapters import prepare_any

        ds = prepare_any(
            args.photos, args.out, kind=args.kind, image_size=args.size, all_faces=args.all_faces,
            masks_dir=args.masks, detector=args.detector, workers=args.workers,
            min_face=args.min_face, model=args.model, bfm=args.bfm, progress=not args.quiet,
        )
        print(f"prepared {len(ds)} faces of {len(ds.identities())} identities into {args.out}")
        return 0

    p.set_defaults(handler=run_prepare)


def _add_train_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface train``."""
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

    def handler(args: argparse.Namespace) -> int:
        from photoface.train import resolve_run_config, train

        cfg, data = resolve_run_config(args.out, preset=args.preset, data_dirs=args.data, resume=args.resume,
                                       overrides=args.overrides, max_steps=args.max_steps)
        summary = train(cfg, data, args.out, resume=args.resume, progress=not args.no_progress)
        print(summary.describe())
        return summary.exit_code

    p.set_defaults(handler=handler)

    r = sub.add_parser(
        "train-report",
        help="numbers that show whether a run learned: loss trends, identity clustering, held-out shape error",
        description="Reads RUN/metrics.jsonl and every kept checkpoint of RUN; on a prepared dataset with "
        "true meshes (e.g. from photoface synth) reports, per checkpoint, the ratio of intra- to "
        "inter-identity cosine distance of identity codes and the aligned shape error on test identities "
        "next to the mean face's.",
    )
    r.add_argument("run", metavar="RUN", help="run folder")
    r.add_argument("--data", required=True, metavar="DIR", help="prepared dataset with true meshes")
    r.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    r.add_argument("--steps", metavar="LIST", help="comma-separated steps of the checkpoints to score "
                   "(default: every kept checkpoint)")

    def report_handler(args: argparse.Namespace) -> int:
        import json

        from photoface.train.report import format_report, training_report

        steps = None if args.steps is None else [int(x) for x in args.steps.split(",") if x.strip()]
        report = training_report(args.run, args.data, steps=steps)
        print(format_report(report))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=2)
        return 0

    r.set_defaults(handler=report_handler)


def _add_evaluate_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface evaluate synthetic|micc|aflw2000|ablation``: benchmarks → JSON + Markdown."""
    ev = sub.add_parser("evaluate", help="benchmarks: synthetic ground truth, MICC Florence, AFLW2000-3D, ablation",
                        description="Each benchmark writes FILE.json and FILE.md next to it (docs/evaluation.md).")
    esub = ev.add_subparsers(dest="evaluate_command", metavar="BENCHMARK")

    def common(p, data_help: str, baselines: bool = True) -> None:
        p.add_argument("--checkpoint", required=True, metavar="RUN", help="run folder or checkpoint file")
        p.add_argument("--data", required=True, metavar="DIR", help=data_help)
        p.add_argument("--out", metavar="FILE.json", help="results file (default RUN/eval_<benchmark>.json)")
        if baselines:
            p.add_argument("--baselines", default="mean_face,landmark_fit", metavar="LIST",
                           help="comma-separated: mean_face, landmark_fit, or 'none' (default both)")
        p.add_argument("--shape-supervised", metavar="RUN2", help="a run trained with only the shape losses")
        p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
        p.add_argument("--batch-size", type=int, default=32)

    def methods(args) -> list[str]:
        text = getattr(args, "baselines", "none")
        return [] if text.strip().lower() in ("", "none") else [b.strip() for b in text.split(",") if b.strip()]

    def modes(args) -> list[str]:
        return [m.strip() for m in args.modes.split(",") if m.strip()]

    def finish(args, results, kind: str) -> int:
        from pathlib import Path

        from photoface.evaluate.runner_report import write_results

        out = args.out or str(Path(results["meta"]["run"]) / f"eval_{kind}.json")
        paths = write_results(results, out)
        print(f"wrote {paths[0]} and {paths[1]} ({results['meta'].get('seconds', 0):.0f} s)")
        return 0

    p = esub.add_parser("synthetic", help="held-out synthetic identities with true shapes (photoface synth)")
    common(p, "synthetic prepared dataset with test identities")
    p.add_argument("--max-photos", type=int, metavar="N", help="at most N photos per identity and setting")
    p.add_argument("--modes", default="identity", metavar="LIST",
                   help="identity and/or three_views, comma-separated (default identity)")
    p.add_argument("--neutral", choices=("zero", "mean"), default="zero",
                   help="the network's neutral expression code (default zero)")
    p.add_argument("--no-verification-file", action="store_true", help="do not write RUN/verification.json")

    def synthetic(args) -> int:
        from photoface.evaluate.synthetic import evaluate_synthetic

        res = evaluate_synthetic(args.checkpoint, args.data, baselines=methods(args),
                                 shape_supervised=args.shape_supervised, max_photos=args.max_photos,
                                 modes=modes(args), neutral=args.neutral, device=args.device,
                                 batch_size=args.batch_size, write_verification=not args.no_verification_file)
        return finish(args, res, "synthetic")

    p.set_defaults(handler=synthetic)

    p = esub.add_parser("micc", help="MICC Florence: videos against 3D scans, Table 1 layout")
    common(p, "MICC Florence root (subject_* folders)")
    p.add_argument("--max-photos", type=int, default=30, metavar="N",
                   help="frames sampled evenly from each video (default 30)")
    p.add_argument("--modes", default="identity,three_views", metavar="LIST",
                   help="identity and/or three_views (default both)")
    p.add_argument("--detector", choices=("auto", "hog", "cnn"), default="hog", help="face detector (default hog)")
    p.add_argument("--max-subjects", type=int, metavar="K", help="only the first K subjects")

    def micc(args) -> int:
        from photoface.evaluate.micc_runner import evaluate_micc

        res = evaluate_micc(args.checkpoint, args.data, baselines=methods(args), shape_supervised=args.shape_supervised,
                            max_frames=args.max_photos, modes=modes(args), detector=args.detector,
                            max_subjects=args.max_subjects, device=args.device, batch_size=args.batch_size)
        return finish(args, res, "micc")

    p.set_defaults(handler=micc)

    p = esub.add_parser("aflw2000", help="AFLW2000-3D: 68-landmark NME per yaw bin")
    common(p, "AFLW2000-3D folder (imageNNNNN.jpg + .mat)", baselines=False)
    p.add_argument("--max-photos", type=int, metavar="N", help="only the first N images")
    p.add_argument("--crop", choices=("box", "landmarks", "detector"), default="box",
                   help="how images are cropped for the network (default box; see docs/evaluation.md)")

    def aflw(args) -> int:
        from photoface.evaluate.aflw2000_runner import evaluate_aflw2000

        res = evaluate_aflw2000(args.checkpoint, args.data, shape_supervised=args.shape_supervised,
                                max_images=args.max_photos, crop=args.crop, device=args.device,
                                batch_size=args.batch_size)
        return finish(args, res, "aflw2000")

    p.set_defaults(handler=aflw)

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

    def ablation(args) -> int:
        from photoface.evaluate.ablation import run_ablation

        res = run_ablation(args.data, args.out, minutes_per_variant=args.minutes_per_variant,
                           steps_per_variant=args.steps_per_variant,
                           variants=None if not args.variants else [v.strip() for v in args.variants.split(",")],
                           preset=args.preset, overrides=args.overrides, max_photos=args.max_photos)
        print(f"wrote {res['meta']['json']} and {res['meta']['markdown']}")
        return 0

    p.set_defaults(handler=ablation)
    ev.set_defaults(handler=lambda args: ev.print_help() or 2)


def _add_app_commands(sub: argparse._SubParsersAction) -> None:
    """``photoface reconstruct``, ``transfer``, ``verify``, ``demo``."""

    def photo_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--checkpoint", required=True, metavar="RUN",
                       help="trained run folder (its last checkpoint) or a checkpoint file")
        p.add_argument("--aligned", action="store_true",
                       help="the photos are training crops already (e.g. synthetic photos): no face detection")
        p.add_argument("--detector", choices=("auto", "hog", "cnn"), default="auto",
                       help="face detector for raw photos (default auto: HOG, the CNN where HOG finds nothing)")
        p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")

    r = sub.add_parser(
        "reconstruct",
        help="3D face meshes, codes, overlays and panels from photos",
        description="For each photo NAME: NAME.obj and NAME.ply (mesh in mm with albedo colours), NAME.json "
        "(identity, expression, pose and light codes, physical pose, crop transform), NAME_overlay.png (render "
        "over the photo) and NAME_panel.png (input | render | albedo | shading | mesh from three views). Raw "
        "photos are detected, landmarked and aligned like `photoface prepare`; unreadable photos are skipped.",
    )
    r.add_argument("images", nargs="+", metavar="IMAGES", help="photo files and folders")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--batch-size", type=int, default=8, metavar="N", help="photos per network call (default 8)")
    photo_options(r)
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    def run_reconstruct(args: argparse.Namespace) -> int:
        from photoface.apps.reconstruct import reconstruct

        res = reconstruct(args.images, args.checkpoint, args.out, batch_size=args.batch_size, aligned=args.aligned,
                          device=args.device, detector=args.detector, progress=not args.quiet)
        print(f"reconstructed {len(res.written)} photos into {res.out_dir}"
              + (f"; skipped {len(res.skipped)}" if res.skipped else ""))
        return 0 if res.written else 1

    r.set_defaults(handler=run_reconstruct)

    t = sub.add_parser(
        "transfer",
        help="expression transfer: one person with the expression, pose and light of others",
        description="Keeps the identity (and albedo) of SOURCE and takes the expression, pose and lighting of "
        "each TARGET (the paper's Figure 9). Writes DIR/transfer.png: top row source and targets, bottom row "
        "the source's fit and the transferred faces.",
    )
    t.add_argument("source", metavar="SOURCE", help="one photo")
    t.add_argument("targets", nargs="+", metavar="TARGET", help="photo files and folders")
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--meshes", action="store_true", help="also write SOURCE_to_TARGET.obj/.ply per target")
    photo_options(t)

    def run_transfer(args: argparse.Namespace) -> int:
        from photoface.apps.transfer import transfer

        res = transfer(args.source, args.targets, args.checkpoint, args.out, meshes=args.meshes,
                       aligned=args.aligned, device=args.device, detector=args.detector)
        print(res.grid)
        for path in res.meshes:
            print(path)
        return 0

    t.set_defaults(handler=run_transfer)

    v = sub.add_parser(
        "verify",
        help="same person or not: identity similarity of two photos or two photo folders",
        description="Prints the cosine similarity of the identity codes (a folder counts as one person: the "
        "mean of its photos' normalised codes) and a same/different decision at the threshold that the "
        "evaluation calibrated on held-out identities (RUN/verification.json), or at --threshold.",
    )
    v.add_argument("a", metavar="A", help="photo or folder of photos of one person")
    v.add_argument("b", metavar="B", help="photo or folder of photos of one person")
    v.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="decision threshold (default: the run's calibrated one)")
    photo_options(v)

    def run_verify(args: argparse.Namespace) -> int:
        from photoface.apps.verify import verify

        verdict = verify(args.a, args.b, args.checkpoint, threshold=args.threshold, aligned=args.aligned,
                         device=args.device, detector=args.detector, require_threshold=True)
        print(verdict.describe())
        return 0

    v.set_defaults(handler=run_verify)

    d = sub.add_parser(
        "demo",
        help="the main job on the embedded default: synthesize, train, evaluate, apply, report",
        description="Offline, on the built-in procedural face model: generates a small synthetic photo "
        "collection, trains the demo preset for a bounded time, evaluates on held-out identities (with "
        "baselines), reconstructs held-out photos, runs expression transfer and verification, and writes "
        "DIR/report.html. Re-running with the same DIR reuses the data and continues the run.",
    )
    d.add_argument("--out", required=True, metavar="DIR")
    d.add_argument("--minutes", type=float, default=10.0, metavar="M",
                   help="training time budget in minutes (default 10)")
    d.add_argument("--identities", type=int, default=24, metavar="N", help="synthetic identities (default 24)")
    d.add_argument("--photos-per-identity", type=int, default=6, metavar="K", help="photos of each (default 6)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")

    def run_demo(args: argparse.Namespace) -> int:
        from photoface.apps.demo import run_demo as demo

        report = demo(args.out, minutes=args.minutes, identities=args.identities,
                      photos_per_identity=args.photos_per_identity, seed=args.seed, device=args.device,
                      progress=not args.quiet)
        print(f"report: {report}")
        return 0

    d.set_defaults(handler=run_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photoface",
        description="Learn 3D faces from photo collections; reconstruct, compare and edit faces.",
    )
    from photoface import __version__

    parser.add_argument("--version", action="version", version=f"photoface {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        _add_model_commands,
        _add_render_commands,
        _add_data_commands,
        _add_train_commands,
        _add_evaluate_commands,
        _add_app_commands,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result = handler(args)
    except PhotofaceError as exc:
        print(f"photoface: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoface: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
