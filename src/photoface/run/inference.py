"""Load a trained network for inference: FaceNet, its face model and its config.

``load_trained(SOURCE)`` is what the apps (reconstruct, fit, transfer, verify, demo) and the
evaluation call; nothing here trains. ``SOURCE`` is one of

* a run folder: the weights its validation selected (``checkpoints/best.pt``), or its newest
  checkpoint (``checkpoints/last.pt``) for a run trained without validation;
* a training checkpoint ``RUN/checkpoints/step_*.pt`` (or one copied elsewhere);
* an inference export written by :func:`photoface.run.export.export_model` (weights, network
  arguments, face-model name and hash, config, calibration; what people share).

Only :class:`~photoface.nn.FaceNet` is built, from the network arguments stored with the weights
(``network``; for checkpoints written before that entry existed, from the config): never the
critic or the training operators.

Which config: the file's own ``config`` entry, i.e. exactly the settings its weights were trained
with. ``RUN/config.yaml`` is the fallback for a checkpoint without one; it is rewritten on every
``--resume`` and may differ in keys that do not change the network (step counts, logging).

Checks, each a :class:`~photoface.errors.PhotofaceError` naming the file and the problem, raised
before anything is written anywhere: missing, torn or foreign files; a face model that is not the
one the weights were trained with (content hash), e.g. an ``.npz`` path in the config that now
holds another model, or ``face_model=`` given by the user; weights that do not fit the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import MorphableModel, hash_mismatch_advice, load_face_model, model_hash
from photoface.nn import FaceNet, FaceNetOutput
from photoface.run import checkpoint as ckpt
from photoface.run.build import build_network, network_args
from photoface.run.config import TrainConfig
from photoface.run.config_parse import from_dict, load_yaml
from photoface.run.layout import config_path, run_of_checkpoint, selected_checkpoint, verification_path

EXPORT_FORMAT = "photoface-model"
EXPORT_VERSION = 1


@dataclass
class Trained:
    """A trained generator ready for inference (eval mode, no gradients).

    Attributes:
        net: the FaceNet in the checkpoint's stage (1: per-vertex GCN albedo, 2: CNN albedo map).
        face_model: the face model it was trained with (same device as ``net``).
        face_model_hash: its content hash, as recorded with the weights.
        config: the run's training config.
        checkpoint: the file that was read (a checkpoint or an export).
        run_dir: the run folder, or None when the file lies elsewhere.
        step, stage: training step and stage of the weights.
        identities: the training identities (classes of the recognition head).
        calibration: the verification calibration (``threshold``, ``calibrated_on``, ...) from
            ``RUN/verification.json`` or embedded in an export, or None.
        calibration_source: where ``calibration`` was read.
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
    calibration: dict | None = None
    calibration_source: Path | None = None

    @property
    def image_size(self) -> int:
        """Side of the square input crops, pixels."""
        return self.net.image_size

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def predict(self, images: torch.Tensor, render: bool = True, background=None,
                landmarks: torch.Tensor | None = None) -> FaceNetOutput:
        """images (B, 3, S, S) in [0, 1] → :class:`~photoface.nn.FaceNetOutput` (no gradients).

        ``landmarks`` (B, 68, 2): the photos' detected landmarks in crop pixels, required when
        :attr:`uses_landmarks` (a run trained with ``model.landmark_input``), ignored otherwise."""
        if self.uses_landmarks:
            if landmarks is None:
                raise PhotofaceError("this run's encoder takes the photos' 68 landmarks (model.landmark_input); "
                                     "none were given")
            landmarks = torch.as_tensor(landmarks, dtype=torch.float32).to(self.device)
        else:
            landmarks = None
        return self.net(images.to(self.device, torch.float32), render=render, background=background,
                        landmarks=landmarks)

    @property
    def uses_landmarks(self) -> bool:
        """True when :meth:`predict` needs the photos' landmarks."""
        return self.net.uses_landmarks

    @torch.no_grad()
    def vertex_albedo(self, out: FaceNetOutput) -> torch.Tensor:
        """(B, V, 3) per-vertex albedo in (0, 1) of a rendered prediction (both stages)."""
        return self.net.vertex_albedo(out)


