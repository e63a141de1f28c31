import torch

from photoface.data.augment import (
    IBUG68_MIRROR,
    Augmentation,
    apply_augmentation,
    draw_augmentation,
    flip_landmarks,
    flip_pose,
    mirror_shape,
    scale_pose,
)
from photoface.render.camera import project


def test_ibug_permutation_is_an_involution_that_keeps_the_midline():
    perm = torch.tensor(IBUG68_MIRROR)
    assert sorted(perm.tolist()) == list(range(68))
    assert torch.equal(perm[perm], torch.arange(68))
    fixed = {i for i in range(68) if perm[i] == i}
    assert fixed == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert perm[36] == 45 and perm[39] == 42 and perm[48] == 54 and perm[0] == 16 and perm[31] == 35


def _batch(b=2, size=16):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(b, 3, size, size, generator=g)
    masks = (torch.rand(b, 1, size, size, generator=g) > 0.5).float()
    landmarks = torch.rand(b, 68, 2, generator=g) * size
    visible = torch.rand(b, 68, generator=g) > 0.3
    poses = torch.tensor([[5.0, 20.0, -3.0, 0.08, 8.5, 7.0]]).repeat(b, 1)
    return images, masks, landmarks, visible, poses


def test_flip_twice_is_identity_and_landmarks_follow_the_pixels():
    images, masks, landmarks, visible, poses = _batch()
    size = images.shape[-1]
    # put a marker at the pixel that contains landmark 36 of row 0
    landmarks[0, 36] = torch.tensor([3.5, 5.5])  # centre of pixel (row 5, col 3)
    images[0, :, 5, 3] = 7.0
    aug = Augmentation(flip=torch.tensor([True, False]), scale=torch.ones(2))
    out = apply_augmentation(aug, images, masks, landmarks, visible, poses)
    # the flipped row's landmark 45 (the mirrored 36) sits on the marker, at column W-1-3
    assert torch.allclose(out[2][0, 45], torch.tensor([size - 3.5, 5.5]))
    assert out[0][0, 0, 5, size - 1 - 3] == 7.0
    assert torch.equal(out[3][0], visible[0, list(IBUG68_MIRROR)])
    assert torch.equal(out[0][1], images[1]) and torch.equal(out[2][1], landmarks[1])
    back = apply_augmentation(aug, *out)
    for a, b in zip(back, (images, masks, landmarks, visible, poses)):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def _mirrored_cloud():
    g = torch.Generator().manual_seed(1)
    half = torch.randn(1, 20, 3, generator=g) * 30 + torch.tensor([25.0, 0.0, 0.0])
    other = half * torch.tensor([-1.0, 1.0, 1.0])
    verts = torch.cat([half, other], dim=1)
    mirror = torch.cat([torch.arange(20, 40), torch.arange(20)])
    # an asymmetric deformation so that mirroring the shape actually changes it
    verts = verts + torch.randn(1, 40, 3, generator=g) * 3
    return verts, mirror


def test_flip_of_projection_equals_projection_of_mirrored_shape_with_flipped_pose():
    verts, mirror = _mirrored_cloud()
    pose = torch.tensor([[10.0, 25.0, -8.0, 0.6, 60.0, 70.0]])
    width = 128.0
    screen = project(verts, pose)[..., :2]
    flipped_image_points = torch.stack([width - screen[..., 0], screen[..., 1]], -1)[:, mirror]
    via_labels = project(mirror_shape(verts, mirror), flip_pose(pose, width))[..., :2]
    assert torch.allclose(flipped_image_points, via_labels, atol=1e-3)
    assert torch.equal(mirror_shape(mirror_shape(verts, mirror), mirror), verts)


def test_scale_moves_pixels_landmarks_and_pose_about_the_centre():
    size = 32
    images = torch.zeros(1, 3, size, size)
    mask = torch.ones(1, 1, size, size)
    # a 4x4 bright block centred at (x=24, y=8)
    images[0, :, 6:10, 22:26] = 1.0
    landmarks = torch.full((1, 68, 2), 16.0)
    landmarks[0, 0] = torch.tensor([24.0, 8.0])
    pose = torch.tensor([[0.0, 0.0, 0.0, 0.16, 24.0, 8.0]])
    aug = Augmentation(flip=torch.tensor([False]), scale=torch.tensor([0.75]))
    img, m, lm, _, p = apply_augmentation(aug, images, mask, landmarks, torch.ones(1, 68, dtype=torch.bool), pose)
    expected = torch.tensor([16 + 0.75 * 8, 16 - 0.75 * 8])
    assert torch.allclose(lm[0, 0], expected)
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    w = img[0, 0]
    centroid = torch.stack([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
    assert torch.allclose(centroid, expected, atol=0.05)
    assert m[0, 0, 0, 0] == 0 and m[0, 0, 16, 16] == 1, "pixels from outside the photo are ignored"
    assert torch.allclose(p, torch.tensor([[0.0, 0.0, 0.0, 0.12, 22.0, 10.0]]))
    # the scaled pose projects a shape exactly where the scaled landmarks go
    verts, _ = _mirrored_cloud()
    pose = torch.tensor([[5.0, -10.0, 3.0, 0.15, 14.0, 17.0]])
    s = torch.tensor([0.85])
    c = size / 2
    assert torch.allclose(
        project(verts, scale_pose(pose, s, size))[..., :2], c + s * (project(verts, pose)[..., :2] - c), atol=1e-4
    )


def test_draws_are_reproducible_and_tied_rows_flip_together():
    groups = torch.tensor([0, 1, 2, 3, 4, 4, 5, 5, 6, 6])
    a = draw_augmentation(10, torch.Generator().manual_seed(3), 0.5, (0.8, 1.0), groups)
    b = draw_augmentation(10, torch.Generator().manual_seed(3), 0.5, (0.8, 1.0), groups)
    assert torch.equal(a.flip, b.flip) and torch.equal(a.scale, b.scale)
    assert bool(((a.scale >= 0.8) & (a.scale <= 1.0)).all())
    for _ in range(20):
        d = draw_augmentation(10, torch.Generator().manual_seed(_), 0.5, (0.8, 1.0), groups)
        assert d.flip[4] == d.flip[5] and d.flip[6] == d.flip[7] and d.flip[8] == d.flip[9]
    never = draw_augmentation(10, torch.Generator().manual_seed(0), 0.0, (1.0, 1.0))
    assert not never.flip.any() and torch.equal(never.scale, torch.ones(10))


def test_flip_landmarks_maps_back():
    lm = torch.rand(3, 68, 2) * 64
    assert torch.allclose(flip_landmarks(flip_landmarks(lm, 64), 64), lm)
