import math

import pytest
import torch

from photoface.evaluate.training_report import format_report, identity_separation, shape_spread, training_report
from support.runs import build_benchmark_run


def test_identity_separation_is_low_for_clustered_codes_and_one_for_random():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 16, generator=g)
    labels = [i for i in range(5) for _ in range(4)]
    clustered = centers[labels] + 0.05 * torch.randn(20, 16, generator=g)
    assert identity_separation(clustered, labels)["ratio"] < 0.05
    noise = torch.randn(2000, 16, generator=g)
    assert abs(identity_separation(noise, [i % 50 for i in range(2000)])["ratio"] - 1) < 0.05
    assert math.isnan(identity_separation(torch.zeros(4, 3), [0, 0, 1, 1])["ratio"]), "zero codes carry no identity"


def test_shape_spread_is_zero_for_one_repeated_shape_and_the_offset_otherwise():
    base = torch.randn(50, 3)
    assert shape_spread(base.expand(4, -1, -1)) == 0.0
    shifted = torch.stack([base + torch.tensor([2.0, 0, 0]), base - torch.tensor([2.0, 0, 0])])
    assert shape_spread(shifted) == pytest.approx(2.0)


@pytest.mark.slow
def test_training_report_on_a_tiny_run(tmp_path_factory):
    tiny = build_benchmark_run(tmp_path_factory.getbasetemp() / "tiny_benchmark_run")
    report = training_report(tiny["run"], tiny["data"])
    assert {"photometric", "landmark", "total"} <= set(report["losses"])
    (entry,) = [e for e in report["checkpoints"] if e["step"] == 2]
    assert entry["stage"] == 2
    for split in ("train", "test"):
        assert 0 < entry[f"identity_{split}"]["ratio"] < 2
    # the true meshes differ from one another; the mean face is the floor of nothing learned
    assert entry["true_spread_mm"] > 0.5 and entry["mean_face_error_mm"] > 0
    assert entry["shape_spread_mm"] >= 0 and entry["exp_code_norm"] >= 0
    # the demo preset starts at the landmark regression: two steps in, better than the mean face
    assert 0 < entry["shape_error_mm"] < 0.8 * entry["mean_face_error_mm"]
    text = format_report(report)
    assert f"{entry['true_spread_mm']:.3f}" in text and f"{entry['mean_face_error_mm']:12.3f}" in text
