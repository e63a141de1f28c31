"""MICC Florence adapter (layout, scans, videos) and the two evaluation modes, on generated fixtures."""

import io

import numpy as np
import pytest
from PIL import Image

from photoface.errors import InputFileError
from photoface.evaluate import micc
from photoface.evaluate.video import iter_frames, split_mjpeg

TRI = "v 0 0 0\nv 10 0 0\nv 0 10 0\nv 0 0 10\nf 1 2 3\nf 1 3 4\n"
WRL = ("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coord Coordinate { point [ 0 0 0, 5 0 0, "
       "0 5 0 ] } coordIndex [ 0 1 2 -1 ] } }\n")


def _jpeg(value: int, size=(16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (value, 255 - value, 128)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _mjpeg(values, junk=b"") -> bytes:
    return b"".join(junk + _jpeg(v) for v in values)


def _make_micc(root):
    s1 = root / "subject_01"
    (s1 / "Model" / "frontal1" / "obj").mkdir(parents=True)
    (s1 / "Model" / "frontal1" / "obj" / "110920150452.obj").write_text(TRI)
    (s1 / "Model" / "frontal1" / "vrml").mkdir()
    (s1 / "Model" / "frontal1" / "vrml" / "110920150452.wrl").write_text(WRL)
    (s1 / "Video").mkdir()
    (s1 / "Video" / "Indoor-Cooperative.mjpg").write_bytes(_mjpeg([10, 100, 200]))
    (s1 / "Video" / "PTZ-Indoor.mjpeg").write_bytes(_mjpeg([50, 60], junk=b"--boundary\r\n\r\n"))
    s2 = root / "subject_2"  # unpadded numbers sort numerically
    (s2 / "Model" / "frontal2" / "vrml").mkdir(parents=True)
    (s2 / "Model" / "frontal2" / "vrml" / "scan.wrl").write_text(WRL)
    frames = s2 / "Video" / "PTZ-Outdoor"
    frames.mkdir(parents=True)
    for i in (1, 2, 10):
        Image.new("RGB", (8, 8), (i, i, i)).save(frames / f"frame_{i}.png")
    (s2 / "Video" / "PTZ-Outdoor.mpg").write_bytes(b"\x00\x00\x01\xba not really mpeg")
    (root / "subject_10").mkdir()


def test_layout_scans_and_videos(tmp_path):
    _make_micc(tmp_path)
    subjects = micc.find_subjects(tmp_path)
    assert [s.name for s in subjects] == ["subject_01", "subject_2", "subject_10"]
    s1, s2, s10 = subjects
    assert s1.scan().name == "110920150452.obj"  # OBJ preferred over VRML
    assert set(s1.videos) == {"cooperative", "indoor"}
    assert s2.scan().suffix == ".wrl" and s2.videos["outdoor"].is_dir()  # frames beat the video file
    with pytest.raises(InputFileError, match="no ground-truth scan"):
        s10.scan()
    v_obj, f_obj = micc.load_scan(s1.scan())
    assert v_obj.shape == (4, 3) and f_obj.tolist() == [[0, 1, 2], [0, 2, 3]]
    v_wrl, f_wrl = micc.load_scan(s2.scan())
    assert v_wrl.shape == (3, 3) and f_wrl.tolist() == [[0, 1, 2]]
    assert micc.count_frames(s2.videos["outdoor"]) == 3


def test_find_subjects_rejects_other_layouts(tmp_path):
    with pytest.raises(InputFileError, match="MICC"):
        micc.find_subjects(tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        micc.find_subjects(tmp_path / "missing")
    (tmp_path / "scan.ply").write_text("ply")
    with pytest.raises(InputFileError, match=".obj or .wrl"):
        micc.load_scan(tmp_path / "scan.ply")


def test_mjpeg_frames_are_split_and_decoded(tmp_path):
    _make_micc(tmp_path)
    s1 = micc.find_subjects(tmp_path)[0]
    frames = list(iter_frames(s1.videos["cooperative"]))
    assert [i for i, _ in frames] == [0, 1, 2]
    assert frames[0][1].shape == (12, 16, 3) and frames[0][1].dtype == np.uint8
    assert [abs(int(f[6, 8, 0]) - v) <= 3 for (_, f), v in zip(frames, [10, 100, 200])] == [True] * 3
    with_junk = list(iter_frames(s1.videos["indoor"], step=1))
    assert len(with_junk) == 2
    assert [i for i, _ in iter_frames(s1.videos["cooperative"], step=2)] == [0, 2]
    assert len(list(iter_frames(s1.videos["cooperative"], max_frames=1))) == 1


def test_mjpeg_splitter_skips_exif_thumbnail_and_truncated_tail():
    thumb = _jpeg(30, (4, 4))
    app1 = b"Exif\x00\x00" + thumb  # an embedded JPEG (with its own SOI/EOI) inside APP1
    main = _jpeg(90)
    with_exif = main[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + main[2:]
    stream = with_exif + _jpeg(40) + _jpeg(50)[:100]
    parts = list(split_mjpeg(stream))
    assert len(parts) == 2 and parts[0] == with_exif


def test_frame_folder_natural_order_and_undecodable_video(tmp_path):
    _make_micc(tmp_path)
    s2 = micc.find_subjects(tmp_path)[1]
    values = [int(f[0, 0, 0]) for _, f in iter_frames(s2.videos["outdoor"])]
    assert values == [1, 2, 10]
    with pytest.raises(InputFileError, match="ffmpeg"):
        list(iter_frames(s2.root / "Video" / "PTZ-Outdoor.mpg"))


def test_average_identity_code():
    codes = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    assert np.allclose(micc.average_identity_code(codes), [3.0, 2.0])
    assert np.allclose(micc.average_identity_code(codes, [1, 1, 0]), [2.0, 3.0])
    with pytest.raises(ValueError):
        micc.average_identity_code(np.zeros((0, 4)))


def test_three_view_selection_by_yaw():
    yaws = [2.0, -5.0, 28.0, 55.0, float("nan"), -33.0, -70.0, 12.0]
    assert micc.select_three_views(yaws) == {"left": 2, "frontal": 0, "right": 5}
    assert micc.select_three_views(yaws, side_deg=60) == {"left": 3, "frontal": 0, "right": 6}
    # a video that never turns right: the right view falls back to the frontal frame
    assert micc.select_three_views([10.0, 40.0, 3.0]) == {"left": 1, "frontal": 2, "right": 2}


def test_summaries_and_aggregation():
    s = micc.summarize_errors([1.0, 2.0, 3.0, float("nan")])
    assert s["mean"] == pytest.approx(2.0) and s["std"] == pytest.approx(np.sqrt(2 / 3))
    assert s["n"] == 3 and s["failed"] == 1
    assert s["sem"] == pytest.approx(1.0 / np.sqrt(3))  # sample std 1 over sqrt(3)
    assert np.isnan(micc.summarize_errors([1.0])["sem"])
    records = [
        {"mode": "identity", "setting": "outdoor", "symmetric_mm": 2.0},
        {"mode": "identity", "setting": "cooperative", "symmetric_mm": 1.0},
        {"mode": "identity", "setting": "cooperative", "symmetric_mm": 3.0},
        {"mode": "three_views", "setting": "indoor", "symmetric_mm": 4.0},
    ]
    agg = micc.aggregate_records(records)
    assert list(agg["identity"]) == ["cooperative", "outdoor"]  # the paper's column order
    assert agg["identity"]["cooperative"]["mean"] == 2.0 and agg["three_views"]["indoor"]["n"] == 1
