"""Fit one person: all their photos in one batch, coarse to fine (``photoface.fit.config``).

1. landmarks and pose: a per-photo landmark fit from three yaw starts gives each photo its pose
   and expression (``photoface.fit.landmark_fit``), then all photos are fitted jointly with one
   identity (``photoface.fit.joint_landmarks``), jaw landmarks on the silhouette;
2. light and albedo: Adam through the renderer on the photometric terms, geometry fixed, so the
   mesh is rasterised once (``Renderer.geometry``) and only shaded at every step;
3. everything: Adam on landmarks + photometric + priors + albedo symmetry, the first
   ``coarse_photo_iterations`` steps on renders of ``coarse_size`` px (``photoface.fit.resolution``),
   the rest at the photos' size.

Adam rather than L-BFGS for stage 3, measured: at the same budget of 60 objective evaluations
(renders) after the same stages 1-2, on two synthetic test people of ``/tmp/fitdata``
(docs/evaluation.md), Adam reached objectives 195 and 161 and identity errors 1.07 and 1.17 mm
(dense proxy), L-BFGS (strong-Wolfe line search, history 10) 247 and 200, 1.47 and 1.40 mm: its
line searches spend the evaluations, and the photometric term is only piecewise smooth where the
render's coverage changes.

Failures per photo (``PersonFit.failures``): a non-finite result ("diverged"), a photometric error
that grew by ``fail_photo_increase`` and ``fail_photo_min_increase`` in stage 3 ("diverged:
photometric error grew ×…"), or a
final landmark RMS above ``fail_landmark_nme`` of the face size ("landmarks far off").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from photoface import losses
from photoface.fit.config import FitConfig
from photoface.fit.joint_landmarks import JointLandmarkFit, fit_joint_landmarks
from photoface.fit.landmark_fit import fit_landmarks
from photoface.fit.objective import (
    PhotoBatch,
    fit_terms,
    projected_landmarks,
    weighted_total,
)
from photoface.fit.parametrisation import Decoded, LinearParametrisation, Parametrisation
from photoface.fit.point_vertices import NUM_IBUG, FitPoints, landmark_points
from photoface.fit.resolution import coarse_batch, coarse_factor, coarse_pose, objective_weights
from photoface.render.camera import camera_space, project
from photoface.render.renderer import Renderer


@dataclass
class PersonFit:
    """The result for one person of B photos.

    Attributes:
        params: the fitted ``Parametrisation`` (decode() gives shapes, albedo, poses, lights).
        landmarks2d: (B, 68, 2) px, the fitted face's landmarks (jaw on the silhouette when the
            contour is on). vertices: (B, 68) the landmark vertices used.
        rms_px: (B,) weighted landmark RMS residual, px. nme: (B,) rms_px / sqrt(w·h) of the box.
        photo_error: (B,) masked mean squared colour error of the final render (NaN when the
            render stages are off).
        failures: {photo index: reason}. notes: person-level remarks (e.g. a single photo).
        history: per stage, the weighted objective at its start and end (NaN where not known,
            e.g. the landmark stage's start; a stage's start is on the coarse renders when its
            first steps are coarse, ``photoface.fit.resolution``).
        singles: each photo's own identity (``photoface.fit.collection.fit_singles``), or empty.
    """

    params: Parametrisation
    landmarks2d: np.ndarray
    vertices: np.ndarray
    rms_px: np.ndarray
    nme: np.ndarray
    photo_error: np.ndarray
    failures: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    history: dict[str, tuple[float, float]] = field(default_factory=dict)
    singles: list["PersonFit"] = field(default_factory=list)


def landmark_stage(face_model, batch: PhotoBatch, cfg: FitConfig, points: FitPoints) -> JointLandmarkFit:
    """Stage 1 (module docstring) on the batch's (B, N, 2) points; float64 throughout. The per-photo
    start (pose and expression) uses the 68 landmarks alone: it only has to pick the right basin,
    and MediaPipe's points would cost it 4× the time; the joint fit then uses all N points."""
    u = batch.landmarks.detach().cpu().double().numpy()
    w = batch.weights.detach().cpu().double().numpy()
    init = fit_landmarks(face_model, u[:, :NUM_IBUG], weights=w[:, :NUM_IBUG], sigma=cfg.landmark_sigma,
                         id_prior=cfg.id_prior, exp_prior=cfg.exp_prior,
                         iterations=max(cfg.landmark_init_iterations, 1), yaw_starts=cfg.yaw_starts,
                         vertex_ids=points.vertices[:NUM_IBUG], detector_start=batch.detector_start)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small ops: a second thread costs more than it brings
    try:
        return fit_joint_landmarks(
            face_model, u, w, init.alpha_id.mean(0), init.alpha_exp, init.pose, sigma=cfg.landmark_sigma,
            id_prior=cfg.id_prior, exp_prior=cfg.exp_prior, iterations=cfg.landmark_iterations, points=points,
            contour_min_yaw=cfg.contour_min_yaw)
    finally:
        torch.set_num_threads(threads)


