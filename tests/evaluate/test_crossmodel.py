"""``evaluate crossmodel``: a face model fitted to photos of another model's faces, scored surface to surface."""

import json

import numpy as np
import pytest

from photoface.cli import main
from photoface.errors import PhotofaceError
from photoface.evaluate.crossmodel import evaluate_crossmodel
from photoface.facemodel.io import save_model
from photoface.fit.config import FitConfig
from support.runs import tiny_face_model, write_benchmark
from support.transformed_models import similar_model

QUICK = dict(fit_config=FitConfig(light_iterations=3, photo_iterations=3, landmark_iterations=10),
             protocol_options={"max_iterations": 20})


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("crossmodel")
    model = tiny_face_model()
    path = save_model(model, root / "ref.npz")
    return model, path, write_benchmark(root / "data", model, path, n_train=1, n_test=2, per_id=3)


@pytest.mark.slow
def test_a_moved_copy_fits_like_the_reference_and_beats_the_mean_faces(bench, tmp_path):
    model, path, data = bench
    moved = similar_model(model, 1.1, [0.05, 0.1, 0.0], [3.0, -2.0, 5.0])  # same faces, another frame
    res = evaluate_crossmodel(data, path, moved, out=tmp_path / "cm.json", **QUICK)
    assert res["meta"]["identities"] == 2 and res["meta"]["photos"] == 6
    for key in ("photo_mm", "person_mm"):
        assert res["model_mean"][key]["mean"] == pytest.approx(res["reference_mean"][key]["mean"], abs=0.03)
        assert res["fit"][key]["mean"] < res["reference_mean"][key]["mean"]
    assert res["fit"]["beats_reference_mean"] == 2
    assert "nose" in res["fit"]["regions"]
    saved = json.loads((tmp_path / "cm.json").read_text())
    assert [p["identity"] for p in saved["people"]] == ["id001", "id002"]
    assert "beat the reference's mean face for 2 of 2" in (tmp_path / "cm.md").read_text()


def test_the_dataset_must_come_from_the_reference(bench, tmp_path):
    _, _, data = bench
    other = save_model(tiny_face_model(seed=1), tmp_path / "other.npz")
    with pytest.raises(PhotofaceError, match="not with the reference 'other.npz'"):
        evaluate_crossmodel(data, other, "builtin:demo")
    assert main(["evaluate", "crossmodel", "--data", str(data), "--reference", str(other)]) == 1


@pytest.mark.slow
def test_the_command_fits_a_builtin_model_by_name(bench, tmp_path, monkeypatch, capsys):
    from photoface.facemodel import procedural

    model, path, data = bench
    monkeypatch.setattr(procedural, "builtin_model", lambda resolution: model)
    out = tmp_path / "r.json"
    assert main(["evaluate", "crossmodel", "--data", str(data), "--reference", str(path), "--fit-model",
                 "builtin:demo", "--max-identities", "1", "--max-photos", "1", "--set", "photo_iterations=2",
                 "--set", "light_iterations=2", "--out", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["meta"]["fit_model"]["spec"] == "builtin:demo" and res["meta"]["identities"] == 1
    assert res["meta"]["photos"] == 3  # one per setting
    assert np.isfinite(res["fit"]["person_mm"]["mean"])
