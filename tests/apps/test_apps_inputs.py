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
    photo = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full_like(xx, 128)], -1).astype(np.uint8)
    t = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -5.0]])  # original px -> crop px, a 32² crop
    face = FaceInput(Path("p.png"), "p", torch.zeros(3, 32, 32), photo, 1.0, t)
    big = face.sharp_crop(3, pad=6)
    assert big.shape == (3, 3 * 32 + 12, 3 * 32 + 12)
    # crop px (x, y) is at big px (3x + 6, 3y + 6); original px = (x + 10, y + 5) / 0.5
    for x, y in ((4.0, 7.0), (20.0, 25.0), (-1.5, 30.0)):
        col, row = int(3 * x + 6), int(3 * y + 6)  # the big pixel whose corner is at that point
        ox, oy = ((col + 0.5 - 6) / 3 + 10) / 0.5, ((row + 0.5 - 6) / 3 + 5) / 0.5
        assert abs(float(big[0, row, col]) * 255 - ox * 255 / (w - 1)) < 4
        assert abs(float(big[1, row, col]) * 255 - oy * 255 / (h - 1)) < 4
    aligned = FaceInput(Path("c.png"), "c", torch.rand(3, 32, 32), photo, 1.0, None)
    up = aligned.sharp_crop(2, pad=4)
    assert up.shape == (3, 72, 72) and float(up[:, :4].abs().max()) == 0.0
