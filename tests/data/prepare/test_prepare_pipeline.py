
import numpy as np
import pytest
from PIL import Image

from photoface.data.format import DatasetMeta, load_dataset
from photoface.data.prepare import pipeline as prep
from photoface.data.prepare.align import apply_transform, invert_transform
from photoface.data.prepare.photo_list import PhotoTask, collect_tasks
from photoface.data.prepare.pipeline import REPORT_FILE, PrepareOptions, prepare_photos, run_prepare
from photoface.errors import InputFileError


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_landmarks(astronaut):
    from photoface.data.prepare.detect import FaceDetector

    det = FaceDetector("hog")
    return det.landmarks(astronaut, det.detect(astronaut)[0].box)


def _report(out):
    lines = (out / REPORT_FILE).read_text().splitlines()[1:]
    return dict(line.split("\t", 1) for line in lines)


def test_astronaut_gives_one_face_with_landmarks_inside_crop(tmp_path, astronaut, astronaut_landmarks):
    (tmp_path / "photos" / "eileen").mkdir(parents=True)
    Image.fromarray(astronaut).save(tmp_path / "photos" / "eileen" / "astronaut.png")
    ds = prepare_photos(tmp_path / "photos", tmp_path / "out", PrepareOptions(image_size=128, detector="hog"),
                        progress=False)
    assert len(ds) == 1 and len(load_dataset(tmp_path / "out")) == 1
    row = ds[0]
    assert row.identity == "eileen" and row.split == "train" and not row.labeled
    assert row.landmarks.shape == (68, 2)
    assert (row.landmarks > 0).all() and (row.landmarks < 128).all()
    # crop_transform maps the detector's landmarks in the photo onto the stored ones
    np.testing.assert_allclose(apply_transform(row.crop_transform, astronaut_landmarks), row.landmarks, atol=1e-6)
    back = apply_transform(invert_transform(row.crop_transform), row.landmarks)
    np.testing.assert_allclose(back, astronaut_landmarks, atol=1e-6)
    mask = ds.load_mask(row)
    assert 0.2 < mask.mean() < 0.6
    img = ds.load_image(row)
    assert img.shape == (3, 128, 128)
    assert row.source.endswith("astronaut.png")


