import torch
import trimesh

from photoface.mesh.normals import face_normals, vertex_normals


def test_vertex_normals_of_sphere_point_outward_radially():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=3.0)
    verts = torch.tensor(sphere.vertices, dtype=torch.float64)
    faces = torch.tensor(sphere.faces, dtype=torch.long)
    n = vertex_normals(verts, faces)
    radial = verts / verts.norm(dim=-1, keepdim=True)
    assert torch.allclose(n.norm(dim=-1), torch.ones(len(verts), dtype=torch.float64))
    assert (n * radial).sum(-1).min() > 0.99


def test_face_normal_follows_counter_clockwise_winding_and_batches():
    verts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]]).repeat(2, 1, 1)
    faces = torch.tensor([[0, 1, 2]])
    assert torch.allclose(face_normals(verts, faces), torch.tensor([0.0, 0, 1]).expand(2, 1, 3))
    flipped = face_normals(verts, faces[:, [0, 2, 1]])
    assert torch.allclose(flipped, torch.tensor([0.0, 0, -1]).expand(2, 1, 3))
    unnormalised = face_normals(verts, faces, normalize=False)
    assert torch.allclose(unnormalised.norm(dim=-1), torch.full((2, 1), 1.0))  # 2 × area 0.5


def test_vertex_normals_are_area_weighted_and_differentiable():
    # A big triangle in the z=0 plane and a small one tilted: the shared vertex leans to the big one.
    verts = torch.tensor(
        [[0.0, 0, 0], [10, 0, 0], [0, 10, 0], [0, -1, 0], [-1, 0, 1]], requires_grad=True
    )
    faces = torch.tensor([[0, 1, 2], [0, 4, 3]])
    n = vertex_normals(verts, faces)
    assert n[0, 2] > 0.9
    n[0].sum().backward()
    assert torch.isfinite(verts.grad).all() and verts.grad.abs().sum() > 0
