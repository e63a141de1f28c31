import pytest

from photoface.train.gradients import GROUPS, format_norms, term_gradient_norms
from support.runs import build_benchmark_run


@pytest.mark.slow
def test_term_gradient_norms_route_each_loss_to_the_parts_it_trains(tmp_path_factory):
    tiny = build_benchmark_run(tmp_path_factory.getbasetemp() / "tiny_benchmark_run")
    files = {f: f.stat().st_mtime_ns for f in tiny["run"].rglob("*") if f.is_file()}
    norms = term_gradient_norms(tiny["run"], batches=1)
    assert {f: f.stat().st_mtime_ns for f in tiny["run"].rglob("*") if f.is_file()} == files, "a diagnostic wrote into the run"
    assert {"photometric", "landmark", "recognition", "smooth"} <= set(norms)
    assert all(set(row) == set(GROUPS) for row in norms.values())
    # recognition reads only the identity code; smooth and shape only the decoded shape
    assert norms["recognition"]["id_head"] > 0
    assert norms["recognition"]["shape_decoder"] == 0 and norms["recognition"]["pose_head"] == 0
    assert norms["smooth"]["pose_head"] == 0
    # the landmarks depend on pose and shape
    assert norms["landmark"]["pose_head"] > 0 and norms["landmark"]["shape_decoder"] > 0
    assert "landmark" in format_norms(norms)
