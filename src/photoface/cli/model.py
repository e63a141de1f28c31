"""``photoface model ...``: build, import, inspect, export and preview face-model files.

Each handler imports its library lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse

MODEL_HELP = "face-model .npz, or builtin:demo / builtin:paper"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``photoface model`` and its actions on the top-level sub-parsers ``sub``."""
    model = sub.add_parser("model", help="build, import, inspect, export and preview face models")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION")

    p = msub.add_parser("build-procedural", help="write the built-in procedural face model")
    p.add_argument("--resolution", choices=("demo", "paper"), default="demo",
                   help="demo: ~4.8k vertices; paper: ~37k vertices (default: demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random identity/albedo components")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")
    p.set_defaults(handler=build_procedural)

    p = msub.add_parser("import-bfm", help="import Basel Face Model 2009 (+ an expression basis)")
    p.add_argument("bfm", help="01_MorphableModel.mat (or Deep3DFaceRecon's BFM_model_front.mat)")
    p.add_argument("--expression", help="Exp_Pca.bin or BFM_model_front.mat")
    p.add_argument("--exp-std", help="std_exp.txt for Exp_Pca.bin (default: next to it)")
    p.add_argument("--trim-index", help="BFM_exp_idx.mat or 3DDFA model_info.mat with trimIndex")
    p.add_argument("--landmarks", help="file of 68 0-based BFM vertex indices in iBUG order")
    p.add_argument("--no-crop", action="store_true", help="keep all vertices (no paper crop)")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")
    p.set_defaults(handler=import_bfm)

    p = msub.add_parser("import-ict", help="import an ICT-FaceKit FaceXModel folder")
    p.add_argument("folder", help="the FaceXModel directory")
    p.add_argument("--area", choices=("narrow", "full"), default="narrow", help="face area to keep")
    p.add_argument("--landmarks", help="file of 68 0-based vertex indices (overrides the folder's)")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")
    p.set_defaults(handler=import_ict)

    p = msub.add_parser("import-flame", help="import FLAME 2020/2023 (model .pkl + landmark embedding)")
    p.add_argument("flame", help="generic_model.pkl, female_model.pkl, male_model.pkl, flame2023.pkl, ...")
    p.add_argument("--landmarks", required=True,
                   help="DECA's landmark_embedding.npy or RingNet's flame_static_embedding.pkl")
    p.add_argument("--dynamic", help="flame_dynamic_embedding.npy for the static .pkl (default: next to it)")
    p.add_argument("--masks", help="FLAME_masks.pkl: its 'face' region is the face area (default: a fixed crop)")
    p.add_argument("--area", choices=("face", "head"), default="face", help="face area or the whole head")
    p.add_argument("--shape", type=int, help="leading identity components kept (default all 300)")
    p.add_argument("--expression", type=int, help="leading expression components kept (default all 100)")
    p.add_argument("--jaw", choices=("linear", "none"), default="linear",
                   help="jaw rotation as linearised expression components (default) or left out")
    p.add_argument("-o", "--output", required=True, help="MODEL.npz to write")
    p.set_defaults(handler=import_flame)

    p = msub.add_parser("info", help="describe a face model")
    p.add_argument("model", help=MODEL_HELP)
    p.set_defaults(handler=info)

    p = msub.add_parser("export", help="write one face as .obj/.ply/.glb with per-vertex colours")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--identity", help="comma-separated coefficients, or random:SEED")
    p.add_argument("--expression", help="comma-separated coefficients/weights, or random:SEED")
    p.add_argument("--albedo", help="comma-separated albedo coefficients, or random:SEED")
    p.add_argument("-o", "--output", required=True, help="FACE.obj, FACE.ply or FACE.glb (metres)")
    p.set_defaults(handler=export)

    p = msub.add_parser("preview", help="PNG pictures of a model: views, identities, expressions")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(handler=preview)
    # Bare ``photoface model`` shows the actions and exits 2, like a usage error.
    model.set_defaults(handler=lambda args: model.print_help() or 2)


def build_procedural(args: argparse.Namespace) -> None:
    """``model build-procedural``: write the built-in procedural model and print its path."""
    from photoface.facemodel.io import save_model
    from photoface.facemodel.procedural import build_procedural_model

    print(save_model(build_procedural_model(args.resolution, args.seed), args.output))


def import_bfm(args: argparse.Namespace) -> None:
    """``model import-bfm``: convert Basel Face Model files and print the written path."""
    from photoface.facemodel.bfm import import_bfm as run
    from photoface.facemodel.io import save_model

    m = run(args.bfm, args.expression, args.exp_std, args.trim_index, args.landmarks, not args.no_crop)
    print(save_model(m, args.output))


def import_ict(args: argparse.Namespace) -> None:
    """``model import-ict``: convert an ICT-FaceKit folder and print the written path."""
    from photoface.facemodel.ict import import_ict as run
    from photoface.facemodel.io import save_model

    print(save_model(run(args.folder, args.area, args.landmarks), args.output))


def import_flame(args: argparse.Namespace) -> None:
    """``model import-flame``: convert a FLAME pickle and print the written path."""
    from photoface.facemodel.flame import import_flame as run
    from photoface.facemodel.io import save_model

    m = run(args.flame, args.landmarks, dynamic=args.dynamic, masks=args.masks, area=args.area,
            n_shape=args.shape, n_exp=args.expression, jaw=args.jaw)
    print(save_model(m, args.output))


def info(args: argparse.Namespace) -> None:
    """``model info``: print a description of a face-model file."""
    from photoface.facemodel import load_face_model
    from photoface.facemodel.summary import describe

    print(describe(load_face_model(args.model)))


def export(args: argparse.Namespace) -> None:
    """``model export``: write one face (given or random coefficients) and print its path."""
    from photoface.facemodel import load_face_model
    from photoface.facemodel.export import export_face, parse_coefficients

    m = load_face_model(args.model)
    a_id = parse_coefficients(args.identity, m.n_id, "identity")
    a_exp = parse_coefficients(args.expression, m.n_exp, "expression", m.exp_kind, m.exp_bounds)
    beta = parse_coefficients(args.albedo, m.n_tex, "albedo")
    print(export_face(m, args.output, a_id, a_exp, beta))


def preview(args: argparse.Namespace) -> None:
    """``model preview``: write preview PNGs of a model and print each path."""
    from pathlib import Path

    from photoface.apps.preview import write_previews
    from photoface.facemodel import face_model_name, load_face_model

    prefix = Path(face_model_name(args.model)).stem.replace(":", "_")
    for path in write_previews(load_face_model(args.model), args.out, prefix=prefix):
        print(path)
