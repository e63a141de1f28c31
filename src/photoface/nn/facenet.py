"""FaceNet: image → codes, 3D shape, albedo, rendered image and 2D landmarks (the whole generator).

::

    images (B, 3, H, W) [+ landmarks (B, 68, 2)] ──► ResNetEncoder ──► id (B, 128), exp (B, 64), pose code (B, 6), light (B, 27)
    [id, exp] ──► ShapeDecoder (GCN) ──► shape (B, V, 3) mm, canonical pose
    stage 1: id ──► AlbedoDecoder (GCN) ──► albedo (B, V, 3) per vertex
    stage 2: encoder features + image ──► AlbedoCNN ──► albedo_map (B, 3, H, W), image space
    pose code ──► photoface.render.pose_from_code ──► pose (B, 6): pitch, yaw, roll (deg), f (px/mm), tx, ty (px)
    (shape, albedo, pose, light) ──► photoface.render.Renderer ──► image, mask, landmarks2d (B, 68, 2) px, …

``stage`` (1 or 2) selects the albedo branch; the other albedo decoder is not run and gets no
gradient in that stage. Everything else (units, conventions) is defined where it is computed: the
camera and image space in ``photoface.render.camera``, the decoders in
:mod:`photoface.nn.decoders`, the albedo map in :mod:`photoface.nn.albedo_cnn`.

The face model enters only through its arrays (mean (V, 3) mm, faces (F, 3), landmarks68 (68,),
tex_mean (V, 3), mirror (V,)); any object with those attributes works, e.g.
``photoface.facemodel.MorphableModel``. The trainer (``photoface.train``) maps its config onto the
explicit arguments of :func:`build_facenet`; this package never reads configs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from photoface.mesh.hierarchy import DEFAULT_FACTORS, MeshHierarchy, load_or_build
from photoface.nn.albedo_cnn import AlbedoCNN, vertex_albedo_from_map
from photoface.nn.decoders import DEFAULT_CHANNELS, AlbedoDecoder, ShapeDecoder
from photoface.nn.encoder import ResNetEncoder
from photoface.render import Renderer, RenderOutput, pose_from_code, project


@dataclass
class FaceNetOutput:
    """What :meth:`FaceNet.forward` returns.

    Attributes:
        id_code: (B, id_dim). exp_code: (B, exp_dim).
        pose_code: (B, 6) raw network output. pose: (B, 6) physical pose (degrees, px/mm, px).
        light: (B, 27) SH light code, channel-major.
        shape: (B, V, 3) millimetres, model space, canonical pose.
        albedo: (B, V, 3) per-vertex albedo in (0, 1) (stage 1), else None.
        albedo_map: (B, 3, H, W) image-space albedo in (0, 1) (stage 2), else None.
        landmarks2d: (B, 68, 2) pixels (x right, y down) of the landmark vertices.
        render: the renderer's full output (image, mask, depth, tri_id, shading, screen_verts),
            or None when rendering was skipped.
        features: the encoder's feature maps, finest first.
    """

    id_code: torch.Tensor
    exp_code: torch.Tensor
    pose_code: torch.Tensor
    pose: torch.Tensor
    light: torch.Tensor
    shape: torch.Tensor
    albedo: torch.Tensor | None
    albedo_map: torch.Tensor | None
    landmarks2d: torch.Tensor
    render: RenderOutput | None
    features: tuple[torch.Tensor, ...]

    @property
    def image(self) -> torch.Tensor | None:
        """(B, 3, H, W) rendered image (linear RGB, unclamped), or None."""
        return None if self.render is None else self.render.image

    @property
    def mask(self) -> torch.Tensor | None:
        """(B, 1, H, W) coverage of the rendered face, or None."""
        return None if self.render is None else self.render.mask

    @property
    def albedo_any(self) -> torch.Tensor:
        """The stage's albedo: (B, V, 3) per vertex (stage 1) or the (B, 3, H, W) map (stage 2)."""
        return self.albedo if self.albedo is not None else self.albedo_map

    def float(self) -> FaceNetOutput:
        """A copy with every code, shape and albedo tensor in float32 (after bf16 autocast)."""
        cast = {f.name: getattr(self, f.name).float() for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)}
        return dataclasses.replace(self, **cast)


def _tensor(x, dtype) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    return torch.as_tensor(x).detach().to("cpu", dtype)


