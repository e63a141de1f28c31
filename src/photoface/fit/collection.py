"""Fit a whole prepared dataset, one person at a time (streaming).

Only one person's photos are in memory at once: ``person_batches`` loads the images and masks
of one identity, ``fit_collection`` fits them and yields the result before the next identity is
read, so a 2,000-photo collection needs the memory of its largest person's batch, not more.

With ``FitConfig.single_photo_fits`` every photo also gets its own identity (:func:`fit_singles`):
what one photo says about the person's identity, next to what the whole collection says.
``PersonFit.singles`` holds those fits. For a linear-model fit they start from the joint fit
(``photoface.fit.single``, one batch for all photos); a trained network's refinement
(``make_params``) fits every photo alone from its encoder's codes (``fit_alone``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from photoface.data.format import DatasetRow, PreparedDataset
from photoface.fit.config import FitConfig
from photoface.fit.detector_start import detector_start
from photoface.fit.joint_landmarks import landmark_sigma_px
from photoface.fit.objective import PhotoBatch
from photoface.fit.person import PersonFit, fit_person
from photoface.fit.point_vertices import FitPoints, landmark_points, mediapipe_points, with_mediapipe_points
from photoface.fit.single import fit_photo_identities


def landmarks_are_fixed_vertices(dataset: PreparedDataset) -> bool:
    """True for synthetic datasets: their landmarks are projections of the model's fixed landmark
    vertices (plus noise), so the jaw landmarks must NOT slide to the silhouette."""
    return str(dataset.meta.source).startswith("synthetic")


def use_contour(cfg: FitConfig, dataset: PreparedDataset | None) -> bool:
    """Whether the jaw landmarks follow the silhouette for this dataset (``FitConfig.contour``)."""
    if cfg.contour == "auto":
        return dataset is None or not landmarks_are_fixed_vertices(dataset)
    return cfg.contour == "on"


def make_batch(images, masks, landmarks, visible, cfg: FitConfig, device=None, points=None,
               fit_points: FitPoints | None = None) -> PhotoBatch:
    """A ``PhotoBatch`` from (B, 3, S, S) images, (B, 1, S, S) masks, (B, 68, 2) px landmarks and
    (B, 68) visibility (None = all visible); invisible landmarks get ``cfg.invisible_weight``.
    With ``fit_points`` holding MediaPipe points, ``points`` (per photo (478, 2) px or None)
    follow the landmarks (``point_vertices.with_mediapipe_points``, ``cfg.dense_weight``)."""
    lm = torch.as_tensor(np.asarray(landmarks), dtype=torch.float32)
    vis = torch.ones(lm.shape[:2]) if visible is None else torch.as_tensor(np.asarray(visible), dtype=torch.float32)
    weights = vis + cfg.invisible_weight * (1.0 - vis)
    sigma = landmark_sigma_px(lm.double(), cfg.landmark_sigma).float()
    if fit_points is not None and len(fit_points.mediapipe_ids):
        both, w = with_mediapipe_points(lm.double().numpy(), weights.double().numpy(),
                                        list(points) if points is not None else [None] * len(lm), fit_points,
                                        cfg.dense_weight)
        lm, weights = torch.as_tensor(both, dtype=torch.float32), torch.as_tensor(w, dtype=torch.float32)
    return PhotoBatch(images.float().to(device), masks.float().to(device), lm.to(device), weights.to(device),
                      sigma.to(device))


def person_rows(dataset: PreparedDataset) -> list[tuple[str, list[DatasetRow]]]:
    """Rows grouped by identity, identities in first-appearance order."""
    groups: dict[str, list[DatasetRow]] = {}
    for r in dataset.rows:
        groups.setdefault(r.identity, []).append(r)
    return list(groups.items())


def load_person(dataset: PreparedDataset, rows: list[DatasetRow], cfg: FitConfig, device=None,
                fit_points: FitPoints | None = None) -> PhotoBatch:
    """The batch of one person's rows: images, masks, landmarks, visibility (and MediaPipe's
    points, with ``fit_points`` from ``fit_points_for``)."""
    images = torch.stack([dataset.load_image(r) for r in rows])
    masks = torch.stack([dataset.load_mask(r) for r in rows])
    landmarks = np.stack([r.landmarks for r in rows])
    visible = None if any(r.visible is None for r in rows) else np.stack([r.visible for r in rows])
    return make_batch(images, masks, landmarks, visible, cfg, device, [r.points for r in rows], fit_points)


def fit_points_for(face_model, cfg: FitConfig, dataset: PreparedDataset | None, has_points: bool) -> FitPoints:
    """The points a dataset's fit uses: the 68 landmarks, followed by MediaPipe's points when
    ``has_points`` (some row carries them) and ``cfg.dense_points`` allows."""
    contour = use_contour(cfg, dataset)
    if has_points and cfg.dense_points != "off":
        return mediapipe_points(face_model, contour)
    return landmark_points(face_model, contour)


def photo_batch(batch: PhotoBatch, i: int) -> PhotoBatch:
    """Photo ``i`` of ``batch`` as a batch of one (its detector start too, when there is one)."""
    start = None if batch.detector_start is None else tuple(x[i:i + 1] for x in batch.detector_start)
    return PhotoBatch(*(x[i:i + 1] for x in (batch.images, batch.masks, batch.landmarks, batch.weights,
                                              batch.sigma_px)), detector_start=start)


def fit_alone(face_model, batch: PhotoBatch, cfg: FitConfig, renderer=None, points=None,
              make_params=None) -> list[PersonFit]:
    """Every photo of ``batch`` fitted alone from scratch (``fit_person`` on a batch of one), in order."""
    singles = []
    for i in range(len(batch)):
        one = photo_batch(batch, i)
        params = None if make_params is None else make_params(one)
        singles.append(fit_person(face_model, one, cfg, renderer=renderer, params=params, points=points))
    return singles


def fit_singles(face_model, batch: PhotoBatch, joint: PersonFit, cfg: FitConfig, renderer=None, points=None,
                make_params=None) -> list[PersonFit]:
    """Every photo's own identity, in order: from the person's joint fit ``joint`` for a linear
    model (``photoface.fit.single.fit_photo_identities``), else (``make_params``) ``fit_alone``.
    ``points``: the joint fit's ``FitPoints`` (None = the 68 landmarks, fixed vertices)."""
    if make_params is not None:
        return fit_alone(face_model, batch, cfg, renderer, points, make_params)
    return fit_photo_identities(face_model, batch, joint, cfg, renderer=renderer, points=points)


