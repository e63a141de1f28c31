"""``photoface synth`` and ``photoface prepare``: write prepared datasets.

``synth`` renders synthetic photo collections with 3D ground truth; ``prepare`` detects, aligns and
masks real photos. Each handler imports its library lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse

DETECTORS = ("mediapipe", "dlib", "auto", "hog", "cnn")
"""``photoface.data.prepare.faces.DETECTORS``, repeated so that ``--help`` imports no library (a test
keeps the two equal)."""
DEFAULT_DETECTOR = "mediapipe"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``photoface synth`` and ``photoface prepare`` on the top-level sub-parsers ``sub``."""
    s = sub.add_parser(
        "synth",
        help="generate synthetic photo collections with 3D ground truth",
        description="Render N identities x M photos (expressions, poses up to ±75° yaw, coloured "
        "and hard light, backgrounds, occluders, noise/blur/JPEG) in three difficulty settings, "
        "with true meshes, landmarks, masks and 300W-LP-style linear-fit labels. The same "
        "arguments give byte-identical files for any --workers and thread count (same software "
        "versions, x86 CPUs with AVX2/AVX-512); re-running into the same --out resumes.",
    )
    s.add_argument("--model", default="builtin:demo", metavar="MODEL",
                   help="face-model .npz, or builtin:demo / builtin:paper (default builtin:demo)")
    s.add_argument("--identities", type=int, required=True, metavar="N")
    s.add_argument("--photos-per-identity", type=int, required=True, metavar="M")
    s.add_argument("--labeled-fraction", type=float, default=0.5, metavar="P",
                   help="share of training photos with linear-fit labels (default 0.5)")
    s.add_argument("--size", type=int, default=128, metavar="N",
                   help="image side, pixels: 128 for the demo preset, 224 for the paper's (at least 32)")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--test-fraction", type=float, default=0.2, metavar="Q",
                   help="share of identities held out as test identities (default 0.2)")
    s.add_argument("--workers", type=int, default=None, metavar="W",
                   help="parallel processes (default: number of CPUs)")
    s.add_argument("--contact-sheet", metavar="PNG", help="also write a contact sheet here")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
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
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="mediapipe (default): MediaPipe FaceLandmarker, dlib where it finds no face; dlib: dlib only, "
                        "HOG then the slow CNN where HOG finds nothing; auto/hog/cnn: dlib's own kinds")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--min-face", type=float, default=40.0, help="smallest face kept, pixels")
    p.add_argument("--model", metavar="MODEL.npz",
                   help="300W-LP: the imported BFM face-model file its labels refer to")
    p.add_argument("--bfm", metavar="01_MorphableModel.mat",
                   help="300W-LP: the BFM 2009 file MODEL was imported from (for shapeEV)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_prepare)


def run_synth(args: argparse.Namespace) -> int:
    """``synth``: write the synthetic dataset (and optional contact sheet) and print its counts."""
    from photoface.data.synth.collection import synthesize, write_contact_sheet

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


def run_prepare(args: argparse.Namespace) -> int:
    """``prepare``: turn photos into a prepared dataset and print how many faces it holds."""
    from photoface.data.adapters import prepare_any

    ds = prepare_any(
        args.photos, args.out, kind=args.kind, image_size=args.size, all_faces=args.all_faces,
        masks_dir=args.masks, detector=args.detector, workers=args.workers,
        min_face=args.min_face, model=args.model, bfm=args.bfm, progress=not args.quiet,
    )
    print(f"prepared {len(ds)} faces of {len(ds.identities())} identities into {args.out}")
    return 0
