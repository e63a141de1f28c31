"""Load a trained run for inference: FaceNet, its face model and its config, from a checkpoint.

``load_trained(RUN or CHECKPOINT.pt)`` is what the apps (reconstruct, transfer, verify, demo) and
the evaluation call; nothing here trains. A run folder means its ``checkpoints/last.pt``.

Which config: the checkpoint's own ``config`` entry, i.e. exactly the settings its weights were
trained with. ``RUN/config.yaml`` is the fallback for a checkpoint without one; it is rewritten
on every ``--resume`` and may differ in keys that do not change the network (step counts, logging).

Checks, each a :class:`~photoface.errors.PhotofaceError` naming the file and the problem, raised
before anything is written anywhere:

* missing, torn or foreign checkpoint files (via :func:`photoface.train.checkpoint.load_checkpoint`);
* a face model that is not the one the checkpoint was trained with (content hash), e.g. an
  ``.npz`` path in the config that now holds another model, or ``face_model=`` given by the user;
* weights that do not fit the network the config describes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import MorphableModel, hash_mismatch_advice, load_face_model, model_hash
from photoface.nn import FaceNet, FaceNetOutput
from photoface.train import checkpoint as ckpt
from photoface.train.build import build_parts
from photoface.train.config import TrainConfig, from_dict, load_yaml


@dataclass
class Trained:
    """A trained generator ready for inference (eval mode, no gradients).

    Attributes:
        net: the FaceNet in the checkpoint's stage (1: per-vertex GCN albedo, 2: CNN albedo map).
        face_model: the face model it was trained with (same device as ``net``).
        face_model_hash: its content hash, as recorded in the checkpoint.
        config: the run's training config.
        checkpoint: the checkpoint file that was read.
        run_dir: the run folder, or None when the checkpoint lies elsewhere.
        step, stage: training step and stage of the checkpoint.
        identities: the training identities (classes of the recognition head).
    """

    net: FaceNet
    face_model: MorphableModel
    face_model_hash: str
    config: TrainConfig
    checkpoint: Path
    run_dir: Path | None
    step: int
    stage: int
    identities: list[str]

    @property
    def image_size(self) -> int:
        """Side of the square input crops, pixels."""
        return self.net.image_size

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def predict(self, images: torch.Tensor, render: bool = True, background=None) -> FaceNetOutput:
        """images (B, 3, S, S) in [0, 1] → :class:`~photoface.nn.FaceNetOutput` (no gradients)."""
        return self.net(images.to(self.device, torch.float32), render=render, background=background)

    @torch.no_grad()
    def vertex_albedo(self, out: FaceNetOutput) -> torch.Tensor:
        """(B, V, 3) per-vertex albedo in (0, 1) of a rendered prediction (both stages)."""
        return self.net.vertex_albedo(out)


def _resolve(path: str | Path) -> tuple[Path, Path | None]:
    """(checkpoint file, run folder or None) from a run folder or a checkpoint path."""
    path = Path(path)
    if path.is_dir():
        found = ckpt.last_checkpoint(path)
        if found is None:
            raise InputFileError(path, "not a trained run: no checkpoints/last.pt in this folder")
        return found, path
    if not path.exists():
        raise InputFileError(path, "no such run folder or checkpoint file")
    run = path.parent.parent
    return path, run if (run / "config.yaml").is_file() and path.parent.name == "checkpoints" else None


def _config(state: dict, checkpoint: Path, run_dir: Path | None) -> TrainConfig:
    if isinstance(state.get("config"), dict):
        try:
            return from_dict(state["config"])
        except PhotofaceError as exc:
            raise InputFileError(checkpoint, f"its config cannot be read ({exc})") from None
    if run_dir is not None:
        return load_yaml(run_dir / "config.yaml")
    raise InputFileError(checkpoint, "holds no config and has no run folder with config.yaml next to it")


def load_trained(
    run_dir_or_checkpoint: str | Path,
    device: str | torch.device = "cpu",
    face_model: str | Path | None = None,
) -> Trained:
    """Rebuild the trained FaceNet of a run for inference.

    Args:
        run_dir_or_checkpoint: a run folder (its ``checkpoints/last.pt``) or a checkpoint file.
        device: where to put the network ("cpu", "cuda", ...).
        face_model: optional face-model file to use instead of the one named in the config (e.g.
            when that file has moved); it must be the same model (content hash).

    Returns:
        :class:`Trained`.

    Raises:
        InputFileError: the checkpoint is missing, corrupt, not a photoface checkpoint, belongs to
            another face model, or its weights do not fit its config.
        PhotofaceError: the face model named in the config cannot be loaded.
    """
    checkpoint, run_dir = _resolve(run_dir_or_checkpoint)
    state = ckpt.load_checkpoint(checkpoint)
    cfg = _config(state, checkpoint, run_dir)
    expected = state.get("face_model_hash")
    if not isinstance(expected, str):
        raise InputFileError(checkpoint, "records no face-model hash; cannot check which face model it needs")

    spec = str(face_model) if face_model is not None else cfg.model.face_model
    try:
        model = load_face_model(spec)
    except PhotofaceError as exc:
        raise PhotofaceError(
            f"{checkpoint}: cannot load its face model {spec!r} ({exc}); pass the face-model file explicitly"
        ) from None
    digest = model_hash(model)
    if digest != expected:
        raise InputFileError(
            checkpoint,
            f"was trained with face model {state.get('face_model')!r} (hash {expected[:12]}), but {spec!r} "
            f"has hash {digest[:12]}: another face model; use the face model the run was trained with."
            + hash_mismatch_advice(state.get("face_model"), expected),
        )

    build_cfg = copy.deepcopy(cfg)
    build_cfg.model.face_model = spec
    build_cfg.model.encoder_weights = None  # the checkpoint overwrites every weight
    build_cfg.schedule.channels_last = False
    device = torch.device(device)
    parts = build_parts(build_cfg, device)
    ckpt.check_hierarchy(checkpoint, state, parts.hierarchy_digest)
    net = parts.net
    stage = int(state.get("stage", 1))
    net.stage = stage
    try:
        net.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(checkpoint, f"its weights do not fit the network its config describes ({detail})") from None
    net.eval().requires_grad_(False)
    return Trained(
        net=net, face_model=parts.face_model, face_model_hash=digest, config=cfg, checkpoint=checkpoint,
        run_dir=run_dir, step=int(state.get("step", 0)), stage=stage,
        identities=list(state.get("identities") or []),
    )
