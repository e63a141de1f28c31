import math

import torch

from photoface.train.report import identity_separation


def test_identity_separation_is_low_for_clustered_codes_and_one_for_random():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 16, generator=g)
    labels = [i for i in range(5) for _ in range(4)]
    clustered = centers[labels] + 0.05 * torch.randn(20, 16, generator=g)
    assert identity_separation(clustered, labels)["ratio"] < 0.05
    noise = torch.randn(2000, 16, generator=g)
    assert abs(identity_separation(noise, [i % 50 for i in range(2000)])["ratio"] - 1) < 0.05
    assert math.isnan(identity_separation(torch.zeros(4, 3), [0, 0, 1, 1])["ratio"]), "zero codes carry no identity"