class FaceNet(torch.nn.Module):
    """The generator of the paper; see the module docstring.

    Args:
        face_model: object with ``mean`` (V, 3) mm, ``faces`` (F, 3), ``landmarks68`` (68,),
            ``tex_mean`` (V, 3) in [0, 1] and ``mirror`` (V,).
        hierarchy: :class:`~photoface.mesh.MeshHierarchy` of ``face_model.mean``/``faces``.
        encoder: "resnet18" | "resnet34" | "resnet50".
        image_size: square input/render size in pixels.
        id_dim, exp_dim: code sizes (paper: 128, 64). Pose (6) and light (27) are fixed by the
            renderer's contract.
        decoder_channels: GCN widths, coarse → fine (one per hierarchy up-sampling used).
        cheb_k: Chebyshev terms K.
        encoder_weights: optional ImageNet weights file for the backbone.
        channels_last: run the CNNs in channels_last memory format.
        offset_scale: millimetres per unit of shape-decoder output.
        stage: 1 (GCN albedo) or 2 (CNN albedo map).
        cull_backfaces: passed to the renderer.
        landmark_input: width of the encoder's landmark branch (0: image only, as in the paper);
            with it or ``landmark_linear``, :meth:`forward` needs the photos' 68 landmarks.
        landmark_linear: add the encoder's linear landmark-to-code map
            (:class:`~photoface.nn.landmark_input.LandmarkLinear`; false: the paper's).
        shape_basis: optional (id_dim + exp_dim, V, 3) start of the shape decoder's linear path
            (:class:`~photoface.nn.decoders.ShapeDecoder`; None: the paper's GCN alone).
    """

    def __init__(
        self,
        face_model,
        hierarchy: MeshHierarchy,
        encoder: str = "resnet18",
        image_size: int = 128,
        id_dim: int = 128,
        exp_dim: int = 64,
        decoder_channels: Sequence[int] = DEFAULT_CHANNELS,
        cheb_k: int = 6,
        encoder_weights: str | Path | None = None,
        channels_last: bool = False,
        offset_scale: float = 10.0,
        stage: int = 1,
        cull_backfaces: bool = True,
        landmark_input: int = 0,
        shape_basis: torch.Tensor | None = None,
        landmark_linear: bool = False,
    ):
        super().__init__()
        mean = _tensor(face_model.mean, torch.float32)
        tex_mean = _tensor(face_model.tex_mean, torch.float32)
        faces = _tensor(face_model.faces, torch.long)
        self.image_size = int(image_size)
        self.hierarchy = hierarchy  # kept for the discriminator: ShapeDiscriminator(net.hierarchy, mean)
        self.encoder = ResNetEncoder(
            encoder, id_dim, exp_dim, 6, 27, weights_path=encoder_weights, channels_last=channels_last,
            landmark_input=landmark_input, image_size=self.image_size, landmark_linear=landmark_linear,
        )
        self.shape_decoder = ShapeDecoder(hierarchy, mean, id_dim, exp_dim, decoder_channels, cheb_k, offset_scale,
                                          linear_basis=shape_basis)
        self.albedo_decoder = AlbedoDecoder(hierarchy, tex_mean, id_dim, decoder_channels, cheb_k)
        self.albedo_cnn = AlbedoCNN(self.encoder.feature_channels, tex_mean.mean(0))
        if channels_last:
            self.albedo_cnn.to(memory_format=torch.channels_last)
        self.renderer = Renderer(faces, self.image_size, cull_backfaces=cull_backfaces)
        self.register_buffer("landmarks68", _tensor(face_model.landmarks68, torch.long), persistent=False)
        self.register_buffer("mirror", _tensor(face_model.mirror, torch.long), persistent=False)
        self.stage = stage

    @property
    def stage(self) -> int:
        """1: per-vertex GCN albedo; 2: image-space CNN albedo map."""
        return self._stage

    @stage.setter
    def stage(self, value: int) -> None:
        if value not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {value!r}")
        self._stage = int(value)

    @property
    def faces(self) -> torch.Tensor:
        return self.renderer.faces

    def decode_shape(self, id_code: torch.Tensor, exp_code: torch.Tensor) -> torch.Tensor:
        """(B, id_dim), (B, exp_dim) → (B, V, 3) mm (used by the pairwise shape loss, eq. 8)."""
        return self.shape_decoder(id_code, exp_code)

    def decode_albedo(self, id_code: torch.Tensor) -> torch.Tensor:
        """(B, id_dim) → per-vertex GCN albedo (B, V, 3) in (0, 1)."""
        return self.albedo_decoder(id_code)

    @property
    def uses_landmarks(self) -> bool:
        """True when :meth:`forward` needs the photos' 68 landmarks (encoder landmark branch)."""
        return self.encoder.uses_landmarks

    def forward(
        self, images: torch.Tensor, render: bool = True, background=None, landmarks: torch.Tensor | None = None
    ) -> FaceNetOutput:
        """images (B, 3, H, W) in [0, 1], H = W = image_size → :class:`FaceNetOutput`.

        ``decode(images)`` followed by ``render_output`` — the one path that training and
        inference share (training runs ``decode`` under autocast and renders in float32).

        Args:
            render: False skips rasterisation (landmarks2d are still projected).
            background: passed to ``Renderer.render`` (None = black).
            landmarks: (B, 68, 2) detected landmarks in pixels of ``images``; required when
                :attr:`uses_landmarks`, ignored otherwise.
        """
        out = self.decode(images, landmarks)
        return self.render_output(out, background=background) if render else out

    def decode(self, images: torch.Tensor, landmarks: torch.Tensor | None = None) -> FaceNetOutput:
        """The networks alone: codes, shape, the stage's albedo; no rasterisation (``render`` is
        None, ``landmarks2d`` are the projected landmark vertices). ``landmarks`` as in
        :meth:`forward`."""
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"FaceNet expects {self.image_size}×{self.image_size} images, got {tuple(images.shape[-2:])}"
            )
        enc = self.encoder(images, landmarks if self.uses_landmarks else None)
        shape = self.shape_decoder(enc.id_code, enc.exp_code)
        pose = pose_from_code(enc.pose_code.float(), self.image_size)
        albedo = albedo_map = None
        if self.stage == 1:
            albedo = self.albedo_decoder(enc.id_code)
        else:
            albedo_map = self.albedo_cnn(enc.features, images).float().contiguous()
        return FaceNetOutput(
            id_code=enc.id_code,
            exp_code=enc.exp_code,
            pose_code=enc.pose_code,
            pose=pose,
            light=enc.light,
            shape=shape,
            albedo=albedo,
            albedo_map=albedo_map,
            landmarks2d=project(shape[:, self.landmarks68], pose)[..., :2],
            render=None,
            features=enc.features,
        )

    def render_output(self, out: FaceNetOutput, background=None) -> FaceNetOutput:
        """Rasterise a :meth:`decode` result with its own pose and light: a copy of ``out`` with
        ``render`` and the rendered ``landmarks2d`` filled in (gradients flow to every input)."""
        rendered = self.renderer.render(
            out.shape, out.albedo_any, out.pose, out.light.float(), background=background, landmarks=self.landmarks68
        )
        return dataclasses.replace(out, render=rendered, landmarks2d=rendered.landmarks2d)

    def vertex_albedo(self, out: FaceNetOutput, fallback: torch.Tensor | None = None) -> torch.Tensor:
        """Per-vertex albedo (B, V, 3) in (0, 1) of a rendered forward pass (export, symmetry loss).

        Stage 1 returns ``out.albedo``. Stage 2 samples ``out.albedo_map`` at the visible
        projected vertices, fills hidden ones from their mirror partner, and the rest from
        ``fallback`` ((V, 3) or (B, V, 3); default: the GCN albedo of the identity code; see
        :func:`~photoface.nn.albedo_cnn.vertex_albedo_from_map`). Differentiable; inference calls it
        under ``torch.no_grad``.
        """
        if out.albedo is not None:
            return out.albedo
        if out.render is None:
            raise ValueError("vertex_albedo needs a forward pass with render=True in stage 2")
        albedo, _ = vertex_albedo_from_map(
            out.albedo_map,
            out.render.screen_verts,
            out.render.tri_id,
            self.faces,
            self.mirror,
            self.albedo_decoder(out.id_code) if fallback is None else fallback,
        )
        return albedo

