"""Baselines scored with the same protocol as the model: the mean face and a landmark-fitted linear model.

* ``mean_face`` (:class:`MeanFace`): the face model's mean shape for every photo, neutral, with
  the frontal pose of code 0 (``photoface.render.camera.frontal_pose``). It is what a method that
  learned nothing would output, so every other number should beat it.
* ``landmark_fit`` (:class:`LandmarkFit`): the linear face model (identity + expression
  coefficients) and a weak-perspective pose fitted to a photo's 68 landmarks, the classic
  "3DMM fitted to landmarks" baseline. The same 68 landmarks the photo's row carries (detector
  landmarks on real photos, detector-like noisy ones on synthetic photos) are the only input.
* ``shape_supervised`` is not defined here: it is a run of the network trained with only the
  shape-supervision losses (see ``photoface.apps.ablation``), evaluated like the model.

The fit itself is :func:`photoface.fit.landmark_fit.fit_landmarks` (its docstring has the
objective and the solver); ``fit`` (:class:`CollectionFit`) fits all photos of a person jointly through
``photoface.fit``.
"""

from __future__ import annotations

import numpy as np
import torch

from photoface.fit.landmark_fit import LandmarkFitResult, fit_landmarks
from photoface.render.camera import frontal_pose, project

__all__ = ["MeanFace", "LandmarkFit", "LandmarkFitResult", "fit_landmarks"]


class _LinearMethod:
    """Shared parts of the baselines built on the linear face model."""

    def __init__(self, face_model, image_size: int):
        self.face_model = face_model
        self.image_size = int(image_size)
        self.faces = face_model.faces.cpu().numpy()
        self.landmarks68 = face_model.landmarks68.cpu().numpy()

    @torch.no_grad()
    def shapes(self, alpha_id, alpha_exp=None) -> np.ndarray:
        """(M, K), (M, L) coefficients → (M, V, 3) float32 mm."""
        fm = self.face_model
        a = torch.as_tensor(np.asarray(alpha_id), dtype=fm.mean.dtype, device=fm.mean.device)
        x = None if alpha_exp is None else torch.as_tensor(np.asarray(alpha_exp), dtype=fm.mean.dtype,
                                                           device=fm.mean.device)
        return fm.shape(a, x).cpu().float().numpy()

    def decode_neutral(self, id_codes) -> np.ndarray:
        """(M, K) identity coefficients → (M, V, 3) mm with a neutral (zero) expression."""
        return self.shapes(id_codes)


class MeanFace(_LinearMethod):
    """The face model's mean shape, neutral, at the frontal pose of code 0, for every photo."""

    name = "mean_face"

    def predict(self, images, landmarks=None):
        from photoface.evaluate.runner import MethodOutput

        n = len(images)
        mean = self.face_model.mean.detach().cpu().float().numpy()
        pose = frontal_pose(n, self.image_size).double()
        lm = project(torch.as_tensor(mean, dtype=torch.float64)[None, self.landmarks68].expand(n, -1, -1),
                     pose)[..., :2]
        shape = np.broadcast_to(mean, (n, *mean.shape))
        return MethodOutput(
            name=self.name, shape=shape, neutral=shape, id_code=None, pose=pose.numpy(),
            landmarks2d=lm.numpy(), decode_neutral=None,
        )


class LandmarkFit(_LinearMethod):
    """The linear face model fitted to each photo's 68 landmarks (:func:`fit_landmarks`).

    ``landmarks`` given to :meth:`predict` are (N, 68, 2) pixels in the same images; the identity
    "code" is the identity coefficient vector (used for verification and identity averaging).
    """

    name = "landmark_fit"

    def __init__(self, face_model, image_size: int, **fit_options):
        super().__init__(face_model, image_size)
        self.fit_options = fit_options

    def predict(self, images, landmarks):
        from photoface.evaluate.runner import MethodOutput

        if landmarks is None:
            raise ValueError("landmark_fit needs the photos' 68 landmarks")
        fit = fit_landmarks(self.face_model, landmarks, **self.fit_options)
        return MethodOutput(
            name=self.name, shape=self.shapes(fit.alpha_id, fit.alpha_exp), neutral=self.shapes(fit.alpha_id),
            id_code=fit.alpha_id, pose=fit.pose, landmarks2d=fit.landmarks2d, decode_neutral=self.decode_neutral,
            extra={"landmark_rms_px": fit.rms_px},
        )


