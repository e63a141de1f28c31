"""Named vertex regions derived from the 68 iBUG landmarks, for imported models that have none.

The procedural model paints its regions from its own design (``procedural/landmarks.py``); BFM
carries at most ``segbin`` (nose, eyes, mouth, rest) and ICT-FaceKit none. Code that needs a
part of the face looks it up by name (the synthetic generator takes the skin colour of the
``cheeks``; ``model info`` lists them), so every imported model gets the procedural model's
names, here derived from where its landmarks lie:

=============== ==============================================================================
eye_left/right  inside the eye contour (42–47 / 36–41) or within 3 mm of it
eyes            both
eyelid_*        outside the eye contour, within 3 mm of it
brows           within 6 mm of the brow polylines 17–21, 22–26
nose            inside the hull of the nose landmarks 27–35 or within 7 mm of it, not the eyes
lips            inside the outer lip contour 48–59 (or within 1.5 mm of it) or the inner one 60–67,
                and not hidden in the frontal view
mouth_interior  the same outline, hidden behind the lips (teeth, the mouth's pocket)
mouth           lips and mouth_interior
cheeks          inside the hull of 1–4, 31, 48, 40, 41 (and mirrored), not nose, eyes, mouth, nor
                within 8 mm of the jaw line
forehead        above the brows by 4 mm up to 45 % of the brow-to-chin height, between 17 and 26
chin            inside the hull of 6–10 and 57, not within 3 mm of the lips
jaw             within 15 mm of the jaw line 2–14, not the lips or the chin's inside
=============== ==============================================================================

Distances and insides are taken in the frontal projection (x, y in mm). A vertex also has to lie
at most ``depth`` mm behind the region's landmarks (30 mm; 45 mm for the jaw, whose sides lie
far behind the nose), which keeps the back of a full head out of the frontal regions. Left/right
follow the subject (x > 0 is the subject's left). Regions without the side in their name are
made mirror-symmetric with the model's mirror map; empty regions are left out.
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path as _Polygon
from scipy.spatial import ConvexHull, cKDTree

from photoface.facemodel.model import IBUG_MIRROR

RIGHT_EYE, LEFT_EYE = list(range(36, 42)), list(range(42, 48))
RIGHT_BROW, LEFT_BROW = list(range(17, 22)), list(range(22, 27))
NOSE = list(range(27, 36))
OUTER_LIPS, INNER_LIPS = list(range(48, 60)), list(range(60, 68))
RIGHT_CHEEK = [1, 2, 3, 4, 31, 48, 40, 41]
CHIN = [6, 7, 8, 9, 10, 57]
OCCLUSION = (2.0, 3.0)  # mm: a vertex with another within this xy radius this much in front is hidden
JAW = list(range(2, 15))


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) distance of 2D points p (N, 2) to the segments a-b ((E, 2) each), minimum over segments."""
    ab = b - a  # (E, 2)
    ap = p[:, None] - a[None]  # (N, E, 2)
    t = np.clip((ap * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)[None], 0.0, 1.0)
    return np.linalg.norm(ap - t[..., None] * ab[None], axis=-1).min(1)


def _polyline_distance(p: np.ndarray, pts: np.ndarray, closed: bool) -> np.ndarray:
    a = pts if closed else pts[:-1]
    b = np.roll(pts, -1, axis=0) if closed else pts[1:]
    return _segment_distance(p, a, b)


def _hull(pts: np.ndarray) -> np.ndarray:
    return pts[ConvexHull(pts).vertices]


