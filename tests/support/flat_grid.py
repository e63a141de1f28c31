"""A flat square triangle mesh: the simplest open mesh with a known border."""

import numpy as np


def grid(n: int, side_mm: float):
    """(n², 3) vertices of a flat square of side ``side_mm`` in z = 0 and its (2(n-1)², 3) triangles."""
    xs = np.linspace(-side_mm / 2, side_mm / 2, n)
    x, y = np.meshgrid(xs, xs[::-1])
    verts = np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    return verts, faces
