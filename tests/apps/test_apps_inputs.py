from pathlib import Path

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


def test_sharp_crop_reads_the_photo_at_a_multiple_of_the_crop_resolution_with_a_margin():
    import torch

    from photoface.apps.inputs import FaceInput

    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    photo = np.stack([(xx * 3) % 256, (yy * 4) % 256, np.full_like(xx, 128)], -1).astype(np.uint8)  # steep ramps
    t = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -5.0]])  # original px -> crop px, a 32² crop
    face = FaceInput(Path("p.png"), "p", torch.zeros(3, 32, 32), photo, 1.0, t)
    big, valid = face.sharp_crop(3, pad=6)
    assert big.shape == (3, 3 * 32 + 12, 3 * 32 + 12) and valid.shape == (1, 108, 108)
    # big px (col, row) has its centre at crop px ((col + 0.5 - 6) / 3, ...) = original (2 (x + 10), 2 (y + 5));
    # an original pixel's value holds at its centre (i + 0.5): sample where the ramps are linear
    for col, row in ((20, 30), (40, 41), (61, 70)):
        ox, oy = 2 * ((col + 0.5 - 6) / 3 + 10), 2 * ((row + 0.5 - 6) / 3 + 5)
        assert abs(float(big[0, row, col]) * 255 - 3 * (ox - 0.5)) < 1.5, (col, row)
        assert abs(float(big[1, row, col]) * 255 - 4 * (oy - 0.5)) < 2.0, (col, row)
    assert valid.min() == 1  # this crop and margin lie inside the photo
    # with the crop at the photo's corner, the margin's columns and rows 0-5 (crop px < 0) are not photo
    corner = FaceInput(Path("p.png"), "p", torch.zeros(3, 32, 32), photo, 1.0, np.array([[0.5, 0, 0], [0, 0.5, 0]]))
    big, valid = corner.sharp_crop(3, pad=6)
    assert valid[0, :, :6].sum() == 0 and valid[0, :6].sum() == 0 and valid[0, 6:, 6:].min() == 1
    assert float(big[:, :6].abs().max()) == 0.0
    aligned = FaceInput(Path("c.png"), "c", torch.rand(3, 32, 32), photo, 1.0, None)
    up, inside = aligned.sharp_crop(2, pad=4)
    assert up.shape == (3, 72, 72) and float(up[:, :4].abs().max()) == 0.0
    assert inside[0, :4].sum() == 0 and inside[0, 4:68, 4:68].min() == 1 and inside.sum() == 64 * 64