class CollectionFit(_LinearMethod):
    """``fit``: the linear model fitted to all photos of a person jointly (``photoface.fit``).

    One identity per person (the identity "code" of each photo is its person's shared coefficient
    vector), per-photo expression, pose and light, through the renderer (landmarks, photometric
    and gradient-difference terms, priors, albedo symmetry). ``single=True`` (``fit_single``) fits
    every photo alone instead: what one photo gives, against the whole collection.

    :meth:`predict` needs the photos' identities, masks and landmark visibility besides the
    images and landmarks. ``fixed_landmarks``: the rows' landmarks are projections of fixed
    vertices (synthetic photos), so with ``FitConfig.contour = "auto"`` the jaw landmarks stay on
    their vertices instead of sliding to the silhouette; "on" and "off" override it, as in ``fit``.
    """

    needs_collection = True

    def __init__(self, face_model, image_size: int, config=None, single: bool = False, fixed_landmarks: bool = True):
        super().__init__(face_model, image_size)
        from photoface.fit.config import FitConfig

        self.config = config or FitConfig()
        self.single = single
        self.fixed_landmarks = fixed_landmarks
        self.name = "fit_single" if single else "fit"

    def predict(self, images, landmarks, identities=None, masks=None, visible=None):
        from photoface.evaluate.runner import MethodOutput
        from photoface.fit.collection import make_batch
        from photoface.fit.person import fit_person
        from photoface.fit.point_vertices import landmark_points
        from photoface.render.renderer import Renderer

        n = len(images)
        if identities is None:
            raise ValueError("fit needs the photos' identities (one shared identity per person)")
        masks = torch.ones(n, 1, *images.shape[-2:]) if masks is None else masks
        groups: dict = {}
        for i, ident in enumerate(identities):
            groups.setdefault(i if self.single else ident, []).append(i)
        cfg = self.config
        # FitConfig.contour as `photoface fit` reads it: "auto" follows the data (fixed landmark
        # vertices on synthetic photos), "on" and "off" are the user's word
        on = cfg.contour == "on" or (cfg.contour == "auto" and not self.fixed_landmarks)
        points = landmark_points(self.face_model, contour=on)
        renderer = Renderer(self.face_model.faces, images.shape[-1])
        k, e = self.face_model.n_id, self.face_model.n_exp
        alpha_id, alpha_exp = np.zeros((n, k)), np.zeros((n, e))
        pose, lm2d, rms = np.zeros((n, 6)), np.zeros((n, 68, 2)), np.zeros(n)
        failed = np.zeros(n, bool)
        for ix in groups.values():
            vis = None if visible is None else np.asarray(visible)[ix]
            batch = make_batch(images[ix], masks[ix], np.asarray(landmarks)[ix], vis, cfg)
            with torch.enable_grad():
                res = fit_person(self.face_model, batch, cfg, renderer=renderer, points=points)
            codes = res.params.codes()
            alpha_id[ix], alpha_exp[ix], pose[ix] = codes["alpha_id"], codes["alpha_exp"], codes["pose"]
            lm2d[ix], rms[ix] = res.landmarks2d, res.rms_px
            failed[[ix[j] for j in res.failures]] = True
        return MethodOutput(
            name=self.name, shape=self.shapes(alpha_id, alpha_exp), neutral=self.shapes(alpha_id), id_code=alpha_id,
            pose=pose, landmarks2d=lm2d, decode_neutral=self.decode_neutral,
            extra={"landmark_rms_px": rms, "failed": failed},
        )
