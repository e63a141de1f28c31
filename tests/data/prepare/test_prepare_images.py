import numpy as np
import pytest
from PIL import Image

from photoface.data.prepare.images import load_photo
from photoface.errors import InputFileError


def _rgb(h=60, w=80):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 3 % 256, y * 4 % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_zero_byte_text_and_truncated_files_raise_with_reason(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    Image.fromarray(_rgb(200, 200)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    for name, reason in [("zero.jpg", "empty file"), ("text.jpg", "not an image"),
                         ("trunc.jpg", "truncated"), ("missing.jpg", "cannot read")]:
        with pytest.raises(InputFileError, match=reason) as info:
            load_photo(tmp_path / name)
        assert info.value.path.endswith(name)


def test_cmyk_gray_rgba_become_rgb8(tmp_path):
    rgb = _rgb()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray(rgb).convert("L").save(tmp_path / "gray.png")
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])
    rgba[:, :40, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    cmyk = load_photo(tmp_path / "cmyk.jpg").rgb
    assert cmyk.shape == (60, 80, 3) and cmyk.dtype == np.uint8
    assert np.abs(cmyk.astype(int) - rgb).mean() < 6  # colours survive the CMYK round trip
    gray = load_photo(tmp_path / "gray.png").rgb
    assert gray.shape == (60, 80, 3) and (gray[..., 0] == gray[..., 2]).all()
    out = load_photo(tmp_path / "rgba.png").rgb
    assert (out[:, :40] == rgb[:, :40]).all()  # opaque part kept
    assert (out[:, 40:] == 128).all()  # transparent part composited on mid-grey, not black


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 80).astype(np.uint16), (60, 1))
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    out = load_photo(tmp_path / "g16.png").rgb
    assert out.dtype == np.uint8 and out.shape == (60, 80, 3)
    np.testing.assert_allclose(out[0, :, 0], np.linspace(0, 255, 80), atol=1.0)


def test_exif_rotation_is_applied(tmp_path):
    rgb = _rgb()
    stored = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # as a sideways camera stores it
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored.save(tmp_path / "rot.png", exif=exif)
    photo = load_photo(tmp_path / "rot.png")
    assert photo.original_size == (80, 60)
    np.testing.assert_array_equal(photo.rgb, rgb)


def test_huge_jpeg_decoded_small_with_scale(tmp_path):
    big = np.zeros((3000, 4500, 3), np.uint8)
    big[1000:2000, 2000:3000] = 200
    Image.fromarray(big).save(tmp_path / "huge.jpg", quality=80)
    photo = load_photo(tmp_path / "huge.jpg", max_side=1024)
    assert photo.original_size == (4500, 3000)
    assert max(photo.rgb.shape[:2]) <= 1536
    assert photo.scale == pytest.approx(photo.rgb.shape[1] / 4500)
    # the bright square maps back to where it was in the original
    ys, xs = np.nonzero(photo.rgb[..., 0] > 100)
    assert xs.min() / photo.scale == pytest.approx(2000, abs=8)
    assert ys.max() / photo.scale == pytest.approx(2000, abs=8)


def test_image_files_follows_symlinked_person_folders_once_and_skips_hidden_ones(tmp_path):
    from photoface.data.prepare.images import image_files

    store = tmp_path / "store"
    (store / "ann").mkdir(parents=True)
    (store / "ann" / "a.jpg").write_bytes(b"x")
    (store / "ann" / ".hidden.jpg").write_bytes(b"x")
    (store / "ann" / "notes.txt").write_text("x")
    people = tmp_path / "people"
    (people / "bob" / ".cache").mkdir(parents=True)
    (people / "bob" / "b.PNG").write_bytes(b"x")
    (people / "bob" / ".cache" / "c.jpg").write_bytes(b"x")
    (people / "ann").symlink_to(store / "ann", target_is_directory=True)
    (people / "bob" / "loop").symlink_to(people / "bob", target_is_directory=True)  # a cycle
    found = [p.relative_to(people).as_posix() for p in image_files(people)]
    assert found == ["ann/a.jpg", "bob/b.PNG"]


def test_image_files_reads_two_links_to_one_folder_as_two_folders(tmp_path):
    from photoface.data.prepare.images import image_files

    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "a.jpg").write_bytes(b"x")
    people = tmp_path / "people"
    people.mkdir()
    for name in ("ann", "ann_again"):
        (people / name).symlink_to(tmp_path / "store", target_is_directory=True)
    assert [p.relative_to(people).as_posix() for p in image_files(people)] == ["ann/a.jpg", "ann_again/a.jpg"]
