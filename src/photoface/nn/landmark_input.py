"""What the demo encoder's code heads get from the photo's 68 landmarks (the paper's encoder sees
only the image; ``model.landmark_input`` / ``model.landmark_linear`` are 0 / false there).

Two parts, both fed by the detected landmarks (B, 68, 2) in pixels of the network's input:

* :class:`LandmarkBranch` — features for the heads: :func:`landmark_features` → batch norm →
  2-layer MLP, concatenated to the pooled image features;
* :class:`LandmarkLinear` — a linear map from :meth:`LandmarkLinear.features` straight to the
  identity, expression and pose codes, added to the heads' outputs. It starts at zero; a fresh
  demo run sets it to a closed-form ridge regression on linear-model samples and the labeled
  training photos (:mod:`photoface.train.landmark_start`), so the network starts where a
  landmark regressor is, and training goes on from there.

Why: the geometry a CPU budget can learn lies in the landmarks. On the demo collection
(200 identities; 200 held-out photos of 40 people) the regression alone gives a per-photo error
of 2.60 mm where the mean face gives 3.72 mm, a landmark NME of 1.5 % and a verification EER of
0.13, with no gradient step, while ten CPU minutes of the network's image path do not leave the
mean face (docs/training.md, "Making the demo learn").
"""

from __future__ import annotations

import torch

LANDMARK_FEATURES = 68 * 2 + 3
REGRESSION_FEATURES = LANDMARK_FEATURES + 68 * 2


def landmark_features(landmarks: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 68, 2) pixel landmarks → (B, 139) position- and scale-free shape plus placement.

    The first 136 numbers are the landmarks minus their mean, divided by their RMS distance from
    it (so of order one whatever the face size); the last three are the mean in units of the image
    side, centred ((x, y) / S - 0.5), and log(RMS radius / S), which the pose head needs.
    """
    if landmarks.dim() != 3 or landmarks.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must be (B, 68, 2) pixels, got {tuple(landmarks.shape)}")
    lm = landmarks.float()
    centre = lm.mean(dim=1, keepdim=True)
    rel = lm - centre
    radius = rel.square().sum(-1).mean(-1).sqrt().clamp_min(1e-3)  # (B,)
    shape = (rel / radius[:, None, None]).flatten(1)
    place = torch.cat([centre[:, 0] / image_size - 0.5, torch.log(radius / image_size)[:, None]], dim=1)
    return torch.cat([shape, place], dim=1)


def regression_features(landmarks: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 68, 2) pixel landmarks → (B, 275): :func:`landmark_features` and the squares of its 136
    shape numbers. The squares let a linear map follow how the 2D configuration changes with yaw
    and pitch (foreshortening goes with cos, the landmarks with sin). A ridge regression from the
    demo collection's 399 labeled photos (8 noisy copies each) gives a held-out per-photo error of
    2.79 mm with them and 3.01 mm without (best λ of three each; mean face 3.72 mm)."""
    f = landmark_features(landmarks, image_size)
    return torch.cat([f, f[:, :136].square()], dim=1)


class LandmarkBranch(torch.nn.Module):
    """(B, 68, 2) pixel landmarks → (B, width) features: :func:`landmark_features` → batch norm →
    2-layer MLP.

    The batch norm standardises every feature over the data: what tells faces apart are deviations
    of a few percent from the configuration that all faces share, and an MLP on the raw features
    learns them slowly. Measured on 230 labeled demo photos (an MLP from landmarks to linear-model
    codes, shape loss, Adam 1e-3, batch 16): held-out error 4.65 mm after 600 steps without it,
    4.33 mm after 200 steps with it; the mean face 4.84 mm."""

    def __init__(self, image_size: int, width: int = 256):
        super().__init__()
        self.image_size = int(image_size)
        self.width = int(width)
        self.mlp = torch.nn.Sequential(
            torch.nn.BatchNorm1d(LANDMARK_FEATURES),
            torch.nn.Linear(LANDMARK_FEATURES, width), torch.nn.ReLU(inplace=True),
            torch.nn.Linear(width, width), torch.nn.ReLU(inplace=True),
        )

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        return self.mlp(landmark_features(landmarks, self.image_size))


