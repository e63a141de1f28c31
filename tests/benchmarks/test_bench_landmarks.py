import numpy as np

import bench_landmarks
from photoface.data.format import load_dataset
from photoface.evaluate.landmark_photos import list_annotated
from photoface.facemodel.io import save_model
from support.runs import tiny_face_model, write_benchmark


def test_synthetic_photos_export_as_aflw2000_and_read_back_exactly(tmp_path):
    """The benchmark's AFLW2000-3D files must give the scorer the synthetic truth and yaw unchanged
    (through the 1-based MATLAB convention both ways)."""
    model = tiny_face_model()
    save_model(model, tmp_path / "m.npz")
    data = write_benchmark(tmp_path / "data", model, tmp_path / "m.npz", n_train=1, n_test=1, per_id=2)
    rows = load_dataset(data).rows
    n = bench_landmarks.export_aflw_layout(data, tmp_path / "aflw")
    folder = list_annotated(tmp_path / "aflw")
    assert n == len(rows) == len(folder.photos) and folder.layout == "aflw2000" and not folder.unpaired
    for row, photo in zip(rows, folder.photos):
        np.testing.assert_allclose(photo.landmarks, row.extra["landmarks_true"], atol=1e-9)
        assert abs(photo.yaw_deg - row.extra["pose_true"][1]) < 1e-9
