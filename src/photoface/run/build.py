"""The network of a run from its config: the face model it names and the FaceNet it describes.

``network_args(cfg)`` is the plain-data description of a FaceNet (encoder, image size, code sizes,
decoder widths, hierarchy factors). Checkpoints and inference exports store it, so that loading one
builds exactly that network and nothing else (no critic, no training operators), as timm rebuilds a
model from a name and the arguments stored with its weights.
"""

from __future__ import annotations

from typing import Any

from photoface.errors import PhotofaceError
from photoface.facemodel import MorphableModel
from photoface.mesh import load_or_build
from photoface.nn import FaceNet
from photoface.nn.code_map import linear_basis
from photoface.run.config import TrainConfig

NETWORK_KEYS = ("encoder", "image_size", "id_dim", "exp_dim", "cheb_k", "decoder_channels", "downsample_factors")
# Keys added later, with the value that reproduces networks stored without them (the paper's).
OPTIONAL_NETWORK_KEYS = {"landmark_input": 0, "shape_linear_path": False, "landmark_linear": False}


def network_args(cfg: TrainConfig) -> dict[str, Any]:
    """The FaceNet constructor arguments a config describes, as plain data (lists, ints, strings)."""
    m = cfg.model
    if m.pose_dim != 6 or m.light_dim != 27:
        raise PhotofaceError("model.pose_dim must be 6 and model.light_dim 27 (the renderer's contract)")
    args = {k: getattr(m, k) for k in (*NETWORK_KEYS, *OPTIONAL_NETWORK_KEYS)}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}


def build_network(
    face_model: MorphableModel,
    args: dict[str, Any],
    encoder_weights: str | None = None,
    channels_last: bool = False,
    stage: int = 1,
) -> FaceNet:
    """A FaceNet for ``face_model`` from :func:`network_args` (mesh hierarchy from the disk cache).

    Args:
        face_model: the face model (CPU).
        args: :func:`network_args` output, or the ``network`` entry of a checkpoint.
        encoder_weights: optional ImageNet weights file for the backbone (training only).
        channels_last: run the CNNs in channels_last memory format.
        stage: 1 (GCN albedo) or 2 (CNN albedo map).
    """
    missing = [k for k in NETWORK_KEYS if k not in args]
    if missing:
        raise PhotofaceError(f"network description lacks {missing}")
    args = {**OPTIONAL_NETWORK_KEYS, **args}
    hierarchy = load_or_build(
        face_model.mean.double().numpy(), face_model.faces.numpy(), tuple(args["downsample_factors"])
    )
    id_dim, exp_dim = int(args["id_dim"]), int(args["exp_dim"])
    basis = linear_basis(face_model, id_dim, exp_dim) if args["shape_linear_path"] else None
    return FaceNet(
        face_model, hierarchy, encoder=args["encoder"], image_size=int(args["image_size"]),
        id_dim=id_dim, exp_dim=exp_dim, decoder_channels=tuple(args["decoder_channels"]),
        cheb_k=int(args["cheb_k"]), encoder_weights=encoder_weights, channels_last=channels_last, stage=stage,
        landmark_input=int(args["landmark_input"]), shape_basis=basis,
        landmark_linear=bool(args["landmark_linear"]),
    )