class LandmarkLinear(torch.nn.Module):
    """(B, 68, 2) pixel landmarks → code offsets (id (B, id_dim), exp (B, exp_dim), pose (B, pose_dim)),
    linear in the standardised :meth:`features`.

    Features: :func:`regression_features` (275) and the products of its 136 shape numbers with
    ``POSE_TERMS`` pose proxies, the projections of the shape numbers on the leading directions in
    which faces' 2D configurations vary (mostly yaw and pitch, found by PCA at the start). A 2D
    configuration is a rotated 3D shape, about bilinear in pose and shape; the products let a
    linear map follow that. Measured on the demo collection (a ridge regression on 40,000 samples
    of the linear model, held-out photos, mean vertex distance after a similarity alignment; the
    mean face 3.46 mm): identity-averaged 2.58 mm without them, 2.48 mm with four (the landmark fit
    2.48 mm); landmark NME 3.1 % → 1.9 %.

    Buffers (saved with the weights): ``pose_centre`` (136,), ``pose_directions`` (POSE_TERMS, 136),
    ``feature_mean`` and ``feature_scale`` (FEATURES,). They start at 0, 0, 0 and 1 and the linear
    layer at zero, so an untrained module adds nothing; :meth:`set_pose_terms` and
    :meth:`set_regression` install a start (``photoface.train.landmark_start``).
    """

    POSE_TERMS = 4
    FEATURES = REGRESSION_FEATURES + 136 * POSE_TERMS

    def __init__(self, image_size: int, id_dim: int, exp_dim: int, pose_dim: int = 6):
        super().__init__()
        self.image_size = int(image_size)
        self.dims = (int(id_dim), int(exp_dim), int(pose_dim))
        self.register_buffer("pose_centre", torch.zeros(136))
        self.register_buffer("pose_directions", torch.zeros(self.POSE_TERMS, 136))
        self.register_buffer("feature_mean", torch.zeros(self.FEATURES))
        self.register_buffer("feature_scale", torch.ones(self.FEATURES))
        self.linear = torch.nn.Linear(self.FEATURES, sum(self.dims))
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def features(self, landmarks: torch.Tensor) -> torch.Tensor:
        """(B, 68, 2) px → (B, FEATURES), not standardised (class docstring)."""
        f = regression_features(landmarks.to(self.feature_mean.device), self.image_size)
        shape = f[:, :136]
        proxies = (shape - self.pose_centre) @ self.pose_directions.T  # (B, POSE_TERMS)
        return torch.cat([f, (shape[:, :, None] * proxies[:, None, :]).flatten(1)], dim=1)

    def forward(self, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # float32 even under bf16 autocast: the codes are sums of ~800 terms of order one, and
        # bf16's 8-bit mantissa would put percent-level noise on the regression
        with torch.autocast(self.feature_mean.device.type, enabled=False):
            z = (self.features(landmarks.float()) - self.feature_mean) / self.feature_scale
            out = self.linear(z)
        return tuple(out.split(self.dims, dim=1))

    @torch.no_grad()
    def set_pose_terms(self, centre: torch.Tensor, directions: torch.Tensor) -> None:
        """Install the pose proxies: ``centre`` (136,) and ``directions`` (POSE_TERMS, 136), each
        row scaled so that its projection has unit spread over the data."""
        if tuple(centre.shape) != (136,) or tuple(directions.shape) != (self.POSE_TERMS, 136):
            raise ValueError(f"pose terms must be (136,) + ({self.POSE_TERMS}, 136), "
                             f"got {tuple(centre.shape)} + {tuple(directions.shape)}")
        self.pose_centre.copy_(centre)
        self.pose_directions.copy_(directions)

    @torch.no_grad()
    def set_regression(self, feature_mean: torch.Tensor, feature_scale: torch.Tensor, weight: torch.Tensor,
                       bias: torch.Tensor) -> None:
        """Install a regression: features standardised by ``feature_mean`` / ``feature_scale``
        (FEATURES,), then ``weight`` (id_dim + exp_dim + pose_dim, FEATURES) and ``bias`` (id_dim + exp_dim + pose_dim,)."""
        out = sum(self.dims)
        if tuple(weight.shape) != (out, self.FEATURES) or tuple(bias.shape) != (out,):
            raise ValueError(f"regression must be ({out}, {self.FEATURES}) + ({out},), "
                             f"got {tuple(weight.shape)} + {tuple(bias.shape)}")
        if bool((feature_scale <= 0).any()):
            raise ValueError("feature_scale must be positive")
        self.feature_mean.copy_(feature_mean)
        self.feature_scale.copy_(feature_scale)
        self.linear.weight.copy_(weight)
        self.linear.bias.copy_(bias)
