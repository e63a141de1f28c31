import numpy as np
import pytest
import torch

from photoface.data.prepare.align import (
    TEMPLATE_MM,
    alignment_transform,
    apply_transform,
    five_points,
    invert_transform,
    similarity_transform,
    template_points,
    transform_pose,
    warp_image,
)


def _similarity(scale, angle_deg, tx, ty):
    a = np.radians(angle_deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.concatenate([r, [[tx], [ty]]], axis=1)


def test_similarity_transform_recovers_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    true = _similarity(0.37, 23.0, 11.0, -4.0)
    est = similarity_transform(src, apply_transform(true, src))
    np.testing.assert_allclose(est, true, atol=1e-9)
    np.testing.assert_allclose(invert_transform(est) @ np.append(apply_transform(est, src[:1])[0], 1), src[0])


def test_similarity_transform_never_reflects():
    src = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1.5]])
    dst = src * [-1, 1]  # a mirror image
    a = similarity_transform(src, dst)[:, :2]
    assert np.linalg.det(a) > 0


def test_template_follows_camera_framing():
    for size in (128, 224):
        t = template_points(size)
        f0 = size / 200
        # eyes symmetric about the centre column; subject's right eye on the image left
        assert (t[0, 0] + t[1, 0]) / 2 == pytest.approx(size / 2)
        assert t[0, 0] < size / 2 < t[1, 0]
        # image y down: eyes above the nose tip above the mouth
        assert t[0, 1] < t[2, 1] < t[3, 1]
        assert t[1, 0] - t[0, 0] == pytest.approx(f0 * 63.0)
    # the canonical origin (midpoint of nose root and chin) is between nose tip and mouth
    assert TEMPLATE_MM[3, 1] < 0 < TEMPLATE_MM[2, 1]


def test_alignment_maps_five_points_onto_template_for_similar_face():
    size = 128
    tpl = template_points(size)
    # a fake 68-point set whose five alignment points are a similarity image of the template
    photo_from_crop = _similarity(3.1, -12.0, 250.0, 90.0)
    lm = np.zeros((68, 2))
    pts = apply_transform(photo_from_crop, tpl)
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = pts[0], pts[1], pts[2], pts[3], pts[4]
    np.testing.assert_allclose(five_points(lm), pts)
    a = alignment_transform(lm, size)
    np.testing.assert_allclose(apply_transform(a, pts), tpl, atol=1e-9)


@pytest.mark.parametrize("scale", [2.0, 0.6, 0.2])
def test_warp_puts_pixels_where_transform_maps_points(scale):
    """A bright dot at a known landmark position lands where apply_transform says (sub-pixel)."""
    h, w = 300, 400
    img = np.zeros((h, w), np.uint8)
    centres = np.array([[100.5, 80.5], [300.5, 200.5], [201.5, 150.5]])
    for x, y in centres:
        img[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 255  # 7×7 square centred on (x, y)
    a = _similarity(scale, 17.0, 0, 0)
    corners = apply_transform(a, np.array([[0, 0], [w, 0], [0, h], [w, h]]))
    a[:, 2] = -corners.min(0) + 2
    size = int(np.ceil((corners.max(0) - corners.min(0)).max())) + 4
    out = warp_image(img, a, size, resample="bilinear").astype(float)
    expect = apply_transform(a, centres)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for cx, cy in expect:
        win = (np.abs(xx - cx) < 6 * scale + 3) & (np.abs(yy - cy) < 6 * scale + 3)
        wgt = out * win
        got = np.array([(wgt * xx).sum(), (wgt * yy).sum()]) / wgt.sum()
        assert np.allclose(got, [cx, cy], atol=0.25), (got, (cx, cy))


def test_transform_pose_agrees_with_camera_projection():
    from photoface.render.camera import project

    rng = np.random.default_rng(1)
    pts = torch.tensor(rng.normal(0, 40, (1, 30, 3)), dtype=torch.float64)
    pose = np.array([10.0, -25.0, 8.0, 2.3, 210.0, 170.0])
    a = _similarity(0.41, 21.0, -30.0, 12.0)
    photo_2d = project(pts, torch.tensor(pose)[None])[0, :, :2].numpy()
    crop_pose = transform_pose(pose, a)
    crop_2d = project(pts, torch.tensor(crop_pose)[None])[0, :, :2].numpy()
    np.testing.assert_allclose(crop_2d, apply_transform(a, photo_2d), atol=1e-6)
    assert crop_pose[0] == pose[0] and crop_pose[1] == pose[1]


@pytest.mark.slow
def test_template_agrees_with_builtin_model_framing():
    """A frontal render of the built-in model's mean face at pose 0 is already aligned: the
    alignment transform of its projected landmarks is close to the identity."""
    from photoface.facemodel import builtin_model
    from photoface.render.camera import project

    model = builtin_model("demo")
    size = 128
    lm3d = model.mean[model.landmarks68][None].double()
    pose = torch.tensor([[0.0, 0.0, 0.0, size / 200, size / 2, size / 2]], dtype=torch.float64)
    lm2d = project(lm3d, pose)[0, :, :2].numpy()
    a = alignment_transform(lm2d, size)
    scale = np.sqrt(np.linalg.det(a[:, :2]))
    assert abs(scale - 1) < 0.05
    assert abs(np.degrees(np.arctan2(a[1, 0], a[0, 0]))) < 0.5
    centre = np.array([size / 2, size / 2])
    assert np.linalg.norm(apply_transform(a, centre[None])[0] - centre) < 0.03 * size
