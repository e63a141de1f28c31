"""COMA graph decoders: codes → per-vertex shape offsets (mm) or albedo on the template mesh.

The decoder walks a :class:`photoface.mesh.MeshHierarchy` from its coarsest level to the
template, as in the paper (and COMA)::

    FC(n_coarsest · c0) → US → GC(K, c0) → US → GC(K, c1) → … → US → GC(K, c_last) → GC(K, out)

i.e. with the default factors (4, 4, 4, 4, 2) and channels (256, 128, 64, 32, 16):
FC(l·256) → US(2) → GC(6,256) → US(4) → GC(6,128) → US(4) → GC(6,64) → US(4) → GC(6,32) → US(4)
→ GC(6,16) → GC(6,3). Every GC but the last is followed by an ELU, as in COMA. Activations stay
vertex-major (V, B, C) inside (see :mod:`photoface.nn.chebconv`); the output is (B, V, C).

Initialisation: every bias starts at zero (the FC's too) and ELU(0) = 0, so the all-zero code
decodes to exactly the template: the shape decoder gives the mean face, the albedo decoder the
model's mean albedo. The encoder's heads start at zero (:mod:`photoface.nn.encoder`), so the first
renders show the mean face, which training needs. The last layer starts random but small
(``OUT_INIT_GAIN`` × Glorot). Measured on the demo preset (250 synthetic identities, 600 steps,
held-out photos), the two obvious choices both fail:

* a zero last layer makes every code's effect a product of two zeros, a saddle: the expression
  code (which, unlike the identity code, has no recognition loss to move it) ended at norm 0.08;
* a full-size random last layer makes every change of a code cost shape and photometric loss
  before the codes mean anything, and training shrinks them: identity-code norm 0.03, decoded
  shapes 0.14 mm from their average (true shapes: 5.3 mm), weak identity clustering (intra/inter
  cosine-distance ratio 0.79 on training people).

With the gain of 0.01 the identity codes grow with the recognition loss (norm 2.5, ratio 0.55 on
training people, 0.60 on held-out ones) and the codes still get gradients from the first step.

Units: the shape decoder's network output is multiplied by ``offset_scale`` millimetres (default
10 mm, the order of identity variation between faces) so that the network works with activations
of order one. The albedo decoder adds its output to logit(template albedo) and applies a sigmoid,
so its result always lies in (0, 1).
"""

from __future__ import annotations

from typing import Sequence

import torch

from photoface.mesh.hierarchy import MeshHierarchy
from photoface.nn.chebconv import ChebConv, GraphSampling

DEFAULT_CHANNELS = (256, 128, 64, 32, 16)
# Scale of the last layer's random initial weights relative to Glorot (see the module docstring).
OUT_INIT_GAIN = 0.01


class GraphDecoder(torch.nn.Module):
    """Code (B, in_dim) → per-vertex features (B, V, out_channels) on ``hierarchy.levels[0]``.

    Args:
        in_dim: code size.
        hierarchy: the template's mesh hierarchy; ``len(channels)`` up-samplings are used, from
            level ``len(channels)`` up to level 0.
        channels: graph-convolution widths, coarse → fine.
        out_channels: features per output vertex.
        K: Chebyshev terms.
    """

    def __init__(
        self,
        in_dim: int,
        hierarchy: MeshHierarchy,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        out_channels: int = 3,
        K: int = 6,
    ):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        n_up = len(channels)
        if not 1 <= n_up <= len(hierarchy.factors):
            raise ValueError(
                f"{n_up} decoder channel entries need as many hierarchy levels; "
                f"the hierarchy has {len(hierarchy.factors)} down-samplings"
            )
        self.coarse_vertices = hierarchy.levels[n_up].n_vertices
        self.channels = channels
        self.fc = torch.nn.Linear(in_dim, self.coarse_vertices * channels[0])
        self.up = torch.nn.ModuleList()
        self.convs = torch.nn.ModuleList()
        c_in = channels[0]
        for i, c in enumerate(channels):
            level = n_up - 1 - i  # the finer level this step up-samples into
            self.up.append(GraphSampling(hierarchy.up[level]))
            self.convs.append(ChebConv(c_in, c, hierarchy.levels[level].laplacian, K))
            c_in = c
        self.out_conv = ChebConv(c_in, out_channels, hierarchy.levels[0].laplacian, K)
        torch.nn.init.zeros_(self.fc.bias)  # ChebConv biases start at zero already: f(0) = 0
        with torch.no_grad():
            self.out_conv.weight.mul_(OUT_INIT_GAIN)
        self.act = torch.nn.ELU()

    @property
    def num_vertices(self) -> int:
        return self.out_conv.num_vertices

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        b = code.shape[0]
        x = self.fc(code).view(b, self.coarse_vertices, self.channels[0]).transpose(0, 1).contiguous()
        for up, conv in zip(self.up, self.convs):
            x = self.act(conv(up(x)))
        return self.out_conv(x).permute(1, 0, 2)