def fit_collection(dataset: PreparedDataset, face_model, cfg: FitConfig | None = None, renderer=None,
                   make_params=None) -> Iterator[tuple[str, list[DatasetRow], PersonFit]]:
    """Fit every person of ``dataset`` in turn; yields (identity, rows, PersonFit) per person.

    ``make_params(batch) -> Parametrisation`` gives each person's initial unknowns (e.g.
    ``NetworkParametrisation.from_encoder``); None = the linear model, from the landmark stage.
    With ``cfg.single_photo_fits`` each PersonFit's ``singles`` holds every photo's own identity."""
    cfg = cfg or FitConfig()
    # a trained network's encoder takes the 68 landmarks: its refinement fits those alone
    has_points = make_params is None and any(r.points is not None for r in dataset.rows)
    points = fit_points_for(face_model, cfg, dataset, has_points)
    device = face_model.mean.device
    if renderer is None and cfg.light_iterations + cfg.photo_iterations > 0:
        from photoface.render.renderer import Renderer

        renderer = Renderer(face_model.faces, dataset.meta.image_size).to(device)
    for identity, rows in person_rows(dataset):
        batch = load_person(dataset, rows, cfg, device, points)
        if cfg.detector_start:
            batch.detector_start = detector_start(face_model, rows)
        params = None if make_params is None else make_params(batch)
        fit = fit_person(face_model, batch, cfg, renderer=renderer, params=params, points=points)
        if cfg.single_photo_fits:
            fit.singles = fit_singles(face_model, batch, fit, cfg, renderer, points, make_params)
        yield identity, rows, fit
