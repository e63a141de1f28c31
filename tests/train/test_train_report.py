import math

import numpy as np
import torch

from photoface.train.report import aligned_error, identity_separation


def test_identity_separation_is_low_for_clustered_codes_and_one_for_random():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 16, generator=g)
    labels = [i for i in range(5) for _ in range(4)]
    clustered = centers[labels] + 0.05 * torch.randn(20, 16, generator=g)
    assert identity_separation(clustered, labels)["ratio"] < 0.05
    noise = torch.randn(2000, 16, generator=g)
    assert abs(identity_separation(noise, [i % 50 for i in range(2000)])["ratio"] - 1) < 0.05
    assert math.isnan(identity_separation(torch.zeros(4, 3), [0, 0, 1, 1])["ratio"]), "zero codes carry no identity"


def test_aligned_error_ignores_similarity_and_measures_shape():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(200, 3)) * 40
    angle = 0.3
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    moved = 1.2 * true @ rot.T + np.array([5.0, -3.0, 2.0])
    keep = np.arange(200)
    assert aligned_error(moved, true, keep) < 1e-9
    bumped = true.copy()
    bumped[:, 2] += rng.normal(size=200) * 2.0
    assert 1.0 < aligned_error(bumped, true, keep) < 2.0