class ShapeDecoder(torch.nn.Module):
    """[c_id, c_exp] → face shape (B, V, 3) in millimetres, template + decoded offsets.

    Args:
        hierarchy: mesh hierarchy of the template.
        mean: (V, 3) template (mean face), millimetres, model space.
        id_dim, exp_dim: code sizes (paper: 128, 64).
        channels, K: see :class:`GraphDecoder`.
        offset_scale: millimetres per unit of network output.
        linear_basis: optional (id_dim + exp_dim, V, 3) mm per code unit. When given, the decoder
            adds a learned linear path that starts at this basis, ``shape = mean + Σ_j c_j
            basis_j + GCN offsets``: the GCN then learns a residual on a linear model instead of
            the whole face space (the demo preset; the paper's decoder is the GCN alone).
            ``photoface.nn.code_map.linear_basis`` builds it from a face model with the code
            map of stage 0.
    """

    def __init__(
        self,
        hierarchy: MeshHierarchy,
        mean,
        id_dim: int = 128,
        exp_dim: int = 64,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        K: int = 6,
        offset_scale: float = 10.0,
        linear_basis: torch.Tensor | None = None,
    ):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        _check_template(mean, hierarchy, "mean")
        self.register_buffer("mean", mean, persistent=False)
        self.id_dim, self.exp_dim = id_dim, exp_dim
        self.offset_scale = float(offset_scale)
        self.net = GraphDecoder(id_dim + exp_dim, hierarchy, channels, 3, K)
        self.linear = None
        if linear_basis is not None:
            basis = torch.as_tensor(linear_basis, dtype=torch.float32)
            if tuple(basis.shape) != (id_dim + exp_dim, *mean.shape):
                raise ValueError(f"linear_basis must be ({id_dim + exp_dim}, {mean.shape[0]}, 3), "
                                 f"got {tuple(basis.shape)}")
            self.linear = torch.nn.Linear(id_dim + exp_dim, mean.numel(), bias=False)
            with torch.no_grad():
                self.linear.weight.copy_(basis.reshape(id_dim + exp_dim, -1).t())

    def offsets(self, id_code: torch.Tensor, exp_code: torch.Tensor) -> torch.Tensor:
        """(B, id_dim), (B, exp_dim) → offsets (B, V, 3) mm from the template."""
        code = torch.cat([id_code, exp_code], dim=1)
        out = self.offset_scale * self.net(code)
        if self.linear is not None:
            out = out + self.linear(code).view_as(out)
        return out

    def forward(self, id_code: torch.Tensor, exp_code: torch.Tensor) -> torch.Tensor:
        """(B, id_dim), (B, exp_dim) → shape (B, V, 3) mm, canonical pose."""
        return self.mean + self.offsets(id_code, exp_code)


class AlbedoDecoder(torch.nn.Module):
    """c_id → per-vertex albedo (B, V, 3) in (0, 1): sigmoid(logit(template albedo) + GCN(c_id)).

    Args:
        hierarchy: mesh hierarchy of the template.
        tex_mean: (V, 3) template albedo in [0, 1] (clamped to [0.005, 0.995] before the logit).
        id_dim: identity code size.
        channels, K: see :class:`GraphDecoder`.
    """

    def __init__(
        self,
        hierarchy: MeshHierarchy,
        tex_mean,
        id_dim: int = 128,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        K: int = 6,
    ):
        super().__init__()
        tex = torch.as_tensor(tex_mean, dtype=torch.float32)
        _check_template(tex, hierarchy, "tex_mean")
        self.register_buffer("base_logit", torch.logit(tex.clamp(0.005, 0.995)), persistent=False)
        self.net = GraphDecoder(id_dim, hierarchy, channels, 3, K)

    def forward(self, id_code: torch.Tensor) -> torch.Tensor:
        """(B, id_dim) → (B, V, 3) linear RGB albedo in (0, 1)."""
        return torch.sigmoid(self.base_logit + self.net(id_code))


def _check_template(t: torch.Tensor, hierarchy: MeshHierarchy, name: str) -> None:
    v = hierarchy.levels[0].n_vertices
    if tuple(t.shape) != (v, 3):
        raise ValueError(f"{name} must be (V={v}, 3) to match the hierarchy, got {tuple(t.shape)}")
