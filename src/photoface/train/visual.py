"""Image grids of a training batch for people to look at (TensorBoard, RUN/images/latest.png).

One row per photo: input | render | albedo | shading | mesh. The albedo column is the rendered
colour divided by the shading (what the face would look like under flat white light); the mesh
column renders the decoded shape in a uniform grey under the renderer's default light, with the
predicted pose, so shape errors are visible without the distraction of colour.
"""

from __future__ import annotations

import torch

GREY = 0.7


@torch.no_grad()
def reconstruction_grid(parts, extras: dict, rows: int = 4) -> torch.Tensor:
    """(3, rows·S, 5·S) grid in [0, 1] from a step's inputs, network outputs and render.

    Args:
        parts: the training parts (renderer, face model).
        extras: ``x`` (StepInputs) and ``out`` (the rendered GeneratorOutput) of a step.
        rows: photos shown (at most the batch size).
    """
    x, net_out = extras["x"], extras["out"].net
    pose, render = net_out.pose, net_out.render
    n = min(rows, x.images.shape[0])
    shape = net_out.shape[:n].detach()
    mesh = parts.renderer.render(shape, torch.full_like(shape, GREY), pose[:n].detach()).image
    shading = render.shading[:n]
    mask = render.mask[:n]
    albedo = torch.where(mask > 0, render.image[:n] / shading.clamp_min(1e-3), torch.zeros_like(shading))
    peak = shading.flatten(1).amax(dim=1).clamp_min(1e-6)[:, None, None, None]
    columns = [x.images[:n], render.image[:n], albedo, shading / peak, mesh]
    grid = torch.cat([torch.cat([c[i].float().clamp(0, 1) for c in columns], dim=2) for i in range(n)], dim=1)
    return grid.cpu()
