import numpy as np
from PIL import Image

from photoface.apps.inputs import crop_landmarks, dataset_landmarks, load_faces, stacked_landmarks
from photoface.data.format import load_dataset


def test_aligned_crops_of_a_dataset_get_its_landmarks_and_others_dlibs(tiny_run, tmp_path):
    ds = load_dataset(tiny_run["data"])
    row = ds.rows[0]
    path = ds.root / row.image
    assert np.allclose(dataset_landmarks(path), row.landmarks)
    outside = tmp_path / "crop.png"
    Image.open(path).save(outside)
    assert dataset_landmarks(outside) is None
    face = next(load_faces([path], 32, aligned=True, with_landmarks=True))
    assert np.allclose(face.landmarks, row.landmarks)
    assert next(load_faces([path], 32, aligned=True)).landmarks is None
    assert stacked_landmarks([face]).shape == (1, 68, 2)
    assert stacked_landmarks([face, next(load_faces([path], 32, aligned=True))]) is None
    lm = crop_landmarks(np.asarray(Image.open(path).convert("RGB")))
    assert lm.shape == (68, 2) and np.isfinite(lm).all()
