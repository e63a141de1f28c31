import numpy as np
import pytest

from photoface.data.prepare.align import alignment_transform, apply_transform, warp_image
from photoface.data.prepare.mask import face_mask, face_region, sample_region, warp_mask


@pytest.fixture(scope="module")
def astronaut_crop():
    from skimage import data

    from photoface.data.prepare.detect import FaceDetector

    img = data.astronaut()
    det = FaceDetector("hog")
    lm = det.landmarks(img, det.detect(img)[0].box)
    size = 128
    a = alignment_transform(lm, size)
    return warp_image(img, a, size), apply_transform(a, lm)


def test_face_region_contains_landmarks_and_forehead(astronaut_crop):
    crop, lm = astronaut_crop
    region = face_region(lm, 128)
    inner = np.round(lm[17:68] - 0.5).astype(int)
    assert region[inner[:, 1], inner[:, 0]].mean() > 0.95
    # the region reaches above the brows (forehead) but not to the bottom rows below the chin
    brow_top = lm[17:27, 1].min()
    assert region[: int(brow_top) - 3].any()
    assert not region[int(lm[8, 1]) + 3:].any()


def test_mask_keeps_skin_and_drops_background_and_hair(astronaut_crop):
    crop, lm = astronaut_crop
    mask = face_mask(crop, lm)
    cheeks = sample_region(lm, 128)
    assert mask[cheeks].mean() > 0.95
    assert 0.2 < mask.mean() < 0.6
    # the dark hair above the forehead at the crop's top corners is not face
    assert mask[:10, :20].mean() == 0 and mask[:10, -20:].mean() == 0


@pytest.mark.parametrize("colour", [(30, 60, 200), (40, 160, 40), (20, 20, 20)])
def test_mask_excludes_non_skin_occluder(astronaut_crop, colour):
    crop, lm = astronaut_crop
    occluded = crop.copy()
    # a patch over the subject's left cheek (image right), like a hand-held object or a sticker
    x0, y0 = int(lm[30, 0]) + 6, int(lm[30, 1]) - 6
    occluded[y0:y0 + 18, x0:x0 + 18] = colour
    patch = np.zeros(crop.shape[:2], bool)
    patch[y0:y0 + 18, x0:x0 + 18] = True
    mask = face_mask(occluded, lm)
    assert mask[patch].mean() < 0.05
    # the other cheek stays in the mask
    other = sample_region(lm, 128) & (np.arange(128)[None, :] < lm[30, 0] - 4)
    assert mask[other].mean() > 0.9


def test_precomputed_mask_is_warped_with_the_crop():
    m = np.zeros((100, 200), bool)
    m[20:60, 50:90] = True
    a = np.array([[0.5, 0.0, 3.0], [0.0, 0.5, 7.0]])
    out = warp_mask(m, a, 64)
    ys, xs = np.nonzero(out)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (28, 47, 17, 36)
