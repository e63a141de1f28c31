"""photoface.render.occlusion: cavities darker than open surface, convex surfaces fully open."""

import torch

from photoface.render.occlusion import sphere_directions, vertex_occlusion


def _grid(n=21, size=40.0):
    """A square (n × n vertices, ``size`` mm) facing +z, counter-clockwise from +z: (V, 3), (F, 3)."""
    ys, xs = torch.meshgrid(torch.linspace(-size / 2, size / 2, n), torch.linspace(-size / 2, size / 2, n),
                            indexing="ij")
    verts = torch.stack([xs, ys, torch.zeros_like(xs)], -1).reshape(-1, 3)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j
            faces += [[a, b, c], [a, c, d]]
    return verts, torch.tensor(faces)


def test_a_flat_sheet_is_open_and_a_pit_in_it_is_not():
    verts, faces = _grid()
    flat = vertex_occlusion(verts, faces)
    assert flat.min() > 0.95
    r = verts[:, :2].norm(dim=1)
    pit = verts.clone()
    pit[:, 2] = -15.0 * torch.exp(-(r / 6.0) ** 2)  # a deep, narrow well in the middle
    occ = vertex_occlusion(pit, faces)
    bottom, rim = occ[r < 2].mean(), occ[r > 15].mean()
    assert bottom < 0.7 and rim > 0.95  # the well's floor sees little of the sky


def test_a_convex_bump_is_open():
    verts, faces = _grid()
    r = verts[:, :2].norm(dim=1)
    verts[:, 2] = 8.0 * torch.exp(-(r / 8.0) ** 2)
    assert vertex_occlusion(verts, faces)[r < 4].min() > 0.95  # its top; its foot is a shallow hollow


def test_directions_cover_the_sphere_evenly():
    d = sphere_directions(48)
    assert torch.allclose(d.norm(dim=1), torch.ones(48, dtype=d.dtype))
    assert d.mean(0).norm() < 0.05 and (d[:, 2] > 0).sum() == 24