def _inside(p: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    return _Polygon(polygon).contains_points(p)


def _occluded(verts: np.ndarray) -> np.ndarray:
    """(V,) bool: hidden in the frontal view, i.e. some vertex within ``OCCLUSION[0]`` mm in (x, y)
    lies more than ``OCCLUSION[1]`` mm in front of it (the inside of the mouth behind the lips)."""
    radius, gap = OCCLUSION
    near = cKDTree(verts[:, :2]).query_ball_point(verts[:, :2], radius)
    front_z = np.array([verts[n, 2].max() for n in near])
    return verts[:, 2] < front_z - gap


def landmark_regions(verts: np.ndarray, landmarks68: np.ndarray, mirror: np.ndarray,
                     depth: float = 30.0) -> dict[str, np.ndarray]:
    """Regions of a face mesh from its landmarks (module docstring).

    Args:
        verts: (V, 3) vertices, mm, photoface axes (x to the subject's left, y up, z out of the face).
        landmarks68: (68,) vertex indices in iBUG order.
        mirror: (V,) left/right partner of each vertex.
        depth: how far (mm) behind its landmarks a vertex may lie and still belong to a region.

    Returns:
        name -> sorted int64 vertex indices (non-empty regions only).
    """
    verts = np.asarray(verts, np.float64)
    lm3 = verts[np.asarray(landmarks68, np.int64)]
    lm = lm3[:, :2]
    p = verts[:, :2]
    z = verts[:, 2]

    def front(idx, d=depth):
        return z > lm3[idx, 2].min() - d

    def around(idx, margin, closed=True, hull=False):
        """(inside, distance) of every vertex for the polygon / polyline of landmarks ``idx``."""
        pts = _hull(lm[idx]) if hull else lm[idx]
        dist = _polyline_distance(p, pts, closed)
        inside = _inside(p, pts) if closed else np.zeros(len(p), bool)
        return (inside | (dist < margin)) & front(idx), inside, dist

    out: dict[str, np.ndarray] = {}
    for side, eye in (("right", RIGHT_EYE), ("left", LEFT_EYE)):
        region, inside, dist = around(eye, 3.0)
        out[f"eye_{side}"] = region
        out[f"eyelid_{side}"] = ~inside & (dist < 3.0) & front(eye)
    eyes = out["eye_right"] | out["eye_left"]
    brows = around(RIGHT_BROW, 6.0, closed=False)[0] | around(LEFT_BROW, 6.0, closed=False)[0]
    nose = around(NOSE, 7.0, hull=True)[0] & ~eyes
    lip_front = lm3[OUTER_LIPS, 2].min()
    in_lips = around(OUTER_LIPS, 1.5)[0] | _inside(p, lm[INNER_LIPS])
    hidden = _occluded(verts)
    interior = in_lips & hidden & (z > lip_front - depth - 15.0)
    lips = in_lips & ~hidden
    mouth = lips | interior
    cheeks = np.zeros(len(p), bool)
    for side in (RIGHT_CHEEK, IBUG_MIRROR[RIGHT_CHEEK].tolist()):
        cheeks |= _inside(p, _hull(lm[side])) & front(side)
    cheeks &= ~nose & ~eyes & ~mouth & (_polyline_distance(p, lm[JAW], closed=False) > 8.0)
    brow_pts = lm[RIGHT_BROW + LEFT_BROW]
    top = brow_pts[:, 1].max()
    height = top - lm[8, 1]
    forehead = ((p[:, 1] > top + 4.0) & (p[:, 1] < top + 0.45 * height)
                & (p[:, 0] > lm[17, 0]) & (p[:, 0] < lm[26, 0]) & front(RIGHT_BROW + LEFT_BROW))
    near_lips = around(OUTER_LIPS, 3.0)[0]
    chin = _inside(p, _hull(lm[CHIN])) & front(CHIN) & ~near_lips
    jaw = (_polyline_distance(p, lm[JAW], closed=False) < 15.0) & front(JAW, depth + 15.0) & ~near_lips & ~chin
    out.update(eyes=eyes, brows=brows, nose=nose, lips=lips, mouth=mouth, mouth_interior=interior, cheeks=cheeks,
               forehead=forehead, chin=chin, jaw=jaw)
    mirror = np.asarray(mirror, np.int64)
    for name in list(out):
        if not name.endswith(("_left", "_right")):
            out[name] = out[name] | out[name][mirror]
    return {k: np.flatnonzero(v).astype(np.int64) for k, v in out.items() if v.any()}
