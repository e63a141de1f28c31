import numpy as np
import pytest
import torch

from photoface.render.rasterize import interpolate, rasterize


def reference_rasterize(screen, faces, h, w, cull=True):
    """Slow, obviously correct z-buffer: loop over triangles, test every pixel centre in float64.

    Returns per item: tri (H, W) (-1 background), bary (H, W, 3), and an "ambiguous" mask of
    pixels whose answer is a tie (a centre within 1e-4 of a covering triangle's edge, or two
    covering triangles at nearly the same depth).
    """
    screen = np.asarray(screen, dtype=np.float64)
    faces = np.asarray(faces)
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    out = []
    for sv in screen:
        best_z = np.full((h, w), -np.inf)
        second_z = np.full((h, w), -np.inf)
        tri = np.full((h, w), -1)
        bary = np.zeros((h, w, 3))
        near_edge = np.zeros((h, w), bool)
        for t, (i, j, k) in enumerate(faces):
            (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = sv[i], sv[j], sv[k]
            area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if abs(area2) < 1e-9 or (cull and area2 > 0):
                continue
            b1 = ((px - x0) * (y2 - y0) - (py - y0) * (x2 - x0)) / area2
            b2 = ((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)) / area2
            b0 = 1 - b1 - b2
            bmin = np.minimum(np.minimum(b0, b1), b2)
            near_edge |= np.abs(bmin) < 1e-4
            inside = bmin >= 0
            z = b0 * z0 + b1 * z1 + b2 * z2
            nearer = inside & (z > best_z)
            second_z = np.where(nearer, best_z, np.where(inside, np.maximum(second_z, z), second_z))
            best_z = np.where(nearer, z, best_z)
            tri = np.where(nearer, t, tri)
            bary = np.where(nearer[..., None], np.stack([b0, b1, b2], -1), bary)
        tie = np.isfinite(second_z) & (best_z - np.where(np.isfinite(second_z), second_z, 0) < 1e-6)
        out.append((tri, bary, near_edge | tie))
    return out


def random_scene(seed, b=2, v=30, f=40, h=16, w=20):
    g = np.random.default_rng(seed)
    xy = g.uniform([-4, -4], [w + 4, h + 4], size=(b, v, 2))  # some vertices off-screen
    z = g.uniform(-5, 5, size=(b, v, 1))
    faces = np.stack([g.choice(v, 3, replace=False) for _ in range(f)])
    return np.concatenate([xy, z], -1), faces


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cull", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_triangle_ids_and_barycentrics_match_slow_reference(seed, cull, dtype):
    screen, faces = random_scene(seed)
    screen = torch.tensor(screen, dtype=dtype).double().numpy()  # the reference sees the same input
    h, w = 16, 20
    frags = rasterize(torch.tensor(screen, dtype=dtype), torch.tensor(faces), (h, w), cull_backfaces=cull)
    tri = frags.tri_id.numpy()
    bary = frags.bary.numpy()
    checked = 0
    for item, (ref_tri, ref_bary, ambiguous) in enumerate(reference_rasterize(screen, faces, h, w, cull)):
        ok = ~ambiguous
        np.testing.assert_array_equal(tri[item][ok], ref_tri[ok])
        np.testing.assert_allclose(bary[item][ok], ref_bary[ok], atol=1e-9 if dtype == torch.float64 else 1e-4)
        checked += int((ok & (ref_tri >= 0)).sum())
    assert checked > 100  # the scenes really cover pixels


def test_shared_edges_through_pixel_centres_leave_no_holes():
    # A grid whose vertices sit exactly on pixel centres: every centre on a shared edge or vertex.
    n, h, w = 9, 12, 12
    ys, xs = np.meshgrid(np.arange(n) * 1.0 + 1.5, np.arange(n) * 1.0 + 1.5, indexing="ij")
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], -1)
    quads = [(r * n + c, r * n + c + 1, (r + 1) * n + c, (r + 1) * n + c + 1) for r in range(n - 1) for c in range(n - 1)]
    # Clockwise in image coordinates = facing the camera.
    faces = np.array([f for a, b, c, d in quads for f in ((a, c, b), (b, c, d))])
    frags = rasterize(torch.tensor(verts)[None], torch.tensor(faces), (h, w))
    inside = np.zeros((h, w), bool)
    inside[1:1 + n, 1:1 + n] = True  # centres 1.5 .. 9.5, edges included
    np.testing.assert_array_equal(frags.mask[0].numpy(), inside)
    assert torch.allclose(frags.bary.sum(-1)[0][torch.tensor(inside)], torch.ones(1, dtype=torch.float64))


def test_offscreen_huge_and_degenerate_triangles():
    h, w = 10, 14
    verts = torch.tensor(
        [
            [-1e4, -1e4, 0.0], [1e4, 0.0, 0.0], [-1e4, 1e4, 0.0],  # covers the image, vertices far away
            [30.0, 2.0, 9.0], [40.0, 2.0, 9.0], [30.0, 8.0, 9.0],  # right of the image
            [2.0, 2.0, 9.0], [5.0, 5.0, 9.0], [8.0, 8.0, 9.0],  # collinear: zero area, in front
            [3.0, 3.0, 9.0], [3.0, 3.0, 9.0], [7.0, 1.0, 9.0],  # repeated vertex: zero area
        ]
    )[None]
    faces = torch.arange(12).view(4, 3)[:, [0, 2, 1]]  # clockwise in the image: front-facing
    frags = rasterize(verts, faces, (h, w))
    assert frags.mask.all()
    assert (frags.tri_id == 0).all()
    assert torch.isfinite(frags.bary).all()
    assert torch.allclose(frags.bary.sum(-1), torch.ones(1))


