import torch

from photoface.nn.albedo_cnn import AlbedoCNN, vertex_albedo_from_map, visible_vertices

CHANNELS = (8, 8, 16, 16, 32)


def fake_features(b, h):
    return [torch.randn(b, c, h // 2 ** (i + 1), h // 2 ** (i + 1)) for i, c in enumerate(CHANNELS)]


def test_albedo_cnn_map_is_aligned_with_the_image_and_starts_at_base_colour():
    torch.manual_seed(0)
    base = torch.tensor([0.7, 0.5, 0.4])
    net = AlbedoCNN(CHANNELS, base, widths=(16, 8, 8, 8, 8))
    images = torch.rand(2, 3, 64, 64)
    out = net(fake_features(2, 64), images)
    assert out.shape == (2, 3, 64, 64)
    assert torch.allclose(out, base.view(1, 3, 1, 1).expand_as(out), atol=1e-6)
    torch.nn.init.normal_(net.out.weight, std=0.1)
    out = net(fake_features(2, 64), images)
    assert out.min() >= 0 and out.max() <= 1 and out.std() > 0.01
    out.mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_albedo_cnn_handles_sizes_not_divisible_by_32():
    net = AlbedoCNN(CHANNELS, torch.full((3,), 0.5), widths=(8,) * 5)
    feats = [torch.randn(1, c, s, s) for c, s in zip(CHANNELS, (50, 25, 13, 7, 4))]
    assert net(feats, torch.rand(1, 3, 100, 100)).shape == (1, 3, 100, 100)


def test_vertex_albedo_reads_map_at_projected_pixel_positions():
    h = w = 8
    # Albedo map whose red channel is the column index / 10 and green the row index / 10.
    cols = torch.arange(w).float().view(1, w).expand(h, w) / 10
    rows = torch.arange(h).float().view(h, 1).expand(h, w) / 10
    amap = torch.stack([cols, rows, torch.zeros(h, w)]).unsqueeze(0)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    # Vertices 0-2 at pixel centres (col, row) = (1, 2), (5, 6), (3, 3); 3-5 hidden.
    screen = torch.tensor([[[1.5, 2.5, 0], [5.5, 6.5, 0], [3.5, 3.5, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]])
    tri_id = torch.full((1, h, w), -1)
    tri_id[0, 3, 3] = 0  # only triangle 0 is visible
    mirror = torch.tensor([3, 4, 5, 0, 1, 5])  # 5 is its own partner: stays hidden
    fallback = torch.full((6, 3), 0.9)
    albedo, source = vertex_albedo_from_map(amap, screen, tri_id, faces, mirror, fallback)
    expected = torch.tensor([[0.1, 0.2, 0], [0.5, 0.6, 0], [0.3, 0.3, 0]])
    assert torch.allclose(albedo[0, :3], expected, atol=1e-6)
    assert torch.allclose(albedo[0, 3], expected[0]) and torch.allclose(albedo[0, 4], expected[1])
    assert torch.allclose(albedo[0, 5], torch.full((3,), 0.9))
    assert source.tolist() == [[0, 0, 0, 1, 1, 2]]


def test_visible_vertices_per_batch_item():
    faces = torch.tensor([[0, 1, 2], [2, 3, 4]])
    tri_id = torch.full((2, 4, 4), -1)
    tri_id[0, 0, 0] = 1
    tri_id[1, 2, 2] = 0
    vis = visible_vertices(tri_id, faces, 6)
    assert vis.tolist() == [[False, False, True, True, True, False], [True, True, True, False, False, False]]
