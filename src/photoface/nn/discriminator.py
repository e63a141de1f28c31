"""GCN critic on face shapes for the adversarial loss (paper eq. 11, WGAN-div).

A COMA-style graph encoder: ``GC(K, c_i) → LeakyReLU → DS`` for each entry of ``channels``
(level i → i+1 of the mesh hierarchy), then a linear layer from the flattened coarse features to
one unbounded score per shape (a Wasserstein critic, so no sigmoid and no batch normalisation,
whose batch coupling would distort the gradient penalty).

Input: shapes (B, V, 3) in millimetres, canonical pose. The critic first subtracts the template
and divides by ``scale`` millimetres (an affine change of input that keeps activations of order
one; it loses no information). Every operation is twice differentiable, as the WGAN-div gradient
penalty needs (see :mod:`photoface.nn.chebconv`).
"""

from __future__ import annotations

from typing import Sequence

import torch

from photoface.mesh.hierarchy import MeshHierarchy
from photoface.nn.chebconv import ChebConv, GraphSampling

DEFAULT_CHANNELS = (16, 32, 64, 128)


class ShapeDiscriminator(torch.nn.Module):
    """(B, V, 3) mm → (B,) critic scores.

    Args:
        hierarchy: mesh hierarchy of the template; ``len(channels)`` down-samplings are used.
        mean: (V, 3) template, millimetres.
        channels: graph-convolution widths, fine → coarse.
        K: Chebyshev terms.
        scale: millimetres per unit of network input.
    """

    def __init__(
        self,
        hierarchy: MeshHierarchy,
        mean,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        K: int = 6,
        scale: float = 10.0,
    ):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not 1 <= len(channels) <= len(hierarchy.factors):
            raise ValueError(
                f"{len(channels)} discriminator levels need as many down-samplings; "
                f"the hierarchy has {len(hierarchy.factors)}"
            )
        mean = torch.as_tensor(mean, dtype=torch.float32)
        v = hierarchy.levels[0].n_vertices
        if tuple(mean.shape) != (v, 3):
            raise ValueError(f"mean must be (V={v}, 3) to match the hierarchy, got {tuple(mean.shape)}")
        self.register_buffer("mean", mean, persistent=False)
        self.scale = float(scale)
        self.convs = torch.nn.ModuleList()
        self.down = torch.nn.ModuleList()
        c_in = 3
        for i, c in enumerate(channels):
            self.convs.append(ChebConv(c_in, c, hierarchy.levels[i].laplacian, K))
            self.down.append(GraphSampling(hierarchy.down[i]))
            c_in = c
        self.coarse_vertices = hierarchy.levels[len(channels)].n_vertices
        self.fc = torch.nn.Linear(self.coarse_vertices * c_in, 1)
        self.act = torch.nn.LeakyReLU(0.2)

    def forward(self, shapes: torch.Tensor) -> torch.Tensor:
        """shapes (B, V, 3) mm → (B,) scores."""
        if shapes.dim() != 3 or tuple(shapes.shape[1:]) != tuple(self.mean.shape):
            raise ValueError(f"discriminator expects (B, {self.mean.shape[0]}, 3), got {tuple(shapes.shape)}")
        x = ((shapes - self.mean) / self.scale).transpose(0, 1)  # (V, B, 3)
        for conv, down in zip(self.convs, self.down):
            x = down(self.act(conv(x)))
        b = shapes.shape[0]
        return self.fc(x.transpose(0, 1).reshape(b, -1)).squeeze(1)
