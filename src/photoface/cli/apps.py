"""``photoface reconstruct``, ``transfer``, ``verify`` and ``demo``: the applications of a trained run.

Each handler imports its application lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse

from photoface.cli.data import DEFAULT_DETECTOR, DETECTORS


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``reconstruct``, ``transfer``, ``verify`` and ``demo`` on the top-level sub-parsers ``sub``."""
    r = sub.add_parser(
        "reconstruct",
        help="3D face meshes, codes, overlays and panels from photos",
        description="For each photo NAME: NAME.obj, NAME.ply and NAME.glb (mesh with albedo colours; mm, the .glb in m), NAME.json "
        "(identity, expression, pose and light codes, physical pose, crop transform), NAME_overlay.png (render "
        "over the photo) and NAME_panel.png (input | render | albedo | shading | mesh from three views). Raw "
        "photos are detected, landmarked and aligned like `photoface prepare`; unreadable photos are skipped. "
        "DIR/view.html shows every photo with its mesh in 3D, offline in a browser.",
    )
    r.add_argument("images", nargs="+", metavar="IMAGES", help="photo files and folders")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--batch-size", type=int, default=8, metavar="N", help="photos per network call (default 8)")
    _photo_options(r)
    r.add_argument("--refine", action="store_true",
                   help="refine each reconstruction with the fitting objective (landmarks, photometric, code priors); "
                   "NAME.json gains the residuals")
    r.add_argument("--same-person", action="store_true",
                   help="with --refine: all photos show one person and share one identity code (default: each photo "
                   "is its own person)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="with --refine: fit-config override, e.g. photo_iterations=30; repeatable")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
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
    t.add_argument("--meshes", action="store_true", help="also write SOURCE_to_TARGET.obj/.ply/.glb per target")
    _photo_options(t)
    t.set_defaults(handler=run_transfer)

    v = sub.add_parser(
        "verify",
        help="same person or not: identity similarity of two photos or two photo folders",
        description="Prints the cosine similarity of the identity codes (a folder counts as one person: the "
        "mean of its photos' normalised codes) and a same/different decision at the threshold that the "
        "evaluation calibrated on held-out identities (RUN/verification.json), or at --threshold. A threshold "
        "calibrated on synthetic faces does not decide on real photos: calibrate one with --calibrate.",
    )
    v.add_argument("a", metavar="A", help="photo or folder of photos of one person")
    v.add_argument("b", metavar="B", help="photo or folder of photos of one person")
    v.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="decision threshold (default: the run's calibrated one for this kind of photo)")
    v.add_argument("--calibrate", metavar="PERSON_FOLDERS",
                   help="first calibrate the threshold on real photos: a folder with one folder of photos per person; "
                   "stored as RUN/verification_photos.json and used for real photos from then on")
    _photo_options(v)
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
    d.add_argument("--identities", type=int, default=200, metavar="N",
                   help="synthetic identities (default 200; a fifth are held out for the evaluation)")
    d.add_argument("--photos-per-identity", type=int, default=5, metavar="K", help="photos of each (default 5)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(handler=run_demo)


def _photo_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that runs a trained run on photos: checkpoint, alignment, detector, device."""
    p.add_argument("--checkpoint", required=True, metavar="RUN",
                   help="trained run folder (its selected checkpoint: best.pt, else last.pt) or a checkpoint file")
    p.add_argument("--aligned", action="store_true",
                   help="the photos are training crops already (e.g. synthetic photos): no face detection")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="face detector for raw photos: mediapipe (default; dlib where it finds no face), "
                        "dlib (HOG, then its CNN where HOG finds nothing), or dlib's auto/hog/cnn")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def run_reconstruct(args: argparse.Namespace) -> int:
    """``reconstruct``: write meshes, codes and pictures per photo; exit 1 when no photo was reconstructed."""
    from photoface.apps.reconstruct import reconstruct

    res = reconstruct(args.images, args.checkpoint, args.out, batch_size=args.batch_size, aligned=args.aligned,
                      device=args.device, detector=args.detector, progress=not args.quiet, refine=args.refine,
                      same_person=args.same_person, overrides=args.overrides)
    faces = f"{len(res.written)} face{'' if len(res.written) == 1 else 's'}"
    photos = f"{res.photos} photo{'' if res.photos == 1 else 's'}"
    print(f"reconstructed {faces} from {photos} into {res.out_dir}"
          + (f"; skipped {len(res.skipped)}" if res.skipped else ""))
    return 0 if res.written else 1


def run_transfer(args: argparse.Namespace) -> int:
    """``transfer``: write the transfer grid (and meshes with ``--meshes``) and print the paths."""
    from photoface.apps.transfer import transfer

    res = transfer(args.source, args.targets, args.checkpoint, args.out, meshes=args.meshes,
                   aligned=args.aligned, device=args.device, detector=args.detector)
    print(res.grid)
    for path in res.meshes:
        print(path)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """``verify``: print the similarity of A and B and the same/different decision."""
    from photoface.apps.verify import verify

    verdict = verify(args.a, args.b, args.checkpoint, threshold=args.threshold, aligned=args.aligned,
                     device=args.device, detector=args.detector, require_threshold=True, calibrate_on=args.calibrate)
    print(verdict.describe())
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """``demo``: synthesize, train, evaluate and apply on the built-in model; print the report's path."""
    from photoface.apps.demo import run_demo as demo

    report = demo(args.out, minutes=args.minutes, identities=args.identities,
                  photos_per_identity=args.photos_per_identity, seed=args.seed, device=args.device,
                  progress=not args.quiet)
    print(f"report: {report}")
    return 0
