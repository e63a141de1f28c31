"""Per-photo identities of one person, started from the person's joint fit: cheap single-photo fits.

``photoface fit`` writes, next to the person's shared identity, what each photo says about it on
its own (``codes.identity_single``). Fitting every photo from scratch (``fit_person`` on a batch of
one) repeats the whole coarse-to-fine fit per photo; measured, that added 1.5 s CPU per photo to a
5-photo person (docs/benchmarks.md). Here the joint fit's per-photo unknowns are reused and only
what a photo alone must decide is solved again, for all photos of the person in ONE batch:

1. identity and expression from the photo's own points (the 68 landmarks, and MediaPipe's points
   when the joint fit used them), in closed form: with the joint fit's pose and the points'
   vertices fixed, the weak-perspective points are linear in the coefficients, so the MAP of
   ``landmark_energy + id_prior |α_id|² + exp_prior |α_exp|²`` (the landmark stage's objective)
   is one ridge solve per photo. The landmark stage's priors, not the render stages' (``w_id``,
   ``w_exp``): measured on 10 synthetic people × 5 photos (``photoface synth`` of builtin:demo,
   the built-in model before issue 20's redesign), with ``w_exp`` = 1 the expression took up part
   of the identity and the per-photo identity meshes were 3.47 mm from the truth, with
   ``exp_prior`` = 10 3.28 mm (first 10 photos; docs/evaluation.md, "Fitting"). The shared
   identity is NOT the start: the solve does not depend on it, so the photo's identity owes
   nothing to the other photos' identity (its pose, expression start, light and the albedo are
   the joint fit's);
2. ``single_photo_iterations`` Adam steps through the renderer (the first
   ``coarse_single_iterations``, by default all, on renders of ``coarse_size`` px:
   ``photoface.fit.resolution``) on the per-photo identity,
   expression, pose and light (albedo fixed at the person's), landmarks + photometric + priors,
   every photo's identity with its own prior (``PhotoIdentities``), the identity's step
   ``single_photo_lr_id``: three times the joint fit's ``lr_id``, for so few steps (measured on
   the same synthetic people: 3.68 vs 3.76 mm, EER 0.040 vs 0.060 on the first 25 photos;
   optimising the albedo too changed nothing).
"""

from __future__ import annotations

import numpy as np
import torch

from photoface.facemodel.model import clamp_to_bounds
from photoface.fit.config import FitConfig
from photoface.fit.objective import PhotoBatch, projected_landmarks
from photoface.fit.parametrisation import LinearParametrisation
from photoface.fit.person import PersonFit, _adam_stage, landmark_outcome
from photoface.fit.point_vertices import NUM_IBUG, FitPoints, landmark_points
from photoface.render.camera import camera_space, project, rotation_matrix


class PhotoIdentities(LinearParametrisation):
    """A ``LinearParametrisation`` whose identity is per photo: ``alpha_id`` (B, K), its prior
    Σ_b |α_id,b|² (the objective divides shared terms by B, so each photo's identity is weighed
    against its own photo's data as in a fit of that photo alone). Stage ``"single"`` optimises
    identity, expression, pose and light; the albedo stays the person's."""

    def __init__(self, face_model, image_size: int, alpha_id, alpha_exp, pose, lr: dict):
        super().__init__(face_model, image_size, np.zeros(face_model.n_id), alpha_exp, pose, lr)
        b = self.n_photos
        self.alpha_id = torch.nn.Parameter(torch.as_tensor(np.asarray(alpha_id), dtype=torch.float32,
                                                           device=self.pose_code.device).reshape(b, -1))

    def groups(self, stage: str) -> list[dict]:
        if stage != "single":
            return super().groups(stage)
        return [{"params": [self.light], "lr": self.lr["light"]}, {"params": [self.alpha_id], "lr": self.lr["id"]},
                {"params": [self.alpha_exp], "lr": self.lr["exp"]}, {"params": [self.pose_code], "lr": self.lr["pose"]}]

    def photo(self, i: int) -> LinearParametrisation:
        """Photo ``i`` as a one-photo ``LinearParametrisation`` (its own identity, the person's albedo)."""
        with torch.no_grad():
            pose = self.decode().pose[i:i + 1]
            one = LinearParametrisation(self.model, self.image_size, self.alpha_id[i].cpu().numpy(),
                                        self.alpha_exp[i:i + 1].cpu().numpy(), pose.cpu().numpy(), self.lr)
            one.pose_code.copy_(self.pose_code[i:i + 1])
            one.light.copy_(self.light[i:i + 1])
            if self.beta is not None:
                one.beta.copy_(self.beta)
            else:
                one.albedo_offset.copy_(self.albedo_offset)
        return one


