"""Annotated-photo folders of ``evaluate landmarks``: AFLW2000-3D .mat and iBUG .pts on disk."""

import numpy as np
import pytest
from PIL import Image

from photoface.errors import InputFileError
from photoface.evaluate.landmark_photos import list_annotated, read_pts, write_pts
from support.landmark_files import write_mat


def _pts_text(points, n_points=None, braces=True):
    n = len(points) if n_points is None else n_points
    body = "".join(f"{x} {y}\n" for x, y in points)
    return f"version: 1\nn_points:  {n}\n" + ("{\n" + body + "}\n" if braces else body)


def _image(path):
    Image.new("RGB", (40, 30)).save(path)


def test_pts_coordinates_are_one_based_pixel_centres():
    """A .pts point at (1, 1) is the centre of the top-left pixel: photoface's (0.5, 0.5)."""
    points = np.tile([[1.0, 1.0]], (68, 1))
    points[1] = [40.0, 30.0]  # the centre of the bottom-right pixel of a 40×30 image
    text = _pts_text(points)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.pts"
        path.write_text(text)
        got = read_pts(path)
        np.testing.assert_allclose(got[0], [0.5, 0.5])
        np.testing.assert_allclose(got[1], [39.5, 29.5])
        np.testing.assert_allclose(read_pts(path, pixel_offset=0.0)[1], [40.0, 30.0])
        write_pts(Path(tmp) / "b.pts", got)
        np.testing.assert_allclose(read_pts(Path(tmp) / "b.pts"), got)
        assert (Path(tmp) / "b.pts").read_text().splitlines()[3] == "1.000 1.000"


@pytest.mark.parametrize("text, problem", [
    (_pts_text(np.ones((67, 2))), "has 67 points; the iBUG layout has 68"),
    (_pts_text(np.ones((68, 2)), n_points=70), "n_points says 70 but 68 point lines follow"),
    (_pts_text(np.ones((68, 2)), braces=False), "between '{' and '}'"),
    ("version: 2\nn_points: 68\n{\n}\n", "expected 'version: 1'"),
    (_pts_text(np.ones((68, 2))).replace("1.0 1.0", "1.0 x", 1), "not two numbers"),
])
def test_bad_pts_files_are_refused_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "face.pts"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem) as info:
        read_pts(path)
    assert str(path) in str(info.value)


def test_300w_folder_pairs_images_and_pts_below_it(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "helen" / "testset").mkdir(parents=True)
    lm = rng.uniform(5, 25, (68, 2))
    for name in ("helen/testset/1.jpg", "ibug_1.png"):
        _image(tmp_path / name)
        write_pts((tmp_path / name).with_suffix(".pts"), lm)
    _image(tmp_path / "unannotated.jpg")
    write_pts(tmp_path / "lonely.pts", lm)
    folder = list_annotated(tmp_path)
    assert folder.layout == "300w"
    assert [p.name for p in folder.photos] == ["helen/testset/1.jpg", "ibug_1.png"]
    assert all(p.yaw_deg is None for p in folder.photos)
    np.testing.assert_allclose(folder.photos[0].landmarks, lm, atol=1e-3)
    assert folder.unpaired == {"unannotated.jpg": "no .pts annotation", "lonely.pts": "no image of the same name"}


def test_300w_folder_follows_a_symlinked_subset(tmp_path):
    (tmp_path / "store" / "lfpw").mkdir(parents=True)
    _image(tmp_path / "store" / "lfpw" / "a.jpg")
    write_pts(tmp_path / "store" / "lfpw" / "a.pts", np.full((68, 2), 10.0))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lfpw").symlink_to(tmp_path / "store" / "lfpw", target_is_directory=True)
    assert [p.name for p in list_annotated(tmp_path / "data").photos] == ["lfpw/a.jpg"]


def test_aflw2000_folder_reads_truth_and_yaw_and_lists_a_missing_mat(tmp_path):
    lm = np.random.default_rng(1).uniform(100, 300, (68, 2))
    for name, yaw in (("image00002", -40.0), ("image00004", 70.0)):
        _image(tmp_path / f"{name}.jpg")
        write_mat(tmp_path / f"{name}.mat", lm, yaw)
    _image(tmp_path / "image00008.jpg")  # its .mat is missing
    folder = list_annotated(tmp_path)
    assert folder.layout == "aflw2000"
    assert [(p.name, round(p.yaw_deg, 6)) for p in folder.photos] == [("image00002.jpg", -40.0),
                                                                      ("image00004.jpg", 70.0)]
    np.testing.assert_allclose(folder.photos[0].landmarks, lm)
    assert folder.unpaired == {"image00008.jpg": "no .mat annotation"}


def test_unreadable_mat_and_empty_folders_are_errors_naming_the_file(tmp_path):
    _image(tmp_path / "image00001.jpg")
    (tmp_path / "image00001.mat").write_bytes(b"not a matlab file at all")
    with pytest.raises(InputFileError, match="image00001.mat"):
        list_annotated(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="contains no images") as info:
        list_annotated(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    (tmp_path / "noannot").mkdir()
    _image(tmp_path / "noannot" / "a.jpg")
    with pytest.raises(InputFileError, match="no image has an annotation"):
        list_annotated(tmp_path / "noannot")
    with pytest.raises(InputFileError, match="no such folder"):
        list_annotated(tmp_path / "missing")
