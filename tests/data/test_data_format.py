import json

import numpy as np
import pytest
import torch

from photoface.data.format import (
    FORMAT_VERSION,
    INDEX_FILE,
    JOURNAL_FILE,
    META_FILE,
    DatasetMeta,
    DatasetRow,
    DatasetWriter,
    load_dataset,
)
from photoface.errors import InputFileError, PhotofaceError

S = 16


def _row(i, labeled=False, split="train", **kw):
    rng = np.random.default_rng(i)
    row = DatasetRow(
        image=f"images/{i:04d}.png",
        identity=f"id{i % 3}",
        split=split,
        landmarks=rng.uniform(0, S, (68, 2)),
        labeled=labeled,
        mask=f"masks/{i:04d}.png",
        visible=np.arange(68) % 2 == 0,
        **kw,
    )
    if labeled:
        row.alpha_id = rng.normal(size=10)
        row.alpha_exp = rng.normal(size=4)
        row.pose = np.array([1.0, -20.0, 3.0, S / 200, 0.5, -0.5])
    return row


def _image(i):
    g = torch.Generator().manual_seed(i)
    return torch.rand(3, S, S, generator=g)


def _mask():
    m = np.zeros((S, S), bool)
    m[4:12, 3:13] = True
    return m


def _write(tmp_path, n=5, **rowkw):
    meta = DatasetMeta(image_size=S, source="test", seed=3)
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for i in range(n):
            w.add(_row(i, labeled=i % 2 == 1, **rowkw), image=_image(i), mask=_mask())
    return tmp_path / "ds"


def test_round_trip_keeps_every_field(tmp_path):
    meta = DatasetMeta(image_size=S, source="synthetic", face_model="m.npz", face_model_hash="ab", seed=1)
    row = _row(7, labeled=True, split="test")
    row.true_mesh = "meshes/0007.npy"
    row.setting = "hard"
    row.alpha_id_true = np.arange(5.0)
    row.light = np.linspace(0, 1, 27)
    row.source = "/photos/a.jpg"
    row.crop_transform = np.array([[0.5, 0.1, -3.0], [-0.1, 0.5, 2.0]])
    row.detector = "mediapipe"
    row.points = np.random.default_rng(1).uniform(0, S, (478, 2))
    row.detector_pose = np.array([3.0, -20.0, 1.0, 0.08, 8.0, 7.5])
    row.blendshapes = {"_neutral": 0.01, "jawOpen": 0.5}
    row.extra = {"future_key": [1, 2]}
    mesh = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    with DatasetWriter(tmp_path, meta) as w:
        w.add(row, image=_image(7), mask=_mask(), true_mesh=mesh)
    ds = load_dataset(tmp_path)
    assert ds.meta.format_version == FORMAT_VERSION
    assert ds.meta.counts == {"photos": 1, "identities": 1, "labeled": 1, "train": 0, "test": 1}
    got = ds[0]
    for key in ("image", "identity", "split", "labeled", "mask", "true_mesh", "setting", "source", "extra",
                "detector", "blendshapes"):
        assert getattr(got, key) == getattr(row, key), key
    for key in ("landmarks", "visible", "alpha_id", "alpha_exp", "pose", "alpha_id_true", "light", "crop_transform",
                "points", "detector_pose"):
        np.testing.assert_allclose(getattr(got, key), getattr(row, key), err_msg=key)
    img = ds.load_image(0)
    assert img.shape == (3, S, S) and img.dtype == torch.float32
    assert torch.allclose(img, _image(7), atol=1 / 255 + 1e-6)  # PNG is lossless up to 8-bit rounding
    assert torch.equal(ds.load_mask(0)[0].bool(), torch.from_numpy(_mask()))
    assert torch.equal(ds.load_true_mesh(0), torch.from_numpy(mesh))


def test_filter_by_split_labeled_identity(tmp_path):
    ds = load_dataset(_write(tmp_path, n=6))
    assert len(ds.filter(labeled=True)) == 3
    assert {r.identity for r in ds.filter(identity="id1")} == {"id1"}
    assert len(ds.filter(identity=["id0", "id2"], labeled=False)) == sum(
        1 for r in ds if r.identity in ("id0", "id2") and not r.labeled
    )
    assert ds.identities() == ["id0", "id1", "id2"]


def test_crash_before_close_leaves_no_index_and_resume_skips_done(tmp_path):
    meta = DatasetMeta(image_size=S, source="test")
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with DatasetWriter(out, meta) as w:
            for i in range(3):
                w.add(_row(i), image=_image(i), mask=_mask())
            w.mark_done("bad.jpg", skipped="no face")
            raise RuntimeError("crash")
    assert not (out / INDEX_FILE).exists()
    with pytest.raises(InputFileError, match="index.jsonl"):
        load_dataset(out)
    # a torn journal tail (crash mid-append) is ignored
    with open(out / JOURNAL_FILE, "a") as fh:
        fh.write('{"kind":"row","key":"images/0003.png","row":{"ima')
    w = DatasetWriter(out, DatasetMeta(image_size=S, source="test"))
    assert [w.is_done(f"images/{i:04d}.png") for i in range(4)] == [True, True, True, False]
    assert w.skipped() == {"bad.jpg": "no face"}
    for i in range(3, 5):
        w.add(_row(i), image=_image(i), mask=_mask())
    ds = w.close()
    assert len(load_dataset(out)) == len(ds) == 5


