"""The synthetic benchmark runner and the command, on a tiny trained run and a tiny synthetic dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from photoface.cli import main
from photoface.errors import InputFileError, PhotofaceError
from photoface.evaluate.protocol import evaluate_mesh
from photoface.evaluate.runner import MethodOutput, dense_errors, group_mesh, verification_summary
from photoface.evaluate.synthetic import evaluate_synthetic
from support.runs import build_benchmark_run, tiny_face_model, write_benchmark, write_tiny_dataset

FAST_ICP = {"max_iterations": 10}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_benchmark_run(tmp_path_factory.getbasetemp() / "evaluate_tiny_shared")


@pytest.fixture(scope="module")
def results(tiny):
    return evaluate_synthetic(tiny["run"], tiny["data"], shape_supervised=tiny["run"], protocol_options=FAST_ICP)


def _finite_numbers(obj, where=""):
    """Every number in a nested JSON value is finite (None only where a value cannot exist)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite_numbers(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _finite_numbers(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), where


def test_every_method_has_every_number(results):
    settings = ["cooperative", "indoor", "outdoor"]
    for method in ("model", "mean_face", "landmark_fit", "shape_supervised"):
        entry = results[method]
        assert list(entry["shape_mm"]["identity"]) == settings
        for key in ("photo_mm", "expression_mm", "landmark_nme", "pose_deg"):
            assert list(entry[key]) == settings, (method, key)
        assert entry["shape_mm"]["identity"]["indoor"]["n"] == 3
        _finite_numbers({k: v for k, v in entry.items()}, method)
    for method in ("model", "landmark_fit", "shape_supervised"):
        ver = results[method]["verification"]
        assert 0 <= ver["eer"] <= 1 and set(ver["tar_at_far"]) == {"0.001", "0.01", "0.1"}
    assert "verification" not in results["mean_face"]
    # the same run scored twice must give the same numbers
    assert results["shape_supervised"]["shape_mm"] == results["model"]["shape_mm"]
    # noiseless-ish landmarks of a linear face: the fit must beat the mean face by far
    lf, mf = results["landmark_fit"]["shape_mm"]["identity"], results["mean_face"]["shape_mm"]["identity"]
    assert all(lf[s]["mean"] < 0.6 * mf[s]["mean"] for s in settings)


def test_mean_face_equals_the_template_scored_directly(tiny, results):
    model, data = tiny["model"], tiny["data"]
    lm = model.landmarks68.numpy()
    mean = model.mean.numpy()
    errors = []
    for scan_file in sorted((data / "scans").glob("*.npy")):
        scan = np.load(scan_file).astype(np.float64)
        errors.append(evaluate_mesh(mean, model.faces.numpy(), scan, model.faces.numpy(), scan_nose_tip=scan[lm[30]],
                                    scan_landmarks=scan[lm], pred_landmarks=mean[lm].astype(np.float64),
                                    **FAST_ICP).symmetric_mm)
    for setting, summary in results["mean_face"]["shape_mm"]["identity"].items():
        assert summary["mean"] == pytest.approx(np.mean(errors), rel=1e-6), setting
        assert summary["std"] == pytest.approx(np.std(errors), rel=1e-6, abs=1e-9)


def test_command_writes_json_markdown_and_verification_file(tiny, tmp_path, capsys, monkeypatch):
    import functools

    from photoface.evaluate import runner

    monkeypatch.setattr(runner, "evaluate_mesh", functools.partial(evaluate_mesh, **FAST_ICP))
    out = tmp_path / "res" / "synthetic.json"
    calib = tiny["run"] / "verification.json"
    calib.unlink(missing_ok=True)
    rc = main(["evaluate", "synthetic", "--checkpoint", str(tiny["run"]), "--data", str(tiny["data"]),
               "--out", str(out), "--baselines", "mean_face", "--max-photos", "1"])
    assert rc == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert set(data) == {"model", "mean_face", "meta"}
    assert data["meta"]["photos"] == 9 and data["meta"]["max_photos"] == 1
    md = out.with_suffix(".md").read_text()
    assert "| Ours |" in md and "Cooperative (mm)" in md and "Average over identity" in md
    cal = json.loads(calib.read_text())
    assert cal["metric"] == "cosine" and cal["dataset"] == str(Path(tiny["data"]).resolve())
    for key in ("threshold", "eer", "far_at_threshold", "tar_at_threshold"):
        assert isinstance(cal[key], float) and math.isfinite(cal[key]), key
    assert cal["threshold"] == data["model"]["verification"]["threshold"]


def test_bad_arguments_and_wrong_datasets(tiny, tmp_path, capsys):
    run, data = tiny["run"], tiny["data"]
    with pytest.raises(PhotofaceError, match="unknown baseline"):
        evaluate_synthetic(run, data, baselines=["oracle"])
    with pytest.raises(PhotofaceError, match="mode"):
        evaluate_synthetic(run, data, modes=["average"])
    with pytest.raises(InputFileError, match="no such run"):
        evaluate_synthetic(tmp_path / "nothing", data)
    # the training tests' dataset: test rows without scans or settings
    plain = write_tiny_dataset(tmp_path / "plain", tiny["model"], tiny["model_path"], n_ids=2, per_id=2,
                               test_ids=1)
    with pytest.raises(InputFileError, match="not a synthetic benchmark dataset"):
        evaluate_synthetic(run, plain)
    other = write_benchmark(tmp_path / "other", tiny_face_model(seed=1), "other.npz", n_train=1, n_test=1,
                            per_id=3)
    with pytest.raises(PhotofaceError, match="another face model"):
        evaluate_synthetic(run, other)
    rc = main(["evaluate", "synthetic", "--checkpoint", str(run), "--data", str(tmp_path / "missing")])
    assert rc == 1 and "missing" in capsys.readouterr().err


def test_group_meshes_of_the_two_modes():
    rng = np.random.default_rng(0)
    neutral = rng.normal(size=(4, 5, 3))
    codes = rng.normal(size=(4, 2))
    out = MethodOutput("m", neutral, neutral, codes, np.zeros((4, 6)), None, decode_neutral=lambda c: c[:, :1, None]
                       * np.ones((1, 5, 3)))
    mesh, used = group_mesh(out, [0, 1, 3], "identity")
    assert used == [0, 1, 3] and np.allclose(mesh, codes[[0, 1, 3], 0].mean())
    yaw = np.array([30.0, 2.0, -28.0, -5.0])
    mesh, used = group_mesh(out, [0, 1, 2, 3], "three_views", yaw_deg=yaw)
    assert used == [0, 1, 2] and np.allclose(mesh, neutral[[0, 1, 2]].mean(0))
    no_codes = MethodOutput("m", neutral, neutral, None, None, None, None)
    assert np.allclose(group_mesh(no_codes, [1, 2], "identity")[0], neutral[[1, 2]].mean(0))


def test_dense_errors_ignore_similarity_and_see_offsets():
    rng = np.random.default_rng(1)
    true = rng.normal(scale=30, size=(2, 200, 3))
    lm = np.arange(68)
    angle = 0.3
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pred = 1.2 * true @ rot.T + 5.0
    assert np.allclose(dense_errors(pred, true, lm, crop_radius=1e9), 0, atol=1e-9)
    shifted = true.copy()
    shifted[:, ::2, 2] += 1.0
    shifted[:, 1::2, 2] -= 1.0
    assert np.allclose(dense_errors(shifted, true, lm, crop_radius=1e9), 1.0, atol=0.05)


def test_verification_summary_separates_distinct_identities():
    ids = [f"p{i}" for i in range(4) for _ in range(3)]
    codes = np.repeat(np.eye(4), 3, axis=0) + 0.01 * np.random.default_rng(0).normal(size=(12, 4))
    ver = verification_summary(codes, ids)
    assert ver["eer"] == 0.0 and ver["accuracy"] == 1.0 and ver["tar_at_threshold"] == 1.0
    assert ver["genuine_pairs"] == 12 and "identity-disjoint" in ver["accuracy_calibrated_on"]
    assert verification_summary(codes[:3], ids[:3]) is None


def test_network_method_resizes_images_and_scales_landmarks(tiny):
    from photoface.evaluate.runner import NetworkMethod
    from photoface.run.inference import load_trained

    method = NetworkMethod(load_trained(tiny["run"]))
    images = torch.rand(2, 3, 32, 32)
    lms = 6 + 20 * torch.rand(2, 68, 2)
    small = method.predict(images, lms)
    big = method.predict(torch.nn.functional.interpolate(images, size=(64, 64), mode="nearest"), 2 * lms)
    assert big.landmarks2d.shape == (2, 68, 2)
    assert np.allclose(big.landmarks2d, 2 * small.landmarks2d, atol=1.0)
    assert np.allclose(big.pose[:, :3], small.pose[:, :3], atol=2.0)


def test_balanced_threshold_does_not_reject_everything_when_impostors_dominate():
    from photoface.evaluate.runner import balanced_accuracy, balanced_threshold
    from photoface.run.verification import best_threshold

    rng = np.random.default_rng(0)
    genuine = rng.uniform(0.5, 1.0, 20)
    impostor = rng.uniform(0.0, 0.6, 2000)
    scores = np.r_[genuine, impostor]
    same = np.r_[np.ones(20), np.zeros(2000)].astype(int)
    thr = balanced_threshold(scores, same)
    assert 0.5 <= thr <= 0.6 and thr not in scores
    assert balanced_accuracy(scores, same, thr) > 0.9
    # plain-accuracy calibration on the same pairs accepts almost no genuine pair
    plain = best_threshold(scores, same)[0]
    assert (genuine >= plain).mean() < (genuine >= thr).mean()
    assert balanced_threshold(np.array([0.9, 0.1]), np.array([0, 1])) > 0.9  # best is to accept nothing


def test_error_map_figure_from_a_run(tiny, tmp_path, monkeypatch):
    import functools

    from PIL import Image

    from photoface.evaluate import runner
    from photoface.evaluate.runner_figures import write_synthetic_error_maps

    monkeypatch.setattr(runner, "evaluate_mesh", functools.partial(evaluate_mesh, **FAST_ICP))
    png = tmp_path / "maps.png"
    errors = write_synthetic_error_maps(tiny["run"], tiny["data"], png, setting="indoor", image_size=64)
    assert list(errors) == ["model", "landmark_fit", "mean_face"]
    assert errors["landmark_fit"] < errors["mean_face"]
    with Image.open(png) as im:
        assert im.size[0] > 200 and im.size[1] > 200
    with pytest.raises(PhotofaceError, match="no test photos"):
        write_synthetic_error_maps(tiny["run"], tiny["data"], png, identity="nobody")
