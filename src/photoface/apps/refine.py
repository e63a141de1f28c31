"""``reconstruct --refine``: the network's reconstruction refined by the fitting objective.

Each group of photos (one person) is predicted by the network, then its codes are optimised
(``photoface.fit.network.NetworkParametrisation`` through ``photoface.fit.fit_person``): one
shared identity code per group, expression, pose and light per photo. Which photos form a group
is the caller's choice: by default every photo is its own person (reconstruct's inputs are
arbitrary photos, and merging two people's identities would be silently wrong); with
``--same-person`` all the given photos are one person.

Per photo the fit needs 68 target landmarks and a face mask:

* landmarks: the detected ones of raw photos (jaw landmarks then follow the silhouette,
  ``photoface.fit.contour``); for ``--aligned`` crops, which carry none, the network's own
  projected landmarks at initialisation, so the landmark term holds the geometry where the
  network put it while the photometric terms refine it;
* mask: ``photoface.data.prepare.mask.face_mask`` of the crop and those landmarks, as ``prepare``
  makes it.

The result is returned as a rendered ``FaceNetOutput`` (per-vertex albedo, so ``reconstruct``
writes it like a stage-1 prediction) and one residual record per photo.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from photoface.apps.inputs import FaceInput, stacked_landmarks
from photoface.data.prepare.mask import face_mask
from photoface.fit.collection import make_batch
from photoface.fit.network import NetworkParametrisation
from photoface.fit.person import fit_person
from photoface.fit.point_vertices import landmark_points


def target_landmarks(faces: list[FaceInput], predicted: torch.Tensor) -> tuple[np.ndarray, bool]:
    """(B, 68, 2) crop px targets and whether they are all detected (module docstring)."""
    detected = all(f.landmarks is not None for f in faces)
    lm = [np.asarray(f.landmarks if f.landmarks is not None else predicted[i].detach().cpu().double().numpy(),
                     np.float64) for i, f in enumerate(faces)]
    return np.stack(lm), detected


def masks_of(crops: torch.Tensor, landmarks: np.ndarray) -> torch.Tensor:
    """(B, 1, S, S) face masks of (B, 3, S, S) crops in [0, 1] and their (B, 68, 2) landmarks."""
    u8 = (crops.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return torch.stack([torch.from_numpy(face_mask(u8[i], landmarks[i]).astype(np.float32))[None]
                        for i in range(len(u8))])


def residual_record(fit, i: int) -> dict:
    """The JSON residuals of photo ``i`` of a fit."""
    pe = float(fit.photo_error[i])
    return {"landmark_rms_px": round(float(fit.rms_px[i]), 4), "landmark_nme": round(float(fit.nme[i]), 5),
            "photometric_mse": None if not np.isfinite(pe) else round(pe, 6), "failure": fit.failures.get(i),
            "objective": {k: list(v) for k, v in fit.history.items()}, "notes": list(fit.notes)}


def refine_group(trained, faces: list[FaceInput], cfg):
    """Refine one person's photos (module docstring).

    Args:
        trained: ``photoface.run.inference.Trained``. faces: the person's photos. cfg: ``FitConfig``.

    Returns:
        (rendered ``FaceNetOutput`` of the refined codes, [residual record per photo]).
    """
    crops = torch.stack([f.crop for f in faces]).to(trained.device)
    encoder_landmarks = stacked_landmarks(faces)
    first = trained.predict(crops, render=False, landmarks=encoder_landmarks)
    landmarks, detected = target_landmarks(faces, first.landmarks2d)
    batch = make_batch(crops, masks_of(crops, landmarks), landmarks, None, cfg, trained.device)
    points = landmark_points(trained.face_model, contour=detected and cfg.contour != "off")
    params = NetworkParametrisation.from_encoder(trained, crops, cfg, landmarks=encoder_landmarks)
    with torch.enable_grad():
        fit = fit_person(trained.face_model, batch, cfg, renderer=trained.net.renderer, points=points, params=params)
    with torch.no_grad():
        d = fit.params.decode()
        b = len(faces)
        out = dataclasses.replace(
            first, id_code=fit.params.id_code.detach().expand(b, -1), exp_code=fit.params.exp_code.detach(),
            pose_code=fit.params.pose_code.detach(), pose=d.pose, light=d.light.detach(), shape=d.shape,
            albedo=d.albedo, albedo_map=None)
        out = trained.net.render_output(out)
    return out, [residual_record(fit, i) for i in range(len(faces))]