def build_facenet(
    face_model,
    encoder: str = "resnet18",
    image_size: int = 128,
    id_dim: int = 128,
    exp_dim: int = 64,
    decoder_channels: Sequence[int] = DEFAULT_CHANNELS,
    downsample_factors: Sequence[float] = DEFAULT_FACTORS,
    cheb_k: int = 6,
    encoder_weights: str | Path | None = None,
    channels_last: bool = False,
    stage: int = 1,
    hierarchy: MeshHierarchy | None = None,
    cache_dir: str | Path | None = None,
    **kwargs,
) -> FaceNet:
    """A :class:`FaceNet` for ``face_model``, with its mesh hierarchy from the disk cache.

    Args are those of :class:`FaceNet`, plus ``downsample_factors`` (fine → coarse) and
    ``cache_dir`` for :func:`photoface.mesh.load_or_build`, or a ready ``hierarchy``. The presets:
    demo = resnet18, 128 px, the ~5k-vertex model; paper = resnet50, 224 px, the ~37k model.
    """
    if hierarchy is None:
        hierarchy = load_or_build(
            _tensor(face_model.mean, torch.float64).numpy(),
            _tensor(face_model.faces, torch.long).numpy(),
            tuple(downsample_factors),
            cache_dir=cache_dir,
        )
    return FaceNet(
        face_model,
        hierarchy,
        encoder=encoder,
        image_size=image_size,
        id_dim=id_dim,
        exp_dim=exp_dim,
        decoder_channels=decoder_channels,
        cheb_k=cheb_k,
        encoder_weights=encoder_weights,
        channels_last=channels_last,
        stage=stage,
        **kwargs,
    )