def test_partly_offscreen_triangle_is_clipped_not_dropped():
    verts = torch.tensor([[[-5.0, -5.0, 0.0], [6.0, 3.0, 0.0], [-5.0, 20.0, 0.0]]], dtype=torch.float64)
    faces = torch.tensor([[0, 2, 1]])
    frags = rasterize(verts, faces, (8, 8))
    (ref_tri, _, amb), = reference_rasterize(verts.numpy(), faces.numpy(), 8, 8)
    assert 0 < (ref_tri == 0).sum() < 64
    np.testing.assert_array_equal(frags.tri_id[0].numpy()[~amb], ref_tri[~amb])


def test_back_faces_culled_by_default_and_kept_on_request():
    verts = torch.tensor([[[1.0, 1.0, 0.0], [7.0, 1.0, 0.0], [1.0, 7.0, 0.0]]])
    ccw_in_image = torch.tensor([[0, 1, 2]])  # counter-clockwise with y down: facing away
    assert not rasterize(verts, ccw_in_image, 8).mask.any()
    kept = rasterize(verts, ccw_in_image, 8, cull_backfaces=False)
    assert kept.mask.sum() > 10
    assert rasterize(verts, ccw_in_image[:, [0, 2, 1]], 8).mask.sum() == kept.mask.sum()


def test_nearest_triangle_wins_whatever_the_order():
    near = [[0.0, 0.0, 5.0], [8.0, 0.0, 5.0], [0.0, 8.0, 5.0]]
    far = [[0.0, 0.0, -5.0], [8.0, 0.0, -5.0], [0.0, 8.0, -5.0]]
    faces = torch.tensor([[0, 2, 1], [3, 5, 4]])
    for first, second, winner in ((near, far, 0), (far, near, 1)):
        frags = rasterize(torch.tensor([first + second]), faces, 8)
        ids = frags.tri_id[frags.mask]
        assert ids.numel() > 10 and (ids == winner).all()
        assert torch.allclose(frags.depth[frags.mask], torch.tensor(5.0))


def test_chunked_candidates_give_identical_result_and_batches_are_independent():
    screen, faces = random_scene(7, b=3)
    s, f = torch.tensor(screen), torch.tensor(faces)
    full = rasterize(s, f, (16, 20))
    chunked = rasterize(s, f, (16, 20), candidate_budget=1)  # one triangle per chunk
    assert torch.equal(full.tri_id, chunked.tri_id)
    assert torch.equal(full.bary, chunked.bary)
    single = rasterize(s[1:2], f, (16, 20))
    assert torch.equal(single.tri_id[0], full.tri_id[1])


def _two_triangle_scene(dtype=torch.float64):
    # Pixel centres stay well away from edges, so small perturbations keep the coverage.
    verts = torch.tensor(
        [[[0.2, 0.3, 1.0], [6.1, 0.15, 2.0], [0.25, 5.9, 0.5], [6.3, 6.2, 1.5]]], dtype=dtype
    )
    faces = torch.tensor([[0, 2, 1], [1, 2, 3]])
    return verts, faces


def test_gradcheck_interpolation_wrt_attributes_and_positions():
    verts, faces = _two_triangle_scene()
    attr = torch.rand(1, 4, 2, dtype=torch.float64)
    weights = torch.rand(1, 6, 6, 2, dtype=torch.float64)

    def render(v, a):
        frags = rasterize(v, faces, 6)
        return (interpolate(a, faces, frags) * weights).sum(dim=(1, 2)), frags.depth

    v = verts.clone().requires_grad_()
    a = attr.clone().requires_grad_()
    assert torch.autograd.gradcheck(render, (v, a), eps=1e-6, atol=1e-7)


def test_interpolation_reproduces_linear_functions_and_depth():
    verts, faces = _two_triangle_scene()
    frags = rasterize(verts, faces, 6)
    # Interpolating the screen positions must give back each pixel centre.
    xy = interpolate(verts[..., :2], faces, frags)
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    m = frags.mask[0]
    assert m.sum() > 20
    assert torch.allclose(xy[0][m], torch.stack([cols + 0.5, rows + 0.5], -1).double()[m])
    z = interpolate(verts[..., 2:], faces, frags)[..., 0]
    assert torch.allclose(z[frags.mask], frags.depth[frags.mask])
    sparse = interpolate(verts[..., 2:], faces, frags, dense=False)
    assert sparse.shape == (int(m.sum()), 1)


def test_float32_input_and_empty_scene():
    verts = torch.tensor([[[50.0, 50.0, 0.0], [60.0, 50.0, 0.0], [50.0, 60.0, 0.0]]])
    frags = rasterize(verts, torch.tensor([[0, 2, 1]]), (4, 5))
    assert frags.tri_id.shape == (1, 4, 5) and not frags.mask.any()
    assert frags.bary.dtype == torch.float32 and frags.bary.shape == (1, 4, 5, 3)