def resolve_source(path: str | Path) -> tuple[Path, Path | None]:
    """(weights file, run folder or None) from a run folder (its selected checkpoint, see
    :func:`photoface.run.layout.selected_checkpoint`) or a file path."""
    path = Path(path)
    if path.is_dir():
        found = selected_checkpoint(path)
        if found is None:
            raise InputFileError(path, "not a trained run: no checkpoints/last.pt in this folder")
        return found, path
    if not path.exists():
        raise InputFileError(path, "no such run folder, checkpoint or model file")
    return path, run_of_checkpoint(path)


def read_weights_file(path: Path) -> dict[str, Any]:
    """A training checkpoint or an inference export, validated (format, version)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a torn or foreign file
        raise InputFileError(path, f"not a readable photoface file ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and state.get("format") == EXPORT_FORMAT:
        if state.get("version") != EXPORT_VERSION:
            raise InputFileError(path, f"model file version {state.get('version')} is not supported "
                                       f"(expected {EXPORT_VERSION})")
        return state
    return ckpt.check_checkpoint(state, path)


def config_of(state: dict, source: Path, run_dir: Path | None) -> TrainConfig:
    if isinstance(state.get("config"), dict):
        try:
            return from_dict(state["config"])
        except PhotofaceError as exc:
            raise InputFileError(source, f"its config cannot be read ({exc})") from None
    if run_dir is not None:
        return load_yaml(config_path(run_dir))
    raise InputFileError(source, "holds no config and has no run folder with config.yaml next to it")


def read_calibration(run_dir: Path | None, state: dict) -> tuple[dict | None, Path | None]:
    """The verification calibration of a run folder (``verification.json``) or an export."""
    if run_dir is not None and verification_path(run_dir).is_file():
        path = verification_path(run_dir)
        try:
            return json.loads(path.read_text()), path
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read the calibration ({type(exc).__name__}: {exc})") from None
    embedded = state.get("calibration")
    if isinstance(embedded, str):
        return json.loads(embedded), None
    return None, None


def load_trained(
    source: str | Path,
    device: str | torch.device = "cpu",
    face_model: str | Path | None = None,
) -> Trained:
    """Rebuild the trained FaceNet of a run, checkpoint or exported model for inference.

    Args:
        source: a run folder, a checkpoint file or an exported model file (module docstring).
        device: where to put the network ("cpu", "cuda", ...).
        face_model: optional face-model file to use instead of the one named with the weights
            (e.g. when that file has moved); it must be the same model (content hash).

    Returns:
        :class:`Trained`.

    Raises:
        InputFileError: the file is missing, corrupt, not a photoface file, belongs to another
            face model, or its weights do not fit its network description.
        PhotofaceError: the face model named with the weights cannot be loaded.
    """
    path, run_dir = resolve_source(source)
    state = read_weights_file(path)
    cfg = config_of(state, path, run_dir)
    expected = state.get("face_model_hash")
    if not isinstance(expected, str):
        raise InputFileError(path, "records no face-model hash; cannot check which face model it needs")

    spec = str(face_model) if face_model is not None else cfg.model.face_model
    try:
        model = load_face_model(spec)
    except PhotofaceError as exc:
        raise PhotofaceError(
            f"{path}: cannot load its face model {spec!r} ({exc}); pass the face-model file explicitly"
        ) from None
    digest = model_hash(model)
    if digest != expected:
        raise InputFileError(
            path,
            f"was trained with face model {state.get('face_model')!r} (hash {expected[:12]}), but {spec!r} "
            f"has hash {digest[:12]}: another face model; use the face model the run was trained with."
            + hash_mismatch_advice(state.get("face_model"), expected),
        )

    args = state.get("network") or network_args(cfg)
    stage = int(state.get("stage", 1))
    net = build_network(model, args, stage=stage)
    ckpt.check_hierarchy(path, state, net.hierarchy.digest())
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()} \
        if isinstance(state.get("model"), dict) else state.get("model")
    try:
        net.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(path, f"its weights do not fit the network it describes ({detail})") from None
    device = torch.device(device)
    net.to(device).eval().requires_grad_(False)
    calibration, calibration_source = read_calibration(run_dir, state)
    return Trained(
        net=net, face_model=model.to(device), face_model_hash=digest, config=cfg, checkpoint=path,
        run_dir=run_dir, step=int(state.get("step", 0)), stage=stage,
        identities=list(state.get("identities") or []),
        calibration=calibration, calibration_source=calibration_source,
    )
