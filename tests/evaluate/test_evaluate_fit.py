"""The ``fit`` / ``fit_single`` methods of the synthetic benchmark, scored without a checkpoint."""

import numpy as np
import pytest

from photoface.evaluate.synthetic import evaluate_synthetic
from photoface.facemodel.io import save_model
from photoface.fit.config import FitConfig
from support.runs import tiny_face_model, write_benchmark

QUICK = FitConfig(light_iterations=3, photo_iterations=3, landmark_iterations=10)


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit_eval")
    model = tiny_face_model()
    save_model(model, root / "tiny.npz")
    return write_benchmark(root / "data", model, root / "tiny.npz", n_train=1, n_test=2, per_id=3), root / "tiny.npz"


@pytest.mark.slow
def test_fit_is_scored_by_the_same_protocol_without_a_checkpoint(bench_data):
    data, model_path = bench_data
    res = evaluate_synthetic(None, data, face_model=str(model_path), fit_config=QUICK,
                             baselines=["mean_face", "landmark_fit", "fit", "fit_single"],
                             protocol_options={"max_iterations": 5})
    assert "model" not in res and res["meta"]["checkpoint"] is None
    for name in ("fit", "fit_single", "landmark_fit"):
        assert set(res[name]["shape_mm"]["identity"]) == {"cooperative", "indoor", "outdoor"}
    fit_err = np.mean([v["mean"] for v in res["fit"]["shape_mm"]["identity"].values()])
    mean_err = np.mean([v["mean"] for v in res["mean_face"]["shape_mm"]["identity"].values()])
    assert fit_err < mean_err
    # one shared identity vector per person: genuine pairs are identical, so the EER is 0
    assert res["fit"]["verification"]["eer"] == 0.0
    assert res["fit_single"]["verification"]["eer"] >= 0.0
    assert res["fit"]["failed_photos"] == 0
    assert res["fit"]["landmark_nme"]["cooperative"]["mean"] < 0.05


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    from support.runs import build_benchmark_run

    return build_benchmark_run(tmp_path_factory.getbasetemp() / "evaluate_tiny_shared")


def test_refine_is_scored_next_to_the_model(bench_run):
    quick = FitConfig(light_iterations=2, photo_iterations=3)
    res = evaluate_synthetic(bench_run["run"], bench_run["data"], fit_config=quick, baselines=["refine"],
                             protocol_options={"max_iterations": 5}, write_verification=False)
    assert list(k for k in res if k != "meta")[:2] == ["model", "refine"]
    for name in ("model", "refine"):
        assert set(res[name]["shape_mm"]["identity"]) == {"cooperative", "indoor", "outdoor"}
    assert res["refine"]["failed_photos"] >= 0
    # one identity code per person: genuine pairs are identical
    assert res["refine"]["verification"]["eer"] == 0.0
    assert res["refine"]["shape_mm"]["identity"] != res["model"]["shape_mm"]["identity"]


def test_refine_needs_a_checkpoint(bench_data):
    from photoface.errors import PhotofaceError

    data, model_path = bench_data
    with pytest.raises(PhotofaceError, match="refine"):
        evaluate_synthetic(None, data, face_model=str(model_path), baselines=["refine"])
