import torch

from photoface.facemodel import builtin_model
from photoface.fit.contour import contour_lines, landmark_vertices
from photoface.render.camera import camera_space, frontal_pose


def test_lines_start_at_the_landmark_and_run_inwards():
    model = builtin_model("demo")
    lines = contour_lines(model)
    lm = model.landmarks68
    assert lines.shape[0] == 17 and (lines[:, 0] == lm[:17]).all()
    x = model.mean[:, 0]
    for k in range(17):
        if k != 8:
            xs = x[lines[k]] * torch.sign(x[lm[k]])
            assert (xs <= xs[0] + 1e-4).all() and (xs >= 0).all()  # between the landmark and the midline


def test_far_side_jaw_moves_to_the_silhouette_only_when_turned():
    model = builtin_model("demo")
    lines = contour_lines(model)
    lm = model.landmarks68
    pose = frontal_pose(2, 128)
    pose[0, 1], pose[1, 1] = 50.0, 5.0  # positive yaw shows the subject's right: 9-16 is the far side
    cam = camera_space(model.mean.expand(2, -1, -1), pose)
    idx = landmark_vertices(lm, lines, cam, pose[:, 1], min_yaw_deg=10.0)
    assert (idx[1] == lm).all()  # below the yaw threshold nothing moves
    far = list(range(10, 17))
    moved = idx[0, far] != lm[far]
    assert moved.any()
    # the chosen vertices lie further out in the image than the fixed ones (the silhouette)
    assert (cam[0, idx[0, far], 0] >= cam[0, lm[far], 0] - 1e-4).all()
    assert (idx[0, 17:] == lm[17:]).all()
