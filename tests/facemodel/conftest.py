"""Shared fixtures of the face-model tests: the demo procedural model (built once per session)
and a tiny hand-made model for the format and editing tests."""

from __future__ import annotations

import numpy as np
import pytest

from photoface.facemodel.model import IBUG_MIRROR, MorphableModel
from photoface.facemodel.procedural import build_procedural_model


@pytest.fixture(scope="session")
def demo_model() -> MorphableModel:
    return build_procedural_model("demo", seed=0)


def make_tiny_model(seed: int = 0) -> MorphableModel:
    """A symmetric 11×11 grid (121 vertices) with an exact mirror map, random bases and 68
    distinct landmarks whose iBUG mirror partners are mirror vertices."""
    rng = np.random.default_rng(seed)
    n = 11
    xs = np.linspace(-40.0, 40.0, n)
    gx, gy = np.meshgrid(xs, -xs)  # rows go down, columns towards +x
    mean = np.stack([gx, gy, 30.0 - 0.01 * (gx**2 + gy**2)], -1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = idx[i, j], idx[i, j + 1], idx[i + 1, j], idx[i + 1, j + 1]
            faces += [[a, c, d], [a, d, b]]
    mirror = idx[:, ::-1].reshape(-1)
    # 68 distinct landmarks whose mirror partners are landmarks too (pairs + midline points).
    left = [int(idx[i, j]) for i in range(n) for j in range(n // 2 + 1, n)]  # 55 left vertices
    mid = [int(idx[i, n // 2]) for i in range(n)]  # 11 midline vertices
    lm = np.full(68, -1)
    singles = [i for i in range(68) if IBUG_MIRROR[i] == i]
    for k, i in enumerate(singles):
        lm[i] = mid[k]
    pairs = [i for i in range(68) if IBUG_MIRROR[i] > i]
    for k, i in enumerate(pairs):
        lm[i] = mirror[left[k]]
        lm[IBUG_MIRROR[i]] = left[k]
    v = n * n
    return MorphableModel(
        mean,
        rng.normal(size=(4, v, 3)),
        rng.normal(size=(3, v, 3)),
        np.full((v, 3), 0.5),
        0.05 * rng.normal(size=(2, v, 3)),
        np.array(faces),
        lm,
        mirror,
        {"centre": idx[3:6, 3:6].reshape(-1), "left": np.array(left)},
        name="tiny",
        source="tests",
        license="CC0",
    )


@pytest.fixture
def tiny_model() -> MorphableModel:
    return make_tiny_model()
