from photoface.data.format import load_dataset
from photoface.facemodel.io import save_model
from photoface.fit.collection import fit_collection, landmarks_are_fixed_vertices, use_contour
from photoface.fit.config import FitConfig
from support.runs import tiny_face_model, write_tiny_dataset


def test_people_are_loaded_one_at_a_time(tmp_path):
    model = tiny_face_model()
    save_model(model, tmp_path / "m.npz")
    ds = load_dataset(write_tiny_dataset(tmp_path / "d", model, tmp_path / "m.npz", n_ids=3, per_id=2, test_ids=0))
    loaded = []
    real = ds.load_image
    ds.load_image = lambda row: loaded.append(row.identity) or real(row)
    people = fit_collection(ds, model, FitConfig(light_iterations=0, photo_iterations=0, landmark_iterations=3))
    first, rows, fit = next(people)
    assert first == "p0" and loaded == ["p0", "p0"]  # nothing of the next person is read yet
    assert len(rows) == 2 and fit.landmarks2d.shape == (2, 68, 2)
    assert [p for p, _, _ in people] == ["p1", "p2"] and loaded == ["p0"] * 2 + ["p1"] * 2 + ["p2"] * 2


def test_contour_is_off_for_synthetic_landmarks_only(tmp_path):
    model = tiny_face_model()
    save_model(model, tmp_path / "m.npz")
    ds = load_dataset(write_tiny_dataset(tmp_path / "d", model, tmp_path / "m.npz", n_ids=1, per_id=1, test_ids=0))
    assert not landmarks_are_fixed_vertices(ds) and use_contour(FitConfig(), ds)
    ds.meta.source = "synthetic:model=builtin:demo"
    assert landmarks_are_fixed_vertices(ds) and not use_contour(FitConfig(), ds)
    assert use_contour(FitConfig(contour="on"), ds)
