"""A trained network's codes as the unknowns of a fit: test-time refinement (``NetworkParametrisation``).

The fitter (``photoface.fit.person.fit_person(..., params=...)``) optimises the codes the encoder
predicted, decoded by the network's own decoders, with the same objective as the linear fit:

* per person: the identity code ``id_code`` (1, id_dim), initialised as the MEAN of the encoder's
  identity codes of the person's photos, and a per-vertex albedo offset ``albedo_offset`` (1, V, 3);
* per photo: expression code ``exp_code`` (B, exp_dim), raw pose code ``pose_code`` (B, 6) and SH
  light ``light`` (B, 27), initialised from the encoder.

Shape = ``net.decode_shape(id_code, exp_code)`` (B, V, 3) mm. Albedo (per person, per vertex) =
``net.decode_albedo(id_code) + albedo_offset``, clamped to [0, 1]. The offset starts at zero for a
stage-1 run (the albedo is exactly the network's GCN albedo) and, for a stage-2 run, at the mean
over the person's photos of the CNN albedo map read back at the vertices (``FaceNet.vertex_albedo``,
what ``reconstruct`` exports) minus the GCN albedo: the stage-2 map is image-space and cannot be
shared across photos, so its per-vertex read-back is the initial shared albedo, and the GCN decoder
still carries the identity's influence on it.

Priors keep the codes near their encoder initialisation (weighted L2 in code space, weights in
``FitConfig.refine_*_prior``) instead of the linear model's Gaussian coefficient priors:
``identity`` |z_id − z_id⁰|², ``expression`` and ``light`` the per-photo mean of |z − z⁰|²,
``albedo`` the per-vertex mean of |offset − offset⁰|². The pose has no prior (as in the linear fit).
A neutral face is the identity code with a ZERO expression code (the evaluation's default
``neutral="zero"``).
"""

from __future__ import annotations

import numpy as np
import torch

from photoface.fit.parametrisation import Decoded, Parametrisation
from photoface.render.camera import pose_from_code