def _per_photo_error(image, target, mask, face_mask) -> np.ndarray:
    return np.array([float(losses.photometric_loss(image[i:i + 1], target[i:i + 1], mask[i:i + 1],
                                                   face_mask[i:i + 1])) for i in range(len(image))])


def _snapshot(params: Parametrisation) -> dict[str, torch.Tensor]:
    """Copies of the unknowns only (not the face model's buffers, which never change)."""
    return {k: v.detach().clone() for k, v in params.named_parameters()}


@torch.no_grad()
def _restore(params: Parametrisation, snapshot: dict[str, torch.Tensor]) -> None:
    for k, v in params.named_parameters():
        v.copy_(snapshot[k])


def _adam_stage(params: Parametrisation, batch, renderer, cfg, stage, steps, vertices_fn, mirror, history,
                coarse_steps: int = 0):
    """``steps`` Adam steps on the ``stage`` groups, the first ``coarse_steps`` of them on renders of
    ``cfg.coarse_size`` px (``photoface.fit.resolution``; one optimiser throughout, so the fine
    steps go on from the coarse ones' state); returns the landmark vertices used last."""
    vertices = vertices_fn()
    if steps <= 0:
        return vertices
    opt = torch.optim.Adam(params.groups(stage))
    good = _snapshot(params)
    first = last = None
    k = coarse_factor(batch.image_size, cfg.coarse_size)
    levels = [(min(coarse_steps, steps), k), (steps - min(coarse_steps, steps), 1)] if k > 1 else [(steps, 1)]
    step = 0
    for level_steps, k in levels:
        if level_steps <= 0:
            continue
        level_batch, level_cfg = coarse_batch(batch, k), objective_weights(cfg, k)
        level_renderer = renderer if k == 1 else Renderer(renderer.faces, batch.image_size // k, renderer.cull_backfaces,
                                                          renderer.candidate_budget).to(renderer.faces.device)
        geometry = None
        if stage == "light":  # shape and pose stay fixed: rasterise once, shade every step
            with torch.no_grad():
                d = params.decode()
                geometry = level_renderer.geometry(d.shape, coarse_pose(d.pose, k))
        for _ in range(level_steps):
            if geometry is None and step and cfg.contour_every and step % cfg.contour_every == 0:
                vertices = vertices_fn()
            step += 1
            d = params.decode()
            d = Decoded(d.shape, d.albedo, coarse_pose(d.pose, k), d.light)
            terms, _, _ = fit_terms(d, level_batch, level_renderer, vertices, mirror, params.priors(),
                                    geometry=geometry)
            total = weighted_total(terms, level_cfg)
            if not torch.isfinite(total):
                _restore(params, good)  # a non-finite step: keep the last finite state
                history[stage] = (first, last)
                return vertices
            value = float(total.detach())
            first = value if first is None else first
            last = value
            good = _snapshot(params)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            params.project_()
    history[stage] = (first, last)
    return vertices


def landmark_outcome(lm2d: torch.Tensor, batch: PhotoBatch, shape: torch.Tensor, cfg: FitConfig):
    """How each photo's fit meets its 68 landmarks: (B,) weighted RMS px, (B,) NME (the RMS over
    sqrt(w·h) of the landmark box), and {photo: failure} for a non-finite result or an NME above
    ``cfg.fail_landmark_nme`` (module docstring). ``lm2d``: (B, 68, 2) px of the fitted face;
    ``shape``: (B, V, 3) its meshes."""
    u = batch.landmarks[:, :NUM_IBUG].double().cpu()
    w = batch.weights[:, :NUM_IBUG].double().cpu()
    rms = torch.sqrt((((lm2d.double().cpu() - u) ** 2).sum(-1) * w).sum(1) / w.sum(1).clamp_min(1e-9)).numpy()
    box = (u.amax(1) - u.amin(1)).clamp_min(1e-6)
    nme = rms / torch.sqrt(box[:, 0] * box[:, 1]).numpy()
    finite = torch.isfinite(shape).flatten(1).all(1).cpu().numpy() & np.isfinite(rms)
    failures = {}
    for i in range(len(rms)):
        if not finite[i]:
            failures[i] = "diverged: non-finite result"
        elif nme[i] > cfg.fail_landmark_nme:
            failures[i] = (f"landmarks far off: RMS {rms[i]:.1f} px = {100 * nme[i]:.1f} % of the face size "
                           f"(limit {100 * cfg.fail_landmark_nme:.0f} %)")
    return rms, nme, failures