def test_crash_after_close_keeps_previous_index(tmp_path):
    out = _write(tmp_path, n=2)
    before = (out / INDEX_FILE).read_text()
    with pytest.raises(RuntimeError):
        with DatasetWriter(out, DatasetMeta(image_size=S, source="test")) as w:
            w.add(_row(9), image=_image(9), mask=_mask())
            raise RuntimeError("crash")
    assert (out / INDEX_FILE).read_text() == before
    assert len(load_dataset(out)) == 2
    assert not list(out.rglob("*.tmp*"))


def test_reopen_with_other_image_size_is_refused(tmp_path):
    out = _write(tmp_path, n=1)
    with pytest.raises(InputFileError, match="image_size"):
        DatasetWriter(out, DatasetMeta(image_size=S * 2, source="test"))


def test_meta_count_disagreeing_with_index_is_detected(tmp_path):
    out = _write(tmp_path, n=3)
    lines = (out / INDEX_FILE).read_text().splitlines()
    (out / INDEX_FILE).write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(InputFileError, match="meta.json counts 3"):
        load_dataset(out)


def _corrupt_line(out, n, edit):
    path = out / INDEX_FILE
    lines = path.read_text().splitlines()
    obj = json.loads(lines[n - 1])
    edit(obj)
    lines[n - 1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda o: o.pop("identity"), "line 2: missing key 'identity'"),
        (lambda o: o.update(landmarks=o["landmarks"][:5]), r"line 2: 'landmarks' must have shape 68×2"),
        (lambda o: o.update(split="val"), "line 2: split must be one of"),
        (lambda o: o.update(labeled=True, pose=None), "line 2: labeled row lacks"),
        (lambda o: o.update(image="images/missing.png"), "line 2: image file images/missing.png does not exist"),
        (lambda o: o.update(image="../escape.png"), "line 2: 'image' must be a relative path"),
        (lambda o: o.update(crop_transform=[[1, 0], [0, 1]]), r"'crop_transform' must have shape 2×3"),
        (lambda o: o.update(light=[0.0] * 9), r"'light' must have shape 27"),
    ],
)
def test_validation_errors_name_file_and_line(tmp_path, edit, message):
    out = _write(tmp_path, n=3)
    _corrupt_line(out, 2, edit)
    with pytest.raises(InputFileError, match=message) as info:
        load_dataset(out)
    assert info.value.path.endswith(INDEX_FILE)


def test_invalid_json_line_is_named(tmp_path):
    out = _write(tmp_path, n=3)
    lines = (out / INDEX_FILE).read_text().splitlines()
    lines[2] = lines[2][:-3]
    (out / INDEX_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match="line 3: not valid JSON"):
        load_dataset(out)


def test_unknown_major_version_rejected_minor_accepted(tmp_path):
    out = _write(tmp_path, n=1)
    meta = json.loads((out / META_FILE).read_text())
    meta["format_version"] = "1.7"
    meta["new_field"] = 1
    (out / META_FILE).write_text(json.dumps(meta))
    assert load_dataset(out).meta.extra == {"new_field": 1}
    meta["format_version"] = "2.0"
    (out / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match="format_version 2.0 is not supported") as info:
        load_dataset(out)
    assert info.value.path.endswith(META_FILE)


def test_writer_rejects_wrong_image_size_and_bad_row(tmp_path):
    with DatasetWriter(tmp_path, DatasetMeta(image_size=S, source="t")) as w:
        with pytest.raises(PhotofaceError, match="the dataset is 16×16"):
            w.add(_row(0), image=torch.rand(3, 8, 8), mask=_mask())
        bad = _row(1)
        bad.landmarks = bad.landmarks[:10]
        with pytest.raises(PhotofaceError, match="landmarks"):
            w.add(bad, image=_image(1))
        assert not (tmp_path / "images/0001.png").exists()


def test_a_format_1_0_dataset_still_loads(tmp_path):
    """Datasets written before the detector's fields (format 1.0) load, with those fields None."""
    out = _write(tmp_path, n=2)
    meta = json.loads((out / META_FILE).read_text())
    meta["format_version"] = "1.0"
    (out / META_FILE).write_text(json.dumps(meta))
    rows = [json.loads(line) for line in (out / INDEX_FILE).read_text().splitlines()]
    assert not any(k in r for r in rows for k in ("detector", "points", "detector_pose", "blendshapes"))
    ds = load_dataset(out)
    assert ds.meta.format_version == "1.0" and len(ds) == 2
    assert all(r.detector is None and r.points is None and r.blendshapes is None for r in ds)


@pytest.mark.parametrize("key,value,problem", [
    ("points", [[1.0, 2.0]] * 68, "'points' must have shape 478×2"),
    ("detector_pose", [0.0] * 5, "'detector_pose' must have shape 6"),
    ("blendshapes", [0.5], "'blendshapes' must be an object"),
    ("blendshapes", {"jawOpen": "wide"}, "blendshape 'jawOpen' must be a finite number"),
])
def test_bad_detector_fields_are_named(tmp_path, key, value, problem):
    out = _write(tmp_path, n=1)
    row = json.loads((out / INDEX_FILE).read_text())
    row[key] = value
    (out / INDEX_FILE).write_text(json.dumps(row) + "\n")
    with pytest.raises(InputFileError, match=problem):
        load_dataset(out)
