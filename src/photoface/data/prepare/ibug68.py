"""MediaPipe's 478 face-mesh points → the 68 iBUG points that prepared datasets carry.

The table is Peizhi Yan's published correspondence (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks,
MIT licence, ``mediapipe2dlib/mp2dlib.py`` at commit db9e81e): each iBUG point is one MediaPipe
point or the mean of two. It is used as published, not tuned to any photo; issue 21 measured it
on 16 AFLW2000-3D samples at 4.5 % NME (all 68 points) against dlib's 8.2 %.

On MediaPipe's (symmetric) canonical face every left/right pair of the table mirrors exactly but
one: jaw point 3 is the mean of points 132 and 58 while its partner 13 is point 361 alone, 10 mm
apart from 3's mirror image (checked in tests); the table is kept as published. Made symmetric
either way, MediaPipe's NME moved by at most 0.005 points on 40 and 100 synthetic photos with exact
landmarks (``photoface evaluate landmarks``; docs/benchmarks.md, "Landmarks against exact truth").

The jaw points (0–16) are MediaPipe's face-oval points, which lie on the visible outline of the
face like a 2-D detector's jaw points do (``photoface.fit.contour`` treats them as a silhouette).
"""

from __future__ import annotations

import numpy as np

MEDIAPIPE_TO_IBUG68: tuple[tuple[int, ...], ...] = (
    # jaw, subject's right ear → chin → left ear (iBUG 0–16)
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # right brow (17–21), left brow (22–26)
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    # nose bridge (27–30), nostrils (31–35)
    (168, 6), (197, 195), (5,), (4,),
    (75,), (97,), (2,), (326,), (305,),
    # right eye (36–41), left eye (42–47)
    (33,), (160,), (158,), (133,), (153,), (144,),
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips (48–59)
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lips (60–67)
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)
"""For each iBUG point (0-based), the MediaPipe point(s) whose mean it is."""


def ibug68_weights() -> np.ndarray:
    """(68, 478) matrix W with ``ibug = W @ mediapipe``: each row averages its MediaPipe points."""
    w = np.zeros((68, 478))
    for i, ids in enumerate(MEDIAPIPE_TO_IBUG68):
        w[i, list(ids)] = 1.0 / len(ids)
    return w


def to_ibug68(points: np.ndarray) -> np.ndarray:
    """(..., 478, D) MediaPipe points → (..., 68, D) iBUG points, same units."""
    return np.einsum("kp,...pd->...kd", ibug68_weights(), np.asarray(points, np.float64))
