"""``evaluate crossmodel``: a face model fitted to photos of another model's faces, scored surface to surface."""

import json

import numpy as np
import pytest

from photoface.cli import main
from photoface.data.format import load_dataset
from photoface.data.prepare import pipeline
from photoface.data.prepare.faces import Face
from photoface.data.prepare.images import load_photo
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
    assert res["meta"]["identities"] == 2 and res["meta"]["photos"] == 6 and res["meta"]["landmarks"] == "truth"
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


class _FakeFinder:
    """Answers for the test photos as a detector would: each photo's true 68 landmarks (no MediaPipe
    points), nothing for the photos in ``blind``; photos are told apart by their pixels."""

    kind = "mediapipe"

    def __init__(self, data, blind):
        ds = load_dataset(data).filter(split="test")
        self.known = [(load_photo(data / r.image).rgb, np.asarray(r.extra["landmarks_true"]), r.image in blind)
                      for r in ds.rows]

    def find(self, rgb, max_faces=None):
        for pixels, lm, blind in self.known:
            if np.array_equal(pixels, rgb):
                # the box only decides prepare's minimum face size; these 32-px photos are small
                return ([] if blind else [Face(lm, np.array([-20.0, -20.0, 52.0, 52.0]), "mediapipe")]), None
        raise AssertionError("a photo that is not one of the benchmark's")


@pytest.mark.slow
def test_detected_landmarks_prepare_and_fit_the_photos_and_report_the_missed_one(bench, tmp_path, monkeypatch):
    model, path, data = bench
    last = load_dataset(data).filter(split="test").rows[-1]
    monkeypatch.setattr(pipeline, "_detector", lambda kind: _FakeFinder(data, {last.image}))
    res = evaluate_crossmodel(data, path, path, out=tmp_path / "cm.json", landmarks="detected", **QUICK)
    meta = res["meta"]
    assert meta["landmarks"] == "detected" and meta["photos"] == 6
    assert meta["missed"] == {last.image: "no face found"} and meta["failed_photos"] >= 1
    assert meta["detectors"] == {"mediapipe": 5} and meta["extra_faces"] == 0
    assert res["fit"]["photo_mm"]["n"] == 5 and res["fit"]["photo_mm"]["failed"] == 1
    assert res["reference_mean"]["photo_mm"]["n"] == 6  # the baselines are scored on every photo
    assert [p["missed_photos"] for p in res["people"]] == [0, 1]
    assert res["fit"]["person_mm"]["n"] == 2
    # the reference fitted to its own faces' photos beats its mean face: meshes met their own truths
    assert res["fit"]["photo_mm"]["mean"] < res["reference_mean"]["photo_mm"]["mean"]
    md = (tmp_path / "cm.md").read_text()
    assert "1 photos gave no face" in md and "Landmarks: detected" in md


def test_landmarks_must_be_truth_or_detected(bench):
    _, path, data = bench
    with pytest.raises(PhotofaceError, match="landmarks must be one of truth, detected"):
        evaluate_crossmodel(data, path, path, landmarks="dlib")


def test_the_command_passes_landmarks_and_detector(monkeypatch, tmp_path):
    from photoface.evaluate import crossmodel

    seen = {}

    def fake(data, reference, fit_model, **kw):
        seen.update(kw)
        return {"meta": {"seconds": 0.0}}

    monkeypatch.setattr(crossmodel, "evaluate_crossmodel", fake)
    args = ["evaluate", "crossmodel", "--data", str(tmp_path), "--reference", "r.npz", "--out", str(tmp_path / "r.json")]
    assert main(args + ["--landmarks", "detected", "--detector", "dlib"]) == 0
    assert seen["landmarks"] == "detected" and seen["detector"] == "dlib"
    assert main(args) == 0
    assert seen["landmarks"] == "truth"
