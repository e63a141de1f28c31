"""Image encoder: a torchvision ResNet with four code heads (identity, expression, pose, light).

Input: images (B, 3, H, W), linear RGB in [0, 1]; the encoder applies ImageNet mean/std
normalisation itself, so pretrained weights see what they were trained on.

Output (:class:`EncoderOutput`):

* ``id_code`` (B, id_dim), ``exp_code`` (B, exp_dim): the latent codes of the paper (128, 64);
* ``pose_code`` (B, 6): the raw pose code, mapped to a physical pose by
  ``photoface.render.pose_from_code`` (0 = frontal, centred, f0);
* ``light`` (B, 27): SH light code, channel-major, added by the renderer to its default light;
* ``features``: the backbone's feature maps, finest first, for the U-Net skips of the CNN albedo
  decoder: stem (after conv1/bn/relu, H/2), layer1 (H/4), layer2 (H/8), layer3 (H/16),
  layer4 (H/32). Channel counts are in :attr:`ResNetEncoder.feature_channels`.

Each head is Linear(feature, hidden) → ReLU → Linear(hidden, out) on the globally pooled layer4
features. The demo preset also gives the heads the photo's 68 detected landmarks
(:mod:`photoface.nn.landmark_input`; the paper's encoder sees only the image): with
``landmark_input`` a small MLP's landmark features join the pooled image features, and with
``landmark_linear`` a linear map from the landmarks is added to the identity, expression and pose
codes. The last Linear of every head starts at zero (weights and bias), so an untrained encoder
outputs all-zero codes: the mean face, frontal, centred, under the default light. Training from
random codes fails (peers' report in the issue); zero codes still pass gradients to every head.

Weights: ``weights=None`` always (nothing downloads). ImageNet weights can be loaded from a file
the user gives (a torchvision ``state_dict``, optionally wrapped in ``{"state_dict": ...}`` or
``{"model": ...}``, ``module.`` prefixes allowed); the classifier ``fc.*`` is ignored and every
other key must match the chosen architecture, else :class:`~photoface.errors.InputFileError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
import torchvision

from photoface.errors import InputFileError, PhotofaceError
from photoface.nn.landmark_input import LandmarkBranch, LandmarkLinear

ARCHITECTURES = {
    "resnet18": (torchvision.models.resnet18, (64, 64, 128, 256, 512)),
    "resnet34": (torchvision.models.resnet34, (64, 64, 128, 256, 512)),
    "resnet50": (torchvision.models.resnet50, (64, 256, 512, 1024, 2048)),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class EncoderOutput:
    """Codes (B, ·) and feature maps (B, C_i, H_i, W_i), finest first; see module docstring."""

    id_code: torch.Tensor
    exp_code: torch.Tensor
    pose_code: torch.Tensor
    light: torch.Tensor
    features: tuple[torch.Tensor, ...]


def _head(in_dim: int, hidden: int, out_dim: int) -> torch.nn.Sequential:
    last = torch.nn.Linear(hidden, out_dim)
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    return torch.nn.Sequential(torch.nn.Linear(in_dim, hidden), torch.nn.ReLU(inplace=True), last)


class ResNetEncoder(torch.nn.Module):
    """ResNet-18/34/50 backbone + four zero-initialised code heads.

    Args:
        name: "resnet18", "resnet34" or "resnet50".
        id_dim, exp_dim, pose_dim, light_dim: head sizes (paper: 128, 64, 6, 27).
        head_hidden: width of each head's hidden layer.
        weights_path: optional ImageNet weights file (see module docstring); None = random init.
        channels_last: keep the backbone and its input in channels_last memory format
            (about +25% speed on CPU for ResNet-50).
        landmark_input: 0 (the paper: image only) or the width of the landmark branch, whose
            features join the pooled image features before the heads.
        landmark_linear: add :class:`~photoface.nn.landmark_input.LandmarkLinear`'s code offsets
            to the id, exp and pose heads' outputs (false: the paper's).
        image_size: pixels of the input, to normalise the landmarks with.

    Shapes: ``forward(images (B, 3, H, W) in [0, 1], landmarks (B, 68, 2) px or None) -> EncoderOutput``;
    landmarks are required exactly when :attr:`uses_landmarks`.
    """

    def __init__(
        self,
        name: str = "resnet18",
        id_dim: int = 128,
        exp_dim: int = 64,
        pose_dim: int = 6,
        light_dim: int = 27,
        head_hidden: int = 512,
        weights_path: str | Path | None = None,
        channels_last: bool = False,
        landmark_input: int = 0,
        image_size: int = 128,
        landmark_linear: bool = False,
    ):
        super().__init__()
        if name not in ARCHITECTURES:
            raise PhotofaceError(f"unknown encoder {name!r}; choose one of {sorted(ARCHITECTURES)}")
        factory, self.feature_channels = ARCHITECTURES[name]
        self.name = name
        backbone = factory(weights=None)
        if weights_path is not None:
            load_imagenet_weights(backbone, weights_path, name)
        self.stem = torch.nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu)
        self.maxpool = backbone.maxpool
        self.layer1, self.layer2 = backbone.layer1, backbone.layer2
        self.layer3, self.layer4 = backbone.layer3, backbone.layer4
        feat = self.feature_channels[-1]
        self.landmark_branch = LandmarkBranch(image_size, landmark_input) if landmark_input > 0 else None
        if self.landmark_branch is not None:
            feat += self.landmark_branch.width
        self.landmark_linear = LandmarkLinear(image_size, id_dim, exp_dim, pose_dim) if landmark_linear else None
        self.heads = torch.nn.ModuleDict(
            {
                "id": _head(feat, head_hidden, id_dim),
                "exp": _head(feat, head_hidden, exp_dim),
                "pose": _head(feat, head_hidden, pose_dim),
                "light": _head(feat, head_hidden, light_dim),
            }
        )
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    @property
    def uses_landmarks(self) -> bool:
        """True when :meth:`forward` needs the photo's 68 landmarks."""
        return self.landmark_branch is not None or self.landmark_linear is not None

    def forward(self, images: torch.Tensor, landmarks: torch.Tensor | None = None) -> EncoderOutput:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"encoder expects images (B, 3, H, W), got {tuple(images.shape)}")
        if self.uses_landmarks and landmarks is None:
            raise ValueError("this encoder was built with landmark inputs: pass the photos' (B, 68, 2) landmarks")
        x = (images - self.pixel_mean) / self.pixel_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        f0 = self.stem(x)
        f1 = self.layer1(self.maxpool(f0))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        pooled = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(f4, 1), 1)
        if self.landmark_branch is not None:
            pooled = torch.cat([pooled, self.landmark_branch(landmarks.to(pooled.device)).to(pooled.dtype)], dim=1)
        id_code, exp_code, pose_code = (self.heads[k](pooled) for k in ("id", "exp", "pose"))
        if self.landmark_linear is not None:
            d_id, d_exp, d_pose = self.landmark_linear(landmarks)
            id_code, exp_code, pose_code = (id_code + d_id.to(id_code.dtype), exp_code + d_exp.to(exp_code.dtype),
                                            pose_code + d_pose.to(pose_code.dtype))
        return EncoderOutput(
            id_code=id_code,
            exp_code=exp_code,
            pose_code=pose_code,
            light=self.heads["light"](pooled),
            features=(f0, f1, f2, f3, f4),
        )


def _unwrap_state_dict(obj, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise InputFileError(path, "does not contain a state_dict (a mapping of parameter names to tensors)")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise InputFileError(path, f"entry {k!r} is a {type(v).__name__}, not a tensor")
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def load_imagenet_weights(backbone: torch.nn.Module, path: str | Path, name: str) -> None:
    """Load a torchvision ResNet ``state_dict`` file into ``backbone`` (ignoring ``fc.*``).

    Raises:
        InputFileError: the file is missing, unreadable, or does not fit architecture ``name``
            (the message lists missing / unexpected / mis-shaped keys).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "ImageNet weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt files
        raise InputFileError(path, f"cannot read as PyTorch weights ({type(exc).__name__}: {exc})") from exc
    given = {k: v for k, v in _unwrap_state_dict(obj, path).items() if not k.startswith("fc.")}
    expected = {k: v for k, v in backbone.state_dict().items() if not k.startswith("fc.")}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mis_shaped = [
        f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
        for k in sorted(set(given) & set(expected))
        if given[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} keys with other shapes (e.g. {'; '.join(mis_shaped[:3])})")
    if problems:
        raise InputFileError(path, f"not torchvision {name} weights: " + ", ".join(problems))
    backbone.load_state_dict(given, strict=False)
