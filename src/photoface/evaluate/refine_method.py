"""``refine``: a trained run's predictions refined by the fitting objective, as a benchmark method.

The network predicts every photo; then each person's codes are optimised jointly
(``photoface.fit.network.NetworkParametrisation`` through ``photoface.fit.fit_person``): one shared
identity code per person (initialised as the mean of the encoder's), expression, pose and light
per photo, on the benchmark's landmarks (jaw landmarks on fixed vertices: the synthetic landmarks
are projections of the model's landmark vertices), masks and visibility. Scored next to the
network's own row (``model``), so the difference is what test-time refinement adds.
"""

from __future__ import annotations

import numpy as np
import torch

from photoface.evaluate.runner import MethodOutput, NetworkMethod


class RefineMethod(NetworkMethod):
    """The run ``trained`` refined per person (module docstring); ``config``: a ``FitConfig``
    (default: the run's own ``fit`` settings)."""

    needs_collection = True

    def __init__(self, trained, config=None, batch_size: int = 32, neutral: str = "zero"):
        super().__init__(trained, "refine", batch_size, neutral)
        self.config = config or trained.config.fit

    def predict(self, images, landmarks, identities=None, masks=None, visible=None) -> MethodOutput:
        from photoface.fit.collection import make_batch
        from photoface.fit.network import NetworkParametrisation
        from photoface.fit.person import fit_person

        if identities is None:
            raise ValueError("refine needs the photos' identities (one shared identity code per person)")
        size, h, n = self.trained.image_size, images.shape[-1], len(images)
        scale = h / size
        x = images.float()
        m = torch.ones(n, 1, h, h) if masks is None else masks.float()
        if h != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                                align_corners=False)
            m = torch.nn.functional.interpolate(m, size=(size, size), mode="nearest")
        lm = np.asarray(landmarks, np.float64) / scale
        groups: dict = {}
        for i, ident in enumerate(identities):
            groups.setdefault(ident, []).append(i)
        dev, cfg = self.trained.device, self.config
        shape = np.zeros((n, self.trained.face_model.num_vertices, 3), np.float32)
        id_code = np.zeros((n, self.trained.config.model.id_dim))
        exp_code = np.zeros((n, self.trained.config.model.exp_dim), np.float32)
        pose, lm2d, rms, failed = np.zeros((n, 6)), np.zeros((n, 68, 2)), np.zeros(n), np.zeros(n, bool)
        for ix in groups.values():
            vis = None if visible is None else np.asarray(visible)[ix]
            batch = make_batch(x[ix], m[ix], lm[ix], vis, cfg, dev)
            params = NetworkParametrisation.from_encoder(self.trained, batch.images, cfg, landmarks=batch.landmarks)
            with torch.enable_grad():
                res = fit_person(self.trained.face_model, batch, cfg, renderer=self.trained.net.renderer,
                                 params=params)
            with torch.no_grad():
                d = res.params.decode()
            shape[ix] = d.shape.cpu().numpy()
            id_code[ix] = res.params.identity_vector()
            exp_code[ix] = res.params.exp_code.detach().cpu().numpy()
            p = d.pose.detach().double().cpu().numpy()
            p[:, 3:] *= scale  # f and the translation follow the pixel scale
            pose[ix], lm2d[ix], rms[ix] = p, res.landmarks2d * scale, res.rms_px * scale
            failed[[ix[j] for j in res.failures]] = True
        if self.neutral_kind == "mean":
            self._neutral_code = torch.as_tensor(exp_code.mean(0))
        else:
            self._neutral_code = None
        return MethodOutput(
            name=self.name, shape=shape, neutral=self.decode_neutral(id_code), id_code=id_code, pose=pose,
            landmarks2d=lm2d, decode_neutral=self.decode_neutral,
            extra={"exp_code": exp_code, "landmark_rms_px": rms, "failed": failed},
        )
