"""The set-up the benchmark runners share, on the tiny trained run."""

from __future__ import annotations

import time

import pytest

from photoface.errors import PhotofaceError
from photoface.evaluate.benchmark import (
    benchmark_methods,
    check_methods,
    load_run,
    mesh_scorer,
    results_meta,
    run_folder,
)


@pytest.fixture(scope="module")
def trained(tiny_run):
    return load_run(tiny_run["run"], "cpu", "model")


def test_methods_come_in_the_results_order(trained, tiny_run):
    methods = benchmark_methods(trained, baselines=["landmark_fit", "mean_face"], image_size=48,
                                shape_supervised=tiny_run["run"], neutral="mean")
    assert [m.name for m in methods] == ["model", "landmark_fit", "mean_face", "shape_supervised"]
    assert methods[0].neutral_kind == methods[-1].neutral_kind == "mean"
    assert [m.name for m in benchmark_methods(trained)] == ["model"]


def test_a_run_of_another_face_model_is_refused(tiny_run):
    with pytest.raises(PhotofaceError, match="shape_supervised run uses another face model"):
        load_run(tiny_run["run"], "cpu", "shape_supervised", expected_hash="0" * 64)


def test_names_are_checked():
    check_methods(["mean_face"], ["identity", "three_views"])
    with pytest.raises(PhotofaceError, match="unknown baseline"):
        check_methods(["oracle"], ["identity"])
    with pytest.raises(PhotofaceError, match="mode"):
        check_methods([], [])


def test_meta_header_and_scorer(trained, tiny_run):
    meta = results_meta("synthetic", tiny_run["data"], trained, time.perf_counter(), photos=3)
    assert list(meta) == ["benchmark", "dataset", "checkpoint", "run", "step", "photos", "seconds"]
    assert meta["run"] == str(run_folder(trained)) == str(tiny_run["run"].resolve()) and meta["step"] == 2
    scorer = mesh_scorer(trained.face_model, {"max_iterations": 3})
    assert scorer.faces.shape == tuple(trained.face_model.faces.shape) and scorer.options == {"max_iterations": 3}
