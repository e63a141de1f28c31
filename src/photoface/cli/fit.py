"""``photoface fit``: multi-photo fitting of a face model, one shared identity per person.

The handler imports the application lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse

from photoface.cli.data import DEFAULT_DETECTOR, DETECTORS


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``fit`` on the top-level sub-parsers ``sub``."""
    p = sub.add_parser(
        "fit",
        help="fit a face model to photo collections: one identity per person, expression/pose/light per photo",
        description="PHOTOS_OR_PREPARED_DIR is a folder of person folders (raw photos are detected, landmarked, "
        "aligned and masked like `photoface prepare`, into DIR/prepared) or a prepared dataset. Per photo NAME: "
        "DIR/<person>/NAME.obj/.ply/.glb (fitted mesh, albedo colours), NAME.json (codes incl. the identity vector, "
        "pose, residuals), NAME_overlay.png; per person identity.obj/.ply/.glb and person.json; DIR/labels (a prepared "
        "dataset with the fitted labels, usable by `photoface train`); DIR/fit_report.tsv (photos, faces and empty "
        "folders left out, failed fits, with reasons); DIR/view.html (every photo's mesh beside the identity, in 3D, "
        "offline). A photo with several faces keeps the face most like the person's other photos.",
    )
    p.add_argument("inputs", metavar="PHOTOS_OR_PREPARED_DIR")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--model", default="builtin:demo", metavar="MODEL.npz",
                   help="face-model .npz, or builtin:demo / builtin:paper (default builtin:demo)")
    p.add_argument("--checkpoint", metavar="RUN",
                   help="refine a trained network instead: run folder, checkpoint or exported model; the unknowns "
                   "are its codes (identity shared per person), initialised by its encoder; no labels/ written")
    p.add_argument("--device", default="cpu", help="device for --checkpoint (default cpu)")
    p.add_argument("--iterations", type=int, metavar="N",
                   help="Adam iterations of the full render stage (FitConfig.photo_iterations)")
    p.add_argument("--size", type=int, default=128, metavar="PX", help="crop size for raw photos (default 128)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector for raw photos: mediapipe (default; dlib where it finds no face), "
                        "dlib (HOG, then its CNN where HOG finds nothing), or dlib's auto/hog/cnn")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="fit-config override (FitConfig, the fit section of photoface/run/config.py), "
                   "e.g. w_photo=400 or fit.w_photo=400; repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-person lines")
    p.set_defaults(handler=run_fit)

    p = sub.add_parser(
        "now-predict",
        help="a NoW submission: fitted identity meshes + 7 landmarks for every image of a NoW image list",
        description="Writes OUT/<subject>/<challenge>/<image>.obj and .npy (7 landmarks), the challenge's layout; "
        "score with `photoface evaluate now OUT --data NOW_ROOT --mode MODE`. --mode multi-image fits all images of "
        "a subject jointly and submits the one identity for each: not a single-image result (docs/evaluation.md).",
    )
    p.add_argument("data", metavar="NOW_ROOT")
    p.add_argument("--out", required=True, metavar="PRED_DIR")
    p.add_argument("--mode", choices=("single-image", "multi-image"), default="single-image")
    p.add_argument("--image-set", choices=("val", "test"), default="val", help="image list under NOW_ROOT")
    p.add_argument("--image-list", metavar="FILE", help="image list (instead of NOW_ROOT's)")
    p.add_argument("--images", metavar="DIR",
                   help="image folder (default NOW_ROOT/NoW_Dataset/final_release_version/iphone_pictures)")
    p.add_argument("--model", default="builtin:demo", metavar="MODEL.npz", help="face model to fit")
    p.add_argument("--checkpoint", metavar="RUN", help="refine a trained network's codes instead")
    p.add_argument("--iterations", type=int, metavar="N", help="fitting iterations (FitConfig.photo_iterations)")
    p.add_argument("--size", type=int, default=128, metavar="PX", help="crop size (default 128)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="FitConfig override; repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-person lines")
    p.set_defaults(handler=run_now_predict)


def run_fit(args: argparse.Namespace) -> int:
    """``photoface fit``."""
    from photoface.apps.fit import REPORT_FILE, fit_photos

    res = fit_photos(args.inputs, args.out, model=args.model, iterations=args.iterations, overrides=args.overrides,
                     image_size=args.size, progress=not args.quiet, checkpoint=args.checkpoint, device=args.device,
                     detector=args.detector,
                     log=(lambda message: None) if args.quiet else _stderr)
    if args.quiet:  # otherwise fit_photos has named them already, before fitting
        for key, why in sorted(res.skipped.items()):
            print(f"skipped: {key}: {why}")
    for key, why in sorted(res.failures.items()):
        print(f"failed: {key}: {why}")
    problems = [f"{len(res.skipped)} skipped"] * bool(res.skipped) + [f"{len(res.failures)} failed"] * bool(res.failures)
    print(f"fitted {res.people} person(s), {len(res.written)} photo(s) into {res.out_dir}"
          + (f"; {', '.join(problems)}, see {res.out_dir / REPORT_FILE}" if problems else ""))
    return 0


def run_now_predict(args: argparse.Namespace) -> int:
    """``photoface now-predict``."""
    from photoface.apps.now_submission import now_predictions

    res = now_predictions(args.data, args.out, mode=args.mode, image_set=args.image_set, image_list=args.image_list,
                          images=args.images, model=args.model, checkpoint=args.checkpoint,
                          iterations=args.iterations, overrides=args.overrides, image_size=args.size,
                          progress=not args.quiet, log=(lambda message: None) if args.quiet else _stderr)
    print(f"NoW predictions ({res['mode']}): {res['predicted']} of {res['images']} images into {args.out}"
          + (f"; {len(res['missing'])} without a prediction, see now_predictions.json" if res["missing"] else ""))
    return 0


def _stderr(message: str) -> None:
    import sys

    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