@torch.no_grad()
def landmark_coefficients(face_model, pose: torch.Tensor, vertices: torch.Tensor, batch: PhotoBatch,
                          cfg: FitConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per photo, the MAP identity (B, K) and expression (B, L) of its own landmarks (module
    docstring, step 1) under ``cfg.id_prior`` and ``cfg.exp_prior``, given (B, 6) physical poses
    and the (B, N) vertices of the batch's N points; float64 solve. The expression is clamped to the
    model's ``exp_bounds`` afterwards (blendshape weights in [0, 1], FLAME's jaw opening ≥ 0)."""
    k = face_model.n_id
    basis = torch.cat([face_model.id_basis, face_model.exp_basis]).double()  # (K + L, V, 3)
    pose = pose.double()
    rot = rotation_matrix(torch.deg2rad(pose[:, :3]))  # (B, 3, 3)
    at = basis[:, vertices.to(basis.device)]  # (K + L, B, N, 3)
    cam = torch.einsum("nbvj,bij->bnvi", at, rot)
    f = pose[:, 3, None, None]
    jac = torch.stack([f * cam[..., 0], -f * cam[..., 1]], -1).flatten(2)  # (B, K + L, 2N) px per coefficient
    mean = face_model.mean.double()[None].expand(len(pose), -1, -1)
    offset = projected_landmarks(project(mean, pose), vertices)  # the mean face's points (B, N, 2)
    target = (batch.landmarks.double() - offset).flatten(1)  # (B, 2N)
    w = (batch.weights.double() / batch.sigma_px.double()[:, None] ** 2).repeat_interleave(2, 1)  # (B, 2N)
    prior = torch.cat([torch.full((k,), cfg.id_prior), torch.full((basis.shape[0] - k,), cfg.exp_prior)])
    lhs = torch.einsum("bnx,bx,bmx->bnm", jac, w, jac) + torch.diag_embed(prior.double().expand(len(pose), -1))
    rhs = torch.einsum("bnx,bx,bx->bn", jac, w, target)
    coeffs = torch.linalg.solve(lhs, rhs).float()
    alpha_id, alpha_exp = coeffs[:, :k], coeffs[:, k:]
    return alpha_id, clamp_to_bounds(alpha_exp, face_model.exp_bounds)


def fit_photo_identities(face_model, batch: PhotoBatch, joint: PersonFit, cfg: FitConfig | None = None, *,
                         renderer=None, points: FitPoints | None = None) -> list[PersonFit]:
    """Each photo's own identity, from the person's joint fit ``joint`` (module docstring).

    Args:
        face_model: the linear ``MorphableModel`` of ``joint`` (a ``LinearParametrisation`` fit).
        batch: the person's photos, as fitted by ``joint``.
        cfg: ``FitConfig`` (``single_photo_iterations``, the objective's weights).
        renderer: the ``Renderer`` of the joint fit (needed when there are Adam steps).
        points: the joint fit's ``FitPoints`` (None = the 68 landmarks on fixed vertices).

    Returns:
        One ``PersonFit`` of one photo per photo, in order (params: ``LinearParametrisation``).
    """
    cfg = cfg or FitConfig()
    points = points or landmark_points(face_model, contour=False)
    if not isinstance(joint.params, LinearParametrisation):
        raise TypeError("fit_photo_identities needs a linear-model joint fit (LinearParametrisation)")
    with torch.no_grad():
        d = joint.params.decode()
    vertices = points.pick(camera_space(d.shape, d.pose), d.pose[:, 1], cfg.contour_min_yaw)
    alpha_id, alpha_exp = landmark_coefficients(face_model, d.pose, vertices, batch, cfg)
    params = PhotoIdentities(face_model, batch.image_size, alpha_id.cpu().numpy(), alpha_exp.cpu().numpy(),
                             d.pose.cpu().numpy(), dict(joint.params.lr, id=cfg.single_photo_lr_id))
    with torch.no_grad():
        params.pose_code.copy_(joint.params.pose_code)
        params.light.copy_(joint.params.light)
        if params.beta is not None:
            params.beta.copy_(joint.params.beta)
        else:
            params.albedo_offset.copy_(joint.params.albedo_offset)

    @torch.no_grad()
    def vertices_fn():
        dd = params.decode()
        return points.pick(camera_space(dd.shape, dd.pose), dd.pose[:, 1], cfg.contour_min_yaw)

    history: dict[str, tuple[float, float]] = {}
    steps = cfg.single_photo_iterations if renderer is not None else 0
    vertices = _adam_stage(params, batch, renderer, cfg, "single", steps, vertices_fn, face_model.mirror, history,
                           cfg.coarse_single_iterations)
    vertices = vertices[:, :NUM_IBUG]  # results and failures are judged on the 68 landmarks, as the joint fit's
    with torch.no_grad():
        dd = params.decode()
        lm2d = projected_landmarks(project(dd.shape, dd.pose), vertices).double().cpu()
    rms, nme, failures = landmark_outcome(lm2d, batch, dd.shape, cfg)
    fits = []
    for i in range(len(batch)):
        fits.append(PersonFit(params.photo(i), lm2d[i:i + 1].numpy(), vertices[i:i + 1].cpu().numpy(),
                              rms[i:i + 1], nme[i:i + 1], np.full(1, np.nan),
                              {0: failures[i]} if i in failures else {},
                              ["one photo: identity from this photo, started from the person's joint fit"],
                              {k: v for k, v in history.items()}))
    return fits
