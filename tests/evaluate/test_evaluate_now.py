"""The NoW protocol on answers known by construction, and the challenge's file layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from photoface.errors import InputFileError
from photoface.evaluate.now import evaluate_now, face_region, score_now
from photoface.evaluate.now_files import LANDMARKS7_FROM_68, read_landmarks7, read_pp, write_pp
from photoface.evaluate.results_files import write_results
from photoface.mesh.normals import vertex_normals
from support.model_files import write_obj
from support.runs import tiny_face_model

ROT = Rotation.from_euler("xyz", [10, -25, 5], degrees=True).as_matrix()
SHIFT = np.array([12.0, -40.0, 300.0])


@pytest.fixture(scope="module")
def face():
    m = tiny_face_model()
    v = m.mean.double().numpy()
    f = m.faces.numpy()
    return v, f, v[m.landmarks68.numpy()[LANDMARKS7_FROM_68]]


def test_face_region_is_the_official_formula():
    lmk = np.array([[-45.0, 35, 0], [-15, 35, 0], [15, 35, 0], [45, 35, 0], [0, 0, 0], [-25, -30, 0], [25, -30, 0]])
    centre, radius = face_region(lmk)
    np.testing.assert_allclose(centre, [0, 10.5, 0])  # 30 % of the way from the nose bottom to the bridge
    assert radius == pytest.approx(1.4 * (90 + 35) / 2)


def test_prediction_moved_by_a_similarity_scores_zero(face):
    v, f, lmk = face
    pred = v / 1000.0  # metres, any unit is fine: the scale is fitted
    scan = v @ ROT.T + SHIFT
    res = score_now(pred, f, lmk / 1000.0, scan, f, lmk @ ROT.T + SHIFT)
    assert res.transform.scale == pytest.approx(1000.0, rel=1e-6)
    assert np.median(res.scan_errors) < 1e-4 and res.scan_errors.max() < 1e-3
    assert len(res.scan_points) > 200  # the crop kept a face-sized region


def test_scan_points_at_a_known_distance_score_that_distance(face):
    """Every scan vertex is the prediction's vertex moved 0.5 mm along its normal, outwards and
    inwards in a checkerboard: no similarity can do better than the identity, and each distance
    is 0.5 mm (up to the mesh's curvature)."""
    v, f, lmk = face
    delta = 0.5
    n = vertex_normals(torch.as_tensor(v), torch.as_tensor(f)).numpy()
    i = np.arange(len(v))
    sign = np.where((i // 25 + i % 25) % 2 == 0, 1.0, -1.0)
    scan = (v + delta * sign[:, None] * n) @ ROT.T + SHIFT
    res = score_now(v, f, lmk, scan, f, lmk @ ROT.T + SHIFT)
    assert np.median(res.scan_errors) == pytest.approx(delta, rel=0.05)
    assert res.scan_errors.mean() == pytest.approx(delta, rel=0.08)
    # the two sides balance: the fitted scale stays that of the identity
    assert res.transform.scale == pytest.approx(1.0, abs=0.01)


def _write_layout(root, face, subjects=("FaMoS_1", "FaMoS_2")):
    v, f, lmk = face
    lines = []
    for s, subject in enumerate(subjects):
        (root / "scans" / subject).mkdir(parents=True)
        (root / "scans_lmks_onlypp" / subject).mkdir(parents=True)
        rot = Rotation.from_euler("y", 10 * s, degrees=True).as_matrix()
        write_obj(root / "scans" / subject / "scan.obj", v @ rot.T + SHIFT, faces=f)
        write_pp(root / "scans_lmks_onlypp" / subject / "scan_picked_points.pp", lmk @ rot.T + SHIFT)
        for challenge, name in (("multiview_neutral", "IMG_0001"), ("selfie", "IMG_0002")):
            lines.append(f"NoW_Dataset/final_release_version/iphone_pictures/{subject}/{challenge}/{name}.jpg")
    (root / "imagepathsvalidation.txt").write_text("\n".join(lines) + "\n")
    return lines


@pytest.mark.slow
def test_evaluate_now_reads_the_challenge_layout(tmp_path, face):
    v, f, lmk = face
    lines = _write_layout(tmp_path / "now", face)
    pred = tmp_path / "pred"
    bump = np.exp(-((v[:, 0] / 15) ** 2 + ((v[:, 1] - 40) / 15) ** 2))[:, None] * np.array([0, 0, 3.0])
    for k, line in enumerate(lines[:-1]):  # the last prediction is missing
        subject, challenge, name = line.split("/")[-3:]
        out = pred / subject / challenge
        out.mkdir(parents=True, exist_ok=True)
        verts = (v + (bump if k == 1 else 0)) * 0.001
        if k == 2:  # .ply is read too
            import trimesh

            trimesh.Trimesh(verts, f, process=False).export(out / f"{name[:-4]}.ply")
        else:
            write_obj(out / f"{name[:-4]}.obj", verts, faces=f)
        if k % 2:
            np.savetxt(out / f"{name[:-4]}.txt", lmk * 0.001)
        else:
            np.save(out / f"{name[:-4]}.npy", lmk[None] * 0.001)
    res = evaluate_now(pred, tmp_path / "now")
    assert res["meta"]["n_scored"] == 3 and res["missing"] == [{"image": lines[-1], "missing": "mesh"}]
    med = [r["median"] for r in res["images"]]
    assert med[0] < 1e-3 and med[2] < 1e-3 and res["images"][1]["mean"] > 0.05  # the bump shows
    assert res["pooled"]["n"] == sum(r["n"] for r in res["images"])
    assert set(res["by_challenge"]) == {"multiview_neutral", "selfie"}
    json_path, md_path = write_results(res, tmp_path / "now.json")
    assert json.loads(json_path.read_text())["meta"]["mode"] == "single-image"
    assert "| all |" in md_path.read_text()


def test_bad_files_are_named(tmp_path, face):
    pp = tmp_path / "bad.pp"
    pp.write_text('<PickedPoints><point x="1" y="2" z="3"/></PickedPoints>')
    with pytest.raises(InputFileError, match="found 1"):
        read_pp(pp)
    lm = tmp_path / "lm.npy"
    np.save(lm, np.zeros((68, 3)))
    with pytest.raises(InputFileError, match=r"\(7, 3\)"):
        read_landmarks7(lm)
    _write_layout(tmp_path / "now", face, subjects=("A",))
    with pytest.raises(InputFileError, match="predictions folder"):
        evaluate_now(tmp_path / "nowhere", tmp_path / "now")