def _bad_inputs(folder, astronaut):
    folder.mkdir(parents=True)
    im = Image.fromarray(astronaut)
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a photo")
    im.save(folder / "good.jpg", quality=90)
    data = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    im.convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    gray16 = (np.asarray(im.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.png")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0
    Image.fromarray(rgba).save(folder / "rgba.png")
    im.convert("L").save(folder / "gray.jpg")
    stored = im.transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "exif_rotated.jpg", exif=exif, quality=90)
    huge = Image.new("RGB", (6000, 4500), (90, 90, 100))
    huge.paste(im.resize((2048, 2048)), (2000, 1200))
    huge.save(folder / "huge.jpg", quality=85)
    Image.new("RGB", (160, 120), (200, 180, 170)).save(folder / "no_face.png")
    im.resize((256, 256)).save(folder / "tiny_face.png")  # the face is ~45 px here


@pytest.mark.slow
def test_bad_inputs_are_handled_or_reported(tmp_path, astronaut, astronaut_landmarks):
    photos = tmp_path / "photos"
    _bad_inputs(photos, astronaut)
    options = PrepareOptions(image_size=128, detector="auto", min_face=60)
    ds = prepare_photos(photos, tmp_path / "out", options, progress=False)
    got = {r.source.rsplit("/", 1)[1]: r for r in ds}
    for name in ("good.jpg", "cmyk.jpg", "gray16.png", "rgba.png", "gray.jpg", "exif_rotated.jpg", "huge.jpg"):
        assert name in got, name
        assert got[name].landmarks.shape == (68, 2)
    good = got["good.jpg"]
    for name in ("cmyk.jpg", "rgba.png", "gray.jpg", "gray16.png"):
        # same photo in another encoding: same alignment within a couple of pixels
        np.testing.assert_allclose(got[name].landmarks, good.landmarks, atol=2.5, err_msg=name)
    # EXIF: the face is found upright and mapped in displayed coordinates
    np.testing.assert_allclose(got["exif_rotated.jpg"].landmarks, good.landmarks, atol=2.5)
    # huge photo: the crop transform maps from the full-size original
    huge_lm = apply_transform(invert_transform(got["huge.jpg"].crop_transform), got["huge.jpg"].landmarks)
    np.testing.assert_allclose(huge_lm, astronaut_landmarks * 4 + [2000, 1200], atol=12)
    report = _report(tmp_path / "out")
    assert "empty file" in report["zero.jpg"]
    assert "not an image" in report["text.jpg"]
    assert "truncated" in report["truncated.jpg"]
    assert "no face" in report["no_face.png"]
    assert "too small" in report["tiny_face.png"]
    assert len(ds) == 7 and len(report) == 5


def _landmark_tasks(folder, astronaut, lm, n):
    """Tasks that bring their own landmarks (no detector involved: fast)."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = []
    for i in range(n):
        path = folder / f"p{i}.png"
        Image.fromarray(np.roll(astronaut, 3 * i, axis=1)).save(path)
        tasks.append(PhotoTask(key=f"p{i}.png", path=path, identity=f"id{i % 2}", landmarks=lm + [3 * i, 0]))
    return tasks


def test_resume_after_interruption_redoes_nothing(tmp_path, astronaut, astronaut_landmarks, monkeypatch):
    tasks = _landmark_tasks(tmp_path / "photos", astronaut, astronaut_landmarks, 4)
    meta = lambda: DatasetMeta(image_size=64, source="photos")  # noqa: E731
    calls = []
    real = prep.process_photo

    def flaky(task, options):
        calls.append(task.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task, options)

    monkeypatch.setattr(prep, "process_photo", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_prepare(tasks, tmp_path / "out", PrepareOptions(image_size=64), meta(), progress=False)
    assert not (tmp_path / "out" / "index.jsonl").exists()
    calls.clear()
    ds = run_prepare(tasks, tmp_path / "out", PrepareOptions(image_size=64), meta(), progress=False)
    assert calls == ["p2.png", "p3.png"]
    assert len(ds) == 4
    calls.clear()
    run_prepare(tasks, tmp_path / "out", PrepareOptions(image_size=64), meta(), progress=False)
    assert calls == []
    assert len(load_dataset(tmp_path / "out")) == 4


@pytest.mark.slow
def test_parallel_workers_match_serial(tmp_path, astronaut, astronaut_landmarks):
    tasks = _landmark_tasks(tmp_path / "photos", astronaut, astronaut_landmarks, 3)
    meta = DatasetMeta(image_size=64, source="photos")
    serial = run_prepare(tasks, tmp_path / "a", PrepareOptions(image_size=64), meta, progress=False)
    meta = DatasetMeta(image_size=64, source="photos")
    par = run_prepare(tasks, tmp_path / "b", PrepareOptions(image_size=64, workers=2), meta, progress=False)
    assert [r.image for r in serial] == [r.image for r in par]
    for a, b in zip(serial, par):
        np.testing.assert_allclose(a.landmarks, b.landmarks)


def test_precomputed_masks_are_used_and_missing_ones_reported(tmp_path, astronaut, astronaut_landmarks):
    tasks = _landmark_tasks(tmp_path / "photos", astronaut, astronaut_landmarks, 2)
    masks = tmp_path / "masks"
    masks.mkdir()
    left_half = np.zeros(astronaut.shape[:2], np.uint8)
    left_half[:, :220] = 255
    Image.fromarray(left_half).save(masks / "p0.png")
    out = tmp_path / "out"
    ds = run_prepare(tasks, out, PrepareOptions(image_size=64, masks_dir=masks),
                     DatasetMeta(image_size=64, source="photos"), progress=False)
    row = ds.filter(identity="id0")[0]
    m = ds.load_mask(row)[0].numpy().astype(bool)
    # where each crop pixel centre comes from in the photo: the user's mask, moved into the crop
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    src = apply_transform(invert_transform(row.crop_transform), np.stack([xx.ravel(), yy.ravel()], 1))
    inside = (src[:, 0] > 1) & (src[:, 1] > 1) & (src[:, 1] < astronaut.shape[0] - 1)
    expect = (src[:, 0] < 220) & inside
    sure = np.abs(src[:, 0] - 220) > 6  # away from the edge, where interpolation decides
    assert (m.ravel()[sure] == expect[sure]).all()
    assert expect.sum() > 500
    assert "no precomputed mask" in _report(out)["p1.png"]


def test_list_file_and_its_errors(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# photo identity\na.jpg\talice\n/abs/b.png, bob, test\n")
    tasks = collect_tasks(tmp_path / "list.txt")
    assert [(t.identity, t.split) for t in tasks] == [("alice", "train"), ("bob", "test")]
    assert tasks[0].path == tmp_path / "a.jpg"
    (tmp_path / "bad.txt").write_text("a.jpg alice\nb.jpg\n")
    with pytest.raises(InputFileError, match="line 2"):
        collect_tasks(tmp_path / "bad.txt")
    with pytest.raises(InputFileError, match="no such"):
        collect_tasks(tmp_path / "nope")


def test_folder_of_person_folders(tmp_path):
    for rel in ("ann/1.jpg", "ann/trip/2.PNG", "bob/1.jpg", "loose.jpg", "ann/notes.txt", ".hidden/x.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    tasks = collect_tasks(tmp_path)
    assert [(t.key, t.identity) for t in tasks] == [
        ("ann/1.jpg", "ann"), ("ann/trip/2.PNG", "ann"), ("bob/1.jpg", "bob"), ("loose.jpg", "loose")]


def test_cli_prepare_parses_and_runs(tmp_path, astronaut, monkeypatch):
    from photoface import cli

    seen = {}

    def fake(photos, out, **kw):
        seen.update(kw, photos=photos, out=out)
        return load_dataset(_tiny_dataset(tmp_path / "ds"))

    monkeypatch.setattr("photoface.data.adapters.prepare_any", fake)
    rc = cli.main(["prepare", "PH", "--out", "O", "--size", "224", "--all-faces", "--detector", "hog",
                   "--workers", "3", "--masks", "M", "--quiet"])
    assert rc == 0
    assert seen["image_size"] == 224 and seen["all_faces"] and seen["detector"] == "hog"
    assert seen["workers"] == 3 and seen["masks_dir"] == "M" and not seen["progress"]


def _tiny_dataset(out):
    from photoface.data.format import DatasetRow, DatasetWriter

    with DatasetWriter(out, DatasetMeta(image_size=8, source="t")) as w:
        w.add(DatasetRow("images/a.png", "x", "train", np.zeros((68, 2))), image=np.zeros((8, 8, 3), np.uint8))
    return out


@pytest.mark.slow
def test_all_faces_keeps_every_face_largest_only_by_default(tmp_path, astronaut):
    two = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # her and her mirror image
    big_small = Image.new("RGB", (1024, 512), (90, 90, 100))
    big_small.paste(Image.fromarray(astronaut), (0, 0))
    big_small.paste(Image.fromarray(astronaut).resize((400, 400)), (600, 60))
    (tmp_path / "photos" / "group").mkdir(parents=True)
    big_small.save(tmp_path / "photos" / "group" / "two.png")
    Image.fromarray(two).save(tmp_path / "photos" / "group" / "mirrored.png")
    one = prepare_photos(tmp_path / "photos", tmp_path / "one", PrepareOptions(image_size=64, detector="auto"),
                         progress=False)
    every = prepare_photos(tmp_path / "photos", tmp_path / "all",
                           PrepareOptions(image_size=64, detector="auto", all_faces=True), progress=False)
    assert len(one) == 2 and len(every) == 4
    # the default keeps the larger face of "two.png": the one at full size, left
    row = [r for r in one if r.source.endswith("two.png")][0]
    nose = apply_transform(invert_transform(row.crop_transform), row.landmarks[30:31])[0]
    assert nose[0] < 512
    assert len({r.image for r in every}) == 4  # the suit badges HOG also fires on were not confirmed


def test_a_photo_already_loaded_is_not_decoded_again(tmp_path, astronaut, astronaut_landmarks, monkeypatch):
    from photoface.data.prepare.images import load_photo

    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    photo = load_photo(path, max_side=prep.LOAD_SIDE)
    task = PhotoTask(key="a.png", path=path, identity="a", landmarks=astronaut_landmarks)
    expected = prep.process_photo(task, PrepareOptions(image_size=64))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(prep, "load_photo", no_decoding)
    result = prep.process_photo(task, PrepareOptions(image_size=64), photo)
    assert len(result.faces) == 1 and not result.skipped
    np.testing.assert_array_equal(result.faces[0].image, expected.faces[0].image)
