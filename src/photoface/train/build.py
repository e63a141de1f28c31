"""Everything a run trains or uses, built from the config: face model, networks, optimisers.

* face model: ``model.face_model`` is ``builtin:demo`` / ``builtin:paper`` (the embedded
  procedural model) or the path of a face-model file (.npz);
* generator: :class:`photoface.nn.FaceNet` plus the recognition head (a linear classifier over the
  training identities) in one module, :class:`GeneratorModule`, so that a single forward (one
  DistributedDataParallel call) produces everything the losses need;
* identity centers: a (N, id_dim) buffer for the center loss, moved by Wen et al.'s update rule
  (``photoface.losses.center_update``), not by the optimiser;
* critic: :class:`photoface.nn.ShapeDiscriminator` on the same mesh hierarchy;
* optimisers (paper §4): Adam for the generator (lr 1e-4), RMSprop for the critic (lr 5e-5), each
  with a linear warm-up scheduler (``optim.warmup_steps``, 0 = constant as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from photoface.facemodel import MorphableModel, load_face_model, model_hash
from photoface.mesh import neighbour_mean_matrix
from photoface.nn import FaceNet, FaceNetOutput, ShapeDiscriminator
from photoface.run.build import build_network, network_args
from photoface.run.config import TrainConfig
from photoface.train.distributed import DistInfo


@dataclass
class GeneratorOutput:
    """What one generator forward produces for the losses.

    Attributes:
        net: the FaceNet output (codes, shape (B, V, 3) mm, the stage's albedo, pose, light);
            ``render`` is filled in by :meth:`photoface.nn.FaceNet.render_output` outside autocast.
        logits: (B, N) identity logits of the recognition head.
        pair_shape: (Q, V, 3) mm, the shape decoded from [id of A, exp of B] of each labeled pair,
            or None without pairs.
        albedo_vertices: stage 2 only, the per-vertex read-back of the albedo map (for the
            symmetry loss), set after rendering; else None.
    """

    net: FaceNetOutput
    logits: torch.Tensor
    pair_shape: torch.Tensor | None = None
    albedo_vertices: torch.Tensor | None = None

    def float(self) -> GeneratorOutput:
        """A copy in float32 (after bf16 autocast)."""
        return GeneratorOutput(
            self.net.float(), self.logits.float(),
            None if self.pair_shape is None else self.pair_shape.float(), self.albedo_vertices,
        )


class GeneratorModule(torch.nn.Module):
    """FaceNet + identity classifier: the parameters the generator optimiser trains.

    ``forward(images (B, 3, S, S), pair_a (Q,), pair_b (Q,), landmarks (B, 68, 2) px or None)`` →
    :class:`GeneratorOutput`
    (FaceNet's networks without rasterisation, the identity logits and the swapped-code pair
    shapes). Rendering happens outside (it has no parameters), so that mixed precision can be
    limited to the networks.
    """

    def __init__(self, net: FaceNet, id_dim: int, n_identities: int):
        super().__init__()
        self.net = net
        self.head = torch.nn.Linear(id_dim, max(1, n_identities))

    def forward(self, images: torch.Tensor, pair_a: torch.Tensor, pair_b: torch.Tensor,
                landmarks: torch.Tensor | None = None) -> GeneratorOutput:
        o = self.net.decode(images, landmarks)
        logits = self.head(o.id_code)
        pair_shape = self.net.decode_shape(o.id_code[pair_a], o.exp_code[pair_b]) if len(pair_a) else None
        return GeneratorOutput(net=o, logits=logits, pair_shape=pair_shape)


@dataclass
class Parts:
    """The run's modules and constants (all on the training device)."""

    cfg: TrainConfig
    face_model: MorphableModel
    face_model_hash: str
    net: FaceNet
    critic: ShapeDiscriminator
    nbr_mean: torch.Tensor  # sparse (V, V) neighbour-mean operator, for the smooth loss
    hierarchy_digest: str = ""  # MeshHierarchy.digest() of the graphs the networks run on
    generator: GeneratorModule | None = None
    centers: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    @property
    def renderer(self):
        return self.net.renderer

    @property
    def head(self) -> torch.nn.Linear:
        return self.generator.head

    def attach_identities(self, n_identities: int, device: torch.device) -> None:
        """Create the recognition head and the centers for ``n_identities`` training identities."""
        torch.manual_seed(self.cfg.schedule.seed + 1)
        self.generator = GeneratorModule(self.net, self.cfg.model.id_dim, n_identities).to(device)
        self.centers = torch.zeros(max(1, n_identities), self.cfg.model.id_dim, device=device)

    def wrap_generator(self, dist: DistInfo) -> torch.nn.Module:
        """The generator for the current stage: inactive albedo decoder frozen, DDP when distributed."""
        stage = self.net.stage
        self.net.albedo_decoder.requires_grad_(stage == 1)
        self.net.albedo_cnn.requires_grad_(stage == 2)
        if not dist.enabled:
            return self.generator
        ddp = torch.nn.parallel.DistributedDataParallel
        # The graph operators are sparse constant buffers, identical on every rank; DDP cannot
        # broadcast sparse tensors, so it is told to leave them alone.
        sparse = [n for n, b in self.generator.named_buffers() if b.layout != torch.strided]
        ddp._set_params_and_buffers_to_ignore_for_model(self.generator, sparse)
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        # Loss weights of 0 and the inactive branch leave parameters unused in some steps.
        return ddp(self.generator, device_ids=ids, find_unused_parameters=True)


def build_parts(cfg: TrainConfig, device: torch.device, face_model: MorphableModel | None = None) -> Parts:
    """FaceNet (stage 1) and critic on ``device`` for ``face_model`` (default: the configured one);
    the recognition head comes with the data (:meth:`Parts.attach_identities`)."""
    m = cfg.model
    face_model = load_face_model(m.face_model) if face_model is None else face_model
    digest = model_hash(face_model)
    net = build_network(face_model, network_args(cfg), encoder_weights=m.encoder_weights,
                        channels_last=cfg.schedule.channels_last, stage=1)
    hierarchy = net.hierarchy
    critic = ShapeDiscriminator(hierarchy, face_model.mean, m.discriminator_channels, m.cheb_k)
    nbr = neighbour_mean_matrix(face_model.faces.numpy(), face_model.num_vertices).tocoo()
    nbr_mean = torch.sparse_coo_tensor(
        torch.from_numpy(np.vstack([nbr.row, nbr.col])).long(), torch.from_numpy(nbr.data).float(), nbr.shape,
        check_invariants=False,
    ).coalesce()
    return Parts(cfg=cfg, face_model=face_model.to(device), face_model_hash=digest, net=net.to(device),
                 critic=critic.to(device), nbr_mean=nbr_mean.to(device), hierarchy_digest=hierarchy.digest())


def stage_parameters(parts: Parts, stage: int) -> list[torch.nn.Parameter]:
    """Generator parameters trained in ``stage`` (the other stage's albedo decoder excluded)."""
    skip = {id(p) for p in (parts.net.albedo_cnn if stage == 1 else parts.net.albedo_decoder).parameters()}
    return [p for p in parts.generator.parameters() if id(p) not in skip]


def _warmup(steps: int, offset: int):
    def factor(k: int) -> float:
        return 1.0 if steps <= 0 else min(1.0, (offset + k + 1) / steps)

    return factor


def generator_optimizer(cfg: TrainConfig, parts: Parts, stage: int, offset: int):
    """Adam over the stage's parameters and its warm-up scheduler; ``offset`` = the stage's first step.

    The linear landmark map gets its own group at ``optim.lr_landmark_linear`` when that is set: it
    starts at a regression solved in closed form, and Adam's first steps move every weight by about
    the learning rate, which at the generator's rate undoes the start (docs/training.md).
    """
    o = cfg.optim
    params = stage_parameters(parts, stage)
    groups = [{"params": params}]
    linear = parts.net.encoder.landmark_linear
    if linear is not None and o.lr_landmark_linear is not None:
        own = {id(p) for p in linear.parameters()}
        groups = [{"params": [p for p in params if id(p) not in own]},
                  {"params": [p for p in params if id(p) in own], "lr": o.lr_landmark_linear}]
    # fused: one kernel over all tensors; ~6x faster than the per-tensor loop on the CPU
    opt = torch.optim.Adam(groups, lr=o.lr_generator, betas=tuple(o.betas), weight_decay=o.weight_decay, fused=True)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _warmup(o.warmup_steps, offset))


def critic_optimizer(cfg: TrainConfig, parts: Parts):
    """RMSprop over the critic and its warm-up scheduler."""
    o = cfg.optim
    opt = torch.optim.RMSprop(parts.critic.parameters(), lr=o.lr_discriminator, foreach=True)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _warmup(o.warmup_steps, 0))