class NetworkParametrisation(Parametrisation):
    """One person's network codes (module docstring).

    Args:
        net: a trained ``photoface.nn.FaceNet`` (eval mode; its weights stay fixed).
        id_code: (B, id_dim) or (id_dim,) encoder identity codes (averaged over photos).
        exp_code: (B, exp_dim); pose_code: (B, 6) raw codes; light: (B, 27).
        albedo: (1, V, 3) or None: the initial shared per-vertex albedo (None = the GCN albedo).
        lr: dict with keys id, exp, pose, light, albedo (Adam step sizes, code units).
        prior: dict with keys id, exp, light, albedo (weights of the code-space priors).
    """

    def __init__(self, net, id_code, exp_code, pose_code, light, albedo=None, lr: dict | None = None,
                 prior: dict | None = None):
        super().__init__()
        # not a submodule: the network's weights are no unknowns (fit_person snapshots named_parameters)
        object.__setattr__(self, "net", net)
        self.image_size = int(net.image_size)
        self.lr = dict(lr or {"id": 0.01, "exp": 0.01, "pose": 0.002, "light": 0.02, "albedo": 0.01})
        self.prior = dict(prior or {"id": 1.0, "exp": 1.0, "light": 1.0, "albedo": 100.0})
        dev = next(net.parameters()).device
        f32 = torch.float32
        id0 = torch.as_tensor(id_code, dtype=f32, device=dev).reshape(-1, id_code.shape[-1]).mean(0, keepdim=True)
        exp0 = torch.as_tensor(exp_code, dtype=f32, device=dev)
        pose0 = torch.as_tensor(pose_code, dtype=f32, device=dev)
        light0 = torch.as_tensor(light, dtype=f32, device=dev)
        with torch.no_grad():
            gcn = net.decode_albedo(id0).float()
        off0 = torch.zeros_like(gcn) if albedo is None else \
            torch.as_tensor(albedo, dtype=f32, device=dev).reshape(gcn.shape) - gcn
        for name, value in (("id0", id0), ("exp0", exp0), ("light0", light0), ("offset0", off0)):
            self.register_buffer(name, value.detach().clone())
        self.id_code = torch.nn.Parameter(id0.clone())
        self.exp_code = torch.nn.Parameter(exp0.clone())
        self.pose_code = torch.nn.Parameter(pose0.clone())
        self.light = torch.nn.Parameter(light0.clone())
        self.albedo_offset = torch.nn.Parameter(off0.clone())

    @classmethod
    @torch.no_grad()
    def from_encoder(cls, trained, images: torch.Tensor, cfg=None,
                     landmarks: torch.Tensor | None = None) -> NetworkParametrisation:
        """The codes the encoder predicts for one person's ``images`` (B, 3, S, S) in [0, 1],
        S = the network's size; step sizes and prior weights from ``cfg`` (a ``FitConfig``).
        ``landmarks`` (B, 68, 2) crop pixels: the photos' landmarks, which a run trained with
        ``model.landmark_input`` takes as encoder input (ignored by other runs)."""
        out = trained.predict(images, render=trained.stage == 2, landmarks=landmarks)
        albedo = None if out.albedo is not None else trained.vertex_albedo(out).float().mean(0, keepdim=True)
        lr = prior = None
        if cfg is not None:
            lr = {"id": cfg.refine_lr_id, "exp": cfg.refine_lr_exp, "pose": cfg.refine_lr_pose,
                  "light": cfg.refine_lr_light, "albedo": cfg.refine_lr_albedo}
            prior = {"id": cfg.refine_id_prior, "exp": cfg.refine_exp_prior, "light": cfg.refine_light_prior,
                     "albedo": cfg.refine_albedo_prior}
        return cls(trained.net, out.id_code.float(), out.exp_code.float(), out.pose_code.float(), out.light.float(),
                   albedo, lr, prior)

    @property
    def n_photos(self) -> int:
        return int(self.pose_code.shape[0])

    def _albedo(self) -> torch.Tensor:
        return (self.net.decode_albedo(self.id_code).float() + self.albedo_offset).clamp(0.0, 1.0)

    def decode(self) -> Decoded:
        b = self.n_photos
        shape = self.net.decode_shape(self.id_code.expand(b, -1), self.exp_code).float()
        albedo = self._albedo().expand(b, -1, -1)
        return Decoded(shape, albedo, pose_from_code(self.pose_code, self.image_size), self.light)

    def priors(self) -> dict[str, torch.Tensor]:
        p = self.prior
        return {"identity": p["id"] * (self.id_code - self.id0).pow(2).sum(),
                "expression": p["exp"] * (self.exp_code - self.exp0).pow(2).sum(1).mean(),
                "light": p["light"] * (self.light - self.light0).pow(2).sum(1).mean(),
                "albedo": p["albedo"] * (self.albedo_offset - self.offset0).pow(2).sum(-1).mean()}

    def groups(self, stage: str) -> list[dict]:
        light = [{"params": [self.light], "lr": self.lr["light"]},
                 {"params": [self.albedo_offset], "lr": self.lr["albedo"]}]
        if stage == "light":
            return light
        return light + [{"params": [self.id_code], "lr": self.lr["id"]},
                        {"params": [self.exp_code], "lr": self.lr["exp"]},
                        {"params": [self.pose_code], "lr": self.lr["pose"]}]

    def project_(self) -> None:
        """Codes are unconstrained."""

    @torch.no_grad()
    def codes(self) -> dict[str, np.ndarray]:
        d = self.decode()
        return {"id_code": self.id_code[0].cpu().numpy(), "exp_code": self.exp_code.cpu().numpy(),
                "pose": d.pose.cpu().numpy(), "pose_code": self.pose_code.cpu().numpy(),
                "light": self.light.cpu().numpy()}

    def identity_vector(self) -> np.ndarray:
        return self.id_code.detach()[0].cpu().numpy()

    @torch.no_grad()
    def neutral_shape(self) -> torch.Tensor:
        """(1, V, 3) mm: the shared identity code with a zero expression code."""
        return self.net.decode_shape(self.id_code, torch.zeros_like(self.exp_code[:1])).float()

    @torch.no_grad()
    def albedo(self) -> torch.Tensor:
        """(1, V, 3) the shared albedo."""
        return self._albedo()
