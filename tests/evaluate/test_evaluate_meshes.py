"""``evaluate meshes``: other tools' meshes scored on MICC, NoW and synthetic truth, landmarks from
a file or a stated topology."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from photoface.cli import main
from photoface.errors import InputFileError
from photoface.evaluate.meshes import Topology, evaluate_meshes, meshes_of
from photoface.evaluate.now_files import LANDMARKS7_FROM_68, write_pp
from photoface.facemodel.io import save_model
from support.flame_files import flame_arrays
from support.model_files import write_obj
from support.runs import tiny_face_model, write_benchmark

ROT = Rotation.from_euler("xyz", [5, 20, -3], degrees=True).as_matrix()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    m = tiny_face_model()
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    save_model(m, path)
    return m, path


def test_flame_topology_gives_the_embedding_points(tmp_path):
    a = flame_arrays()
    emb = tmp_path / "landmark_embedding.npy"
    np.save(emb, np.array({"full_lmk_faces_idx": a["lmk_faces_idx"][None],
                           "full_lmk_bary_coords": a["lmk_bary_coords"][None]}, dtype=object), allow_pickle=True)
    v, f = a["v_template"], a["f"].astype(np.int64)
    got = Topology(f"flame:{emb}").landmarks68(v, f, "mesh.obj")
    np.testing.assert_allclose(got, np.einsum("lkd,lk->ld", v[f[a["lmk_faces_idx"]]], a["lmk_bary_coords"]))
    with pytest.raises(InputFileError, match="not FLAME's topology"):
        Topology(f"flame:{emb}").landmarks68(v, f[:10], "mesh.obj")


def test_synthetic_protocol_scores_moved_truth_zero(tmp_path, tiny):
    m, model_path = tiny
    data = write_benchmark(tmp_path / "synth", m, model_path, n_train=1, n_test=2, per_id=3)
    pred = tmp_path / "pred"
    pred.mkdir()
    faces = m.faces.numpy()
    scan = np.load(data / "scans" / "id001.npy").astype(np.float64)
    write_obj(pred / "id001.obj", scan @ ROT.T * 0.01 + 3.0, faces=faces)  # another tool's frame and unit
    res = evaluate_meshes(pred, data, "synthetic", str(model_path))
    assert res["missing"] == ["id002"] and list(res["subjects"]) == ["id001"]
    assert res["subjects"]["id001"]["symmetric_mm"] < 1e-3


def test_mesh_layouts_plain_ply_and_deca(tmp_path):
    pred = tmp_path / "pred"
    for rel in ("a.ply", "b/b.obj", "b/b_detail.obj", "b/b.png", "c/x.obj", "c/x.ply", "c/y.ply", "c/z_detail.obj",
                "c/img1/img1.obj", "c/img1/img1_detail.obj", "c/img1/img1_kpt3d.txt", "c/img2/img2.ply", "c/img3/other.obj"):
        (pred / rel).parent.mkdir(parents=True, exist_ok=True)
        (pred / rel).write_text("")
    rel = {k: [p.relative_to(pred).as_posix() for p in meshes_of(pred, k)] for k in "abcd"}
    assert rel == {"a": ["a.ply"], "b": ["b/b.obj"],  # DECA's layout for one image: not its _detail mesh
                   "c": ["c/x.obj", "c/y.ply", "c/img1/img1.obj", "c/img2/img2.ply"], "d": []}


def test_synthetic_protocol_reads_ply_and_deca_layout(tmp_path, tiny):
    m, model_path = tiny
    data = write_benchmark(tmp_path / "synth", m, model_path, n_train=1, n_test=2, per_id=3)
    pred = tmp_path / "pred"
    faces = m.faces.numpy()
    scan1 = np.load(data / "scans" / "id001.npy").astype(np.float64)
    pred.mkdir()
    trimesh.Trimesh(scan1 @ ROT.T, faces, process=False).export(pred / "id001.ply")
    scan2 = np.load(data / "scans" / "id002.npy").astype(np.float64)
    (pred / "id002" / "IMG_7").mkdir(parents=True)  # DECA: savefolder/<image>/<image>.obj
    write_obj(pred / "id002" / "IMG_7" / "IMG_7.obj", scan2 + 5.0, faces=faces)
    write_obj(pred / "id002" / "IMG_7" / "IMG_7_detail.obj", scan2[:50], faces=faces[:10])  # another topology
    res = evaluate_meshes(pred, data, "synthetic", str(model_path))
    assert res["missing"] == [] and [r["mesh"][-9:] for r in res["meshes"]] == ["id001.ply", "IMG_7.obj"]
    assert max(s["symmetric_mm"] for s in res["subjects"].values()) < 1e-3


@pytest.mark.slow
def test_micc_protocol_and_cli(tmp_path, tiny):
    m, model_path = tiny
    v, f = m.mean.double().numpy(), m.faces.numpy()
    scan_dir = tmp_path / "micc" / "subject_01" / "Model" / "frontal1" / "obj"
    scan_dir.mkdir(parents=True)
    write_obj(scan_dir / "scan.obj", v, faces=f)
    bump = np.exp(-((v[:, 0] / 12) ** 2 + ((v[:, 1] + 20) / 12) ** 2))[:, None] * np.array([0, 0, 2.0])
    (tmp_path / "pred" / "subject_01").mkdir(parents=True)
    write_obj(tmp_path / "pred" / "subject_01" / "a.obj", v @ ROT.T, faces=f)
    write_obj(tmp_path / "pred" / "subject_01" / "b.obj", (v + bump) @ ROT.T, faces=f)
    res = evaluate_meshes(tmp_path / "pred", tmp_path / "micc", "micc", str(model_path))
    a, b = res["meshes"]
    assert a["symmetric_mm"] < 1e-3 < b["symmetric_mm"]
    assert res["subjects"]["subject_01"]["symmetric_mm"] == pytest.approx((a["symmetric_mm"] + b["symmetric_mm"]) / 2)
    assert main(["evaluate", "meshes", str(tmp_path / "pred"), "--truth", str(tmp_path / "micc"), "--protocol", "micc",
                 "--topology", str(model_path), "--quiet"]) == 0
    assert (tmp_path / "pred" / "eval_meshes_micc.md").is_file()


def test_now_protocol_with_landmarks_from_a_topology(tmp_path, tiny):
    m, model_path = tiny
    v, f = m.mean.double().numpy(), m.faces.numpy()
    lmk = v[m.landmarks68.numpy()[LANDMARKS7_FROM_68]]
    root = tmp_path / "now"
    (root / "scans" / "S1").mkdir(parents=True)
    (root / "scans_lmks_onlypp" / "S1").mkdir(parents=True)
    write_obj(root / "scans" / "S1" / "s.obj", v @ ROT.T, faces=f)
    write_pp(root / "scans_lmks_onlypp" / "S1" / "s.pp", lmk @ ROT.T)
    (root / "imagepathsvalidation.txt").write_text("x/S1/selfie/IMG_1.jpg\n")
    (tmp_path / "pred" / "S1" / "selfie").mkdir(parents=True)
    write_obj(tmp_path / "pred" / "S1" / "selfie" / "IMG_1.obj", v * 0.001, faces=f)  # no landmark file
    res = evaluate_meshes(tmp_path / "pred", root, "now", str(model_path))
    assert res["meta"]["n_scored"] == 1 and res["pooled"]["median"] < 1e-3
    without = evaluate_meshes(tmp_path / "pred", root, "now", None)
    assert without["missing"] == [{"image": "x/S1/selfie/IMG_1.jpg", "missing": "landmarks"}]
    assert main(["evaluate", "now", str(tmp_path / "pred"), "--data", str(root), "--quiet"]) == 0