def fit_person(face_model, batch: PhotoBatch, cfg: FitConfig | None = None, *, renderer=None,
               params: Parametrisation | None = None, points: FitPoints | None = None) -> PersonFit:
    """Fit one person's photos (module docstring).

    Args:
        face_model: ``MorphableModel`` (any: PCA or blendshape expressions, with or without albedo modes).
        batch: the person's photos, all in one batch.
        cfg: ``FitConfig`` (default values when None).
        renderer: a ``photoface.render.Renderer`` for the model's faces at the batch's size (built
            when None).
        points: the batch's N points and their vertices (``fit.point_vertices``: the 68 landmarks,
            with the jaw on the silhouette or not, and MediaPipe's points); None = the 68
            landmarks on fixed vertices (``landmark_points(face_model, contour=False)``).
        params: an already initialised ``Parametrisation`` of the batch's photos (e.g. a trained
            network's codes from its encoder, decoded by its decoders; the mesh must have the face
            model's topology): stage 1 is skipped and stages 2-3 refine it. None: the linear
            model's coefficients, initialised by stage 1.
    """
    cfg = cfg or FitConfig()
    points = points or landmark_points(face_model, contour=False)
    size = batch.image_size
    notes = []
    if len(batch) == 1:
        notes.append("one photo: identity and expression are separated by the priors alone")
    history = {}
    if params is None:
        joint = landmark_stage(face_model, batch, cfg, points)
        params = LinearParametrisation(face_model, size, joint.alpha_id, joint.alpha_exp, joint.pose,
                                       lr={"id": cfg.lr_id, "exp": cfg.lr_exp, "pose": cfg.lr_pose,
                                           "light": cfg.lr_light, "albedo": cfg.lr_albedo})
        history["landmarks"] = (float("nan"), joint.cost)
    render_stages = cfg.light_iterations + cfg.photo_iterations > 0
    mirror = face_model.mirror

    @torch.no_grad()
    def vertices_fn():
        d = params.decode()
        return points.pick(camera_space(d.shape, d.pose), d.pose[:, 1], cfg.contour_min_yaw)

    photo_error = np.full(len(batch), np.nan)
    failures: dict[int, str] = {}
    if render_stages:
        if renderer is None:
            renderer = Renderer(face_model.faces, size).to(face_model.mean.device)
        _adam_stage(params, batch, renderer, cfg, "light", cfg.light_iterations, vertices_fn, mirror, history)
        with torch.no_grad():
            d = params.decode()
            out = renderer.render(d.shape, d.albedo, d.pose, d.light)
            before = _per_photo_error(out.image, batch.images, out.mask, batch.masks)
        _adam_stage(params, batch, renderer, cfg, "all", cfg.photo_iterations, vertices_fn, mirror, history,
                    cfg.coarse_photo_iterations)
        with torch.no_grad():
            d = params.decode()
            out = renderer.render(d.shape, d.albedo, d.pose, d.light)
            photo_error = _per_photo_error(out.image, batch.images, out.mask, batch.masks)
        grew = (photo_error > cfg.fail_photo_increase * np.maximum(before, 1e-6)) & \
            (photo_error - before > cfg.fail_photo_min_increase)
        for i in np.flatnonzero(grew & (cfg.photo_iterations > 0)):
            failures[int(i)] = f"diverged: photometric error grew ×{photo_error[i] / max(before[i], 1e-6):.1f}"
    with torch.no_grad():
        d = params.decode()
        vertices = vertices_fn()
        vertices = vertices[:, :NUM_IBUG]  # results and failures are judged on the 68 landmarks
        lm2d = projected_landmarks(project(d.shape, d.pose), vertices).double()
    rms, nme, judged = landmark_outcome(lm2d, batch, d.shape, cfg)
    for i, why in judged.items():
        if why.startswith("diverged") or i not in failures:  # a non-finite result outranks the rest
            failures[i] = why
    return PersonFit(params, lm2d.numpy(), vertices.cpu().numpy(), rms, nme, photo_error, failures, notes, history)
