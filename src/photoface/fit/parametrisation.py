"""The unknowns of a fit and how they become a face: the ``Parametrisation`` interface.

The optimiser (``photoface.fit.person``) and the objective (``photoface.fit.objective``) see only
this interface, so the same fitting code runs on a linear face model (``LinearParametrisation``,
here) or on a trained network's codes and decoders (a second implementation with the same
methods). One parametrisation holds ONE person's B photos: per-person unknowns (identity,
albedo) shared by all of them, per-photo unknowns (expression, pose, light).

``decode()`` returns a ``Decoded``: shape (B, V, 3) mm in the model's canonical frame, albedo
(B, V, 3) linear RGB in [0, 1], pose (B, 6) physical (pitch, yaw, roll degrees, f px/mm, tx, ty
px) and light (B, 27) SH code (added to the renderer's default light).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.facemodel.model import clamp_to_bounds
from photoface.render.camera import code_from_pose, pose_from_code


@dataclass
class Decoded:
    """One person's faces: shape (B, V, 3) mm, albedo (B, V, 3), pose (B, 6) physical, light (B, 27)."""

    shape: torch.Tensor
    albedo: torch.Tensor
    pose: torch.Tensor
    light: torch.Tensor


class Parametrisation(torch.nn.Module):
    """Interface of a person's unknowns (module docstring). Subclasses implement:

    * ``decode() -> Decoded``;
    * ``priors() -> dict[str, Tensor]``: scalar prior terms by name (``identity``, ``expression``,
      ``albedo``, ``light``), each a mean over photos for per-photo unknowns;
    * ``groups(stage) -> list[dict]``: Adam parameter groups (``params``, ``lr``) of a stage,
      ``"light"`` (light and albedo only) or ``"all"``;
    * ``project_()``: put the unknowns back into their domain after an optimiser step;
    * ``codes() -> dict[str, np.ndarray]``: the unknowns to write out, per person and per photo;
    * ``identity_vector() -> np.ndarray``: the shared identity representation (D,);
    * ``neutral_shape() -> (1, V, 3)`` mm: the shared identity with a neutral expression;
    * ``albedo() -> (1, V, 3)``: the shared albedo.
    """

    def decode(self) -> Decoded:
        raise NotImplementedError

    def priors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def groups(self, stage: str) -> list[dict]:
        raise NotImplementedError

    def project_(self) -> None:
        raise NotImplementedError

    def codes(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def identity_vector(self) -> np.ndarray:
        raise NotImplementedError

    def neutral_shape(self) -> torch.Tensor:
        raise NotImplementedError

    def albedo(self) -> torch.Tensor:
        raise NotImplementedError


class LinearParametrisation(Parametrisation):
    """A linear face model's coefficients as the unknowns.

    Per person: ``alpha_id`` (1, K) standard-normal identity coefficients; the albedo as ``beta``
    (1, M) texture coefficients, or, for a model without albedo modes (M = 0, e.g. ICT-FaceKit),
    a per-vertex offset ``albedo_offset`` (1, V, 3) to the flat ``tex_mean``. Per photo:
    ``alpha_exp`` (B, L) (kept inside the model's ``exp_bounds`` by ``project_``: blendshape
    weights in [0, 1], FLAME's jaw opening >= 0), ``pose_code``
    (B, 6) the renderer's pose code (``photoface.render.camera.pose_from_code``), ``light`` (B, 27).

    Args:
        face_model: ``MorphableModel``.
        image_size: crop side in pixels (the pose code's scale).
        alpha_id: (K,) initial identity; alpha_exp: (B, L); pose: (B, 6) physical initial poses.
        lr: dict with keys id, exp, pose, light, albedo (Adam step sizes).
    """

    def __init__(self, face_model, image_size: int, alpha_id, alpha_exp, pose, lr: dict):
        super().__init__()
        self.model = face_model
        self.image_size = int(image_size)
        self.lr = dict(lr)
        dev, f32 = face_model.mean.device, torch.float32
        pose = torch.as_tensor(np.asarray(pose), dtype=f32, device=dev)
        b = len(pose)
        bounds = face_model.exp_bounds
        self.exp_bounds = bounds if bool(torch.isfinite(bounds).any()) else None
        self.alpha_id = torch.nn.Parameter(torch.as_tensor(np.asarray(alpha_id), dtype=f32, device=dev).reshape(1, -1))
        self.alpha_exp = torch.nn.Parameter(torch.as_tensor(np.asarray(alpha_exp), dtype=f32, device=dev).reshape(b, -1))
        self.pose_code = torch.nn.Parameter(code_from_pose(pose, self.image_size))
        self.light = torch.nn.Parameter(torch.zeros(b, 27, dtype=f32, device=dev))
        if face_model.n_tex > 0:
            self.beta = torch.nn.Parameter(torch.zeros(1, face_model.n_tex, dtype=f32, device=dev))
            self.albedo_offset = None
        else:
            self.beta = None
            self.albedo_offset = torch.nn.Parameter(torch.zeros(1, face_model.num_vertices, 3, dtype=f32, device=dev))

    @property
    def n_photos(self) -> int:
        return int(self.pose_code.shape[0])

    def _albedo(self) -> torch.Tensor:
        if self.beta is not None:
            return self.model.albedo(self.beta, clamp=False).clamp(0.0, 1.0)
        return (self.model.tex_mean[None] + self.albedo_offset).clamp(0.0, 1.0)

    def decode(self) -> Decoded:
        b = self.n_photos
        shape = self.model.shape(self.alpha_id.expand(b, -1), self.alpha_exp)
        albedo = self._albedo().expand(b, -1, -1)
        return Decoded(shape, albedo, pose_from_code(self.pose_code, self.image_size), self.light)

    def priors(self) -> dict[str, torch.Tensor]:
        out = {"identity": self.alpha_id.pow(2).sum(), "light": self.light.pow(2).sum(1).mean()}
        # bounded coefficients contain 0 and stay inside after project_, so the L2 pull goes towards neutral
        out["expression"] = self.alpha_exp.pow(2).sum(1).mean()
        if self.beta is not None:
            out["albedo"] = self.beta.pow(2).sum()
        else:
            # per-vertex albedo has no Gaussian prior; keep it near the flat mean, per vertex
            out["albedo"] = self.albedo_offset.pow(2).sum(-1).mean()
        return out

    def groups(self, stage: str) -> list[dict]:
        albedo = self.beta if self.beta is not None else self.albedo_offset
        light = [{"params": [self.light], "lr": self.lr["light"]}, {"params": [albedo], "lr": self.lr["albedo"]}]
        if stage == "light":
            return light
        return light + [{"params": [self.alpha_id], "lr": self.lr["id"]},
                        {"params": [self.alpha_exp], "lr": self.lr["exp"]},
                        {"params": [self.pose_code], "lr": self.lr["pose"]}]

    @torch.no_grad()
    def project_(self) -> None:
        if self.exp_bounds is not None:
            self.alpha_exp.copy_(clamp_to_bounds(self.alpha_exp, self.exp_bounds))

    @torch.no_grad()
    def codes(self) -> dict[str, np.ndarray]:
        d = self.decode()
        out = {"alpha_id": self.alpha_id[0].cpu().numpy(), "alpha_exp": self.alpha_exp.cpu().numpy(),
               "pose": d.pose.cpu().numpy(), "pose_code": self.pose_code.cpu().numpy(),
               "light": self.light.cpu().numpy()}
        if self.beta is not None:
            out["beta"] = self.beta[0].cpu().numpy()
        return out

    def identity_vector(self) -> np.ndarray:
        return self.alpha_id.detach()[0].cpu().numpy()

    @torch.no_grad()
    def neutral_shape(self) -> torch.Tensor:
        """(1, V, 3) mm: the shared identity with a neutral (zero) expression."""
        return self.model.shape(self.alpha_id)

    @torch.no_grad()
    def albedo(self) -> torch.Tensor:
        """(1, V, 3) the shared albedo."""
        return self._albedo()
