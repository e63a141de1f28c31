import numpy as np
import pytest
import torch

from photoface.render.camera import project
from photoface.render.framing import framed_pose, render_framed


def _box():
    """A 40 × 20 × 10 mm box off the origin: 8 corners, 12 triangles facing outwards."""
    c = np.array([[x, y, z] for x in (0, 40) for y in (0, 20) for z in (0, 10)], np.float32) + [5, 30, -2]
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return torch.from_numpy(c.astype(np.float32)), faces


def _screen_box(points, pose):
    s = project(points[None].expand(len(pose), -1, -1), pose)[..., :2]
    return s.min(dim=1).values, s.max(dim=1).values


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (50.0, 0.0), (-30.0, 20.0)])
def test_view_fit_centres_the_turned_box_and_fills_the_requested_fraction(yaw, pitch):
    pts, _ = _box()
    pose = framed_pose(pts, 100, yaw, pitch, fill=0.8, fit="view")
    lo, hi = _screen_box(pts, pose)
    assert torch.allclose((lo + hi) / 2, torch.tensor([[50.0, 50.0]]), atol=1e-3)
    assert float((hi - lo).max()) == pytest.approx(80.0, abs=1e-3)


def test_model_fit_keeps_one_scale_and_turns_about_the_vertical_axis():
    pts, _ = _box()
    pose = framed_pose(pts, 100, torch.tensor([0.0, 40.0, 90.0]), fill=0.5, fit="model")
    assert torch.allclose(pose[:, 3], torch.full((3,), 0.5 * 100 / 40))  # x extent 40 mm
    # the model's vertical axis (x = z = 0) at the box's mid-height projects to the centre
    axis = torch.tensor([[0.0, 40.0, 0.0]])
    centre = project(axis[None].expand(3, -1, -1), pose)[:, 0, :2]
    assert torch.allclose(centre, torch.full((3, 2), 50.0), atol=1e-4)


def test_render_framed_draws_the_mesh_inside_the_view():
    pts, faces = _box()
    img = render_framed(pts[None], faces, torch.full((1, 8, 3), 0.8), 64, yaw=30.0, fill=0.7, background=0.0)
    assert img.shape == (1, 64, 64, 3) and img.dtype == np.uint8
    covered = img[0].sum(-1) > 0
    rows, cols = np.nonzero(covered)
    assert covered[32, 32] and 0.6 * 64 < max(np.ptp(rows), np.ptp(cols)) + 1 <= 0.7 * 64 + 1


def test_unknown_fit_is_refused():
    with pytest.raises(ValueError, match="fit"):
        framed_pose(torch.zeros(3, 3), 32, fit="tight")
