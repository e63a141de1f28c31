"""CelebA adapter on fixture files in CelebA's exact layout and annotation formats."""

import numpy as np
import pytest
from PIL import Image

from photoface.data.adapters import detect_kind
from photoface.data.adapters.celeba import celeba_tasks, prepare_celeba
from photoface.data.prepare.pipeline import REPORT_FILE, PrepareOptions
from photoface.errors import InputFileError


def _celeba(root, annotations_in=""):
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((120, 20, 320, 265)).resize((178, 218))
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    face.save(images / "000001.jpg", quality=90)
    face.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(images / "000002.jpg", quality=90)
    Image.new("RGB", (178, 218), (120, 120, 120)).save(images / "000003.jpg")
    ann = root / annotations_in
    ann.mkdir(exist_ok=True)
    (ann / "identity_CelebA.txt").write_text("000001.jpg 2880\n000002.jpg 2880\n000003.jpg 17\n000004.jpg 17\n")
    (ann / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n000004.jpg 0\n")


def test_tasks_read_identities_and_partitions(tmp_path):
    _celeba(tmp_path, "Anno")
    tasks = celeba_tasks(tmp_path)
    assert [(t.key, t.identity, t.split) for t in tasks] == [
        ("000001.jpg", "2880", "train"), ("000002.jpg", "2880", "test"),
        ("000003.jpg", "17", "test"), ("000004.jpg", "17", "train")]
    assert detect_kind(tmp_path) == "celeba"


def test_bad_annotation_lines_name_file_and_line(tmp_path):
    _celeba(tmp_path)
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg 1\n000002.jpg\n")
    with pytest.raises(InputFileError, match=r"identity_CelebA.txt: line 2"):
        celeba_tasks(tmp_path)
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg 1\n")
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 5\n")
    with pytest.raises(InputFileError, match="partition must be 0, 1 or 2"):
        celeba_tasks(tmp_path)


@pytest.mark.slow
def test_prepare_celeba_detects_and_reports(tmp_path):
    _celeba(tmp_path / "celeba")
    ds = prepare_celeba(tmp_path / "celeba", tmp_path / "out", PrepareOptions(image_size=64), progress=False)
    assert sorted((r.identity, r.split) for r in ds) == [("2880", "test"), ("2880", "train")]
    a, b = sorted(ds, key=lambda r: r.source)
    # the mirrored photo's landmarks are the mirror image of the original's after alignment
    assert abs(a.landmarks[30, 0] - b.landmarks[30, 0]) < 2.0
    assert np.all((a.landmarks > 0) & (a.landmarks < 64))
    report = (tmp_path / "out" / REPORT_FILE).read_text()
    assert "000003.jpg\tskipped: no face found" in report
    assert "000004.jpg\tskipped: cannot read" in report
