"""AFLW2000-3D .mat adapter and the NME metrics (generic and per yaw bin)."""

import numpy as np
import pytest
import scipy.io
from PIL import Image

from photoface.errors import InputFileError
from photoface.evaluate.aflw2000 import list_aflw2000, read_aflw2000_mat
from photoface.evaluate.nme import aflw2000_nme, bbox_size, interocular_distance, landmark_nme, yaw_bin


def _write_sample(folder, name, yaw_rad, rng):
    pts = np.zeros((3, 68))
    pts[0] = rng.uniform(100, 300, 68)
    pts[1] = rng.uniform(120, 280, 68)
    pts[2] = rng.normal(size=68)
    scipy.io.savemat(folder / f"{name}.mat", {
        "pt3d_68": pts,
        "Pose_Para": np.array([[0.1, yaw_rad, -0.2, 200.0, 210.0, 0.0, 0.0012]]),
        "Shape_Para": rng.normal(size=(199, 1)),
        "Exp_Para": rng.normal(size=(29, 1)),
        "Color_Para": np.zeros((1, 7)),
        "Illum_Para": np.zeros((1, 10)),
        "Tex_Para": np.zeros((199, 1)),
        "roi": np.array([[90, 110, 310, 290]]),
        "pt2d": rng.uniform(0, 400, (2, 21)),
    })
    Image.new("RGB", (450, 450)).save(folder / f"{name}.jpg")
    return pts


def test_reads_mat_fields_and_converts_conventions(tmp_path):
    rng = np.random.default_rng(0)
    pts = _write_sample(tmp_path, "image00002", np.radians(-40.0), rng)
    s = read_aflw2000_mat(tmp_path / "image00002.mat")
    assert s.name == "image00002" and s.image == tmp_path / "image00002.jpg"
    assert s.landmarks.shape == (68, 2)
    assert np.allclose(s.landmarks, pts[:2].T - 0.5)  # MATLAB pixel centres → photoface's
    assert np.allclose(s.landmarks3d[:, 2], pts[2])
    assert s.yaw_deg == pytest.approx(-40.0) and s.pitch_deg == pytest.approx(np.degrees(0.1))
    assert s.shape_para.shape == (199,) and s.exp_para.shape == (29,) and s.roi.shape == (4,)
    raw = read_aflw2000_mat(tmp_path / "image00002.mat", pixel_offset=0.0)
    assert np.allclose(raw.landmarks, pts[:2].T)


def test_list_pairs_images_with_annotations(tmp_path):
    rng = np.random.default_rng(1)
    for i, yaw in enumerate((0.1, 0.7, 1.3)):
        _write_sample(tmp_path, f"image{i:05d}", yaw, rng)
    (tmp_path / "image00009.jpg").write_bytes(b"")  # no annotation: skipped
    samples = list_aflw2000(tmp_path)
    assert [s.name for s in samples] == ["image00000", "image00001", "image00002"]
    with pytest.raises(InputFileError, match="AFLW2000"):
        list_aflw2000(tmp_path / "image00009.jpg")


def test_bad_mat_names_file_and_problem(tmp_path):
    scipy.io.savemat(tmp_path / "bad.mat", {"pt3d_68": np.zeros((3, 68))})
    with pytest.raises(InputFileError, match="Pose_Para") as info:
        read_aflw2000_mat(tmp_path / "bad.mat")
    assert "bad.mat" in str(info.value)
    scipy.io.savemat(tmp_path / "bad2.mat", {"pt3d_68": np.zeros((3, 5)), "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(InputFileError, match="pt3d_68"):
        read_aflw2000_mat(tmp_path / "bad2.mat")


def test_nme_matches_hand_computation():
    gt = np.zeros((68, 2))
    gt[:, 0] = np.linspace(0, 40, 68)
    gt[:, 1] = np.linspace(0, 10, 68)  # box 40 × 10 → sqrt = 20 px
    pred = gt.copy()
    pred[0] += [3.0, 4.0]  # one landmark 5 px off
    assert bbox_size(gt)[0] == pytest.approx(20.0)
    assert landmark_nme(pred, gt)[0] == pytest.approx(5.0 / 68 / 20.0)
    assert landmark_nme(pred, gt, norm=10.0)[0] == pytest.approx(5.0 / 68 / 10.0)
    vis = np.ones(68, bool)
    vis[0] = False
    assert landmark_nme(pred, gt, visible=vis[None])[0] == 0
    assert interocular_distance(gt)[0] == pytest.approx(np.linalg.norm(gt[36] - gt[45]))


def test_yaw_bins_follow_3ddfa():
    assert yaw_bin([0, 30, 30.01, -45, 60, -60.5, 95]).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_aflw2000_nme_mean_of_bins():
    rng = np.random.default_rng(2)
    gt = rng.uniform(0, 100, (4, 68, 2))
    pred = gt.copy()
    norms = bbox_size(gt)
    pred[0, :, 0] += 0.01 * norms[0]  # NME 0.01 (frontal)
    pred[1, :, 0] += 0.03 * norms[1]  # NME 0.03 (frontal)
    pred[2, :, 1] += 0.04 * norms[2]  # NME 0.04 (45°)
    pred[3, :, 0] += 0.09 * norms[3]  # NME 0.09 (80°)
    r = aflw2000_nme(pred, gt, [5.0, -20.0, 45.0, -80.0])
    assert r["bins"] == pytest.approx({"0-30": 0.02, "30-60": 0.04, "60-90": 0.09})
    assert r["counts"] == {"0-30": 2, "30-60": 1, "60-90": 1}
    assert r["mean_of_bins"] == pytest.approx(0.05)
    assert r["overall"] == pytest.approx(0.0425)
