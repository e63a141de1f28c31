"""AFLW2000-3D annotations written as the dataset stores them, for the landmark scorer's tests."""

import numpy as np
import scipy.io


def write_mat(path, landmarks, yaw_deg):
    """An AFLW2000-3D ``.mat`` (MATLAB v5) with the dataset's keys and shapes; ``landmarks`` (68, 2)
    in photoface pixels, stored 1-based (MATLAB) as the dataset stores them; yaw in degrees."""
    pts = np.zeros((3, 68))
    pts[:2] = (np.asarray(landmarks) + 0.5).T
    scipy.io.savemat(path, {
        "pt3d_68": pts, "pt2d": pts[:2, :21].copy(),
        "Pose_Para": np.array([[0.1, np.radians(yaw_deg), -0.05, 220.0, 230.0, 10.0, 0.0015]]),
        "Shape_Para": np.zeros((199, 1)), "Exp_Para": np.zeros((29, 1)), "Color_Para": np.zeros((1, 7)),
        "Illum_Para": np.zeros((1, 10)), "Tex_Para": np.zeros((199, 1)), "roi": np.array([[50, 60, 300, 320]]),
    })
