"""Importer round trips on fixture files written here, in the exact on-disk formats, from the
demo procedural model (so the expected answer is known exactly)."""

import json

import numpy as np
import pytest
import torch
from scipy.io import savemat

from photoface.errors import InputFileError
from photoface.facemodel.bfm import import_bfm
from photoface.facemodel.ict import import_ict, read_obj
from photoface.facemodel.importing import mirror_map
from support.model_files import unit_columns, write_obj

K_ID, K_TEX, L_EXP = 6, 4, 5


@pytest.fixture(scope="module")
def demo_arrays(demo_model):
    m = demo_model
    return dict(
        mean=m.mean.double().numpy(), id=m.id_basis[:K_ID].double().numpy(),
        exp=m.exp_basis[:L_EXP].double().numpy(), tex_mean=m.tex_mean.double().numpy(),
        tex=m.tex_basis[:K_TEX].double().numpy(), faces=m.faces.numpy(), lm=m.landmarks68.numpy(),
        mirror=m.mirror.numpy(), regions={k: v.numpy() for k, v in m.regions.items()},
    )


def _write_bfm(path, a, flip_x=False):
    mean = a["mean"].copy()
    faces = a["faces"].copy()
    sign = np.array([-1.0, 1.0, 1.0]) if flip_x else np.ones(3)
    if flip_x:  # a source whose x points to the subject's right
        faces = faces[:, ::-1]
    shape_pc, shape_ev = unit_columns(a["id"] * sign)
    tex_pc, tex_ev = unit_columns(a["tex"] * 255.0)
    n = len(mean)
    seg = np.zeros((n, 4))
    seg[a["regions"]["nose"], 0] = 1
    savemat(path, {
        "shapeMU": ((mean * sign + [5.0, -3.0, 80.0]) * 1000.0).reshape(-1, 1).astype(np.float32),
        "shapePC": shape_pc.astype(np.float32), "shapeEV": (shape_ev * 1000.0).reshape(-1, 1).astype(np.float32),
        "texMU": (a["tex_mean"] * 255.0).reshape(-1, 1).astype(np.float32),
        "texPC": tex_pc.astype(np.float32), "texEV": tex_ev.reshape(-1, 1).astype(np.float32),
        "tl": (faces + 1).astype(np.float64), "segbin": seg,
    })
    return path


def _write_lm(path, lm):
    path.write_text(" ".join(map(str, lm)))
    return path


def test_bfm_round_trip_without_crop(demo_arrays, tmp_path):
    a = demo_arrays
    bfm = _write_bfm(tmp_path / "01_MorphableModel.mat", a)
    m = import_bfm(bfm, landmarks=_write_lm(tmp_path / "lm.txt", a["lm"]), crop=False)
    assert m.num_vertices == len(a["mean"])
    assert np.allclose(m.mean.numpy(), a["mean"], atol=2e-3)  # float32 micrometres
    assert np.allclose(m.id_basis.numpy(), a["id"], atol=1e-4)
    assert np.allclose(m.tex_mean.numpy(), np.clip(a["tex_mean"], 0, 1), atol=1e-5)
    assert np.allclose(m.tex_basis.numpy(), a["tex"], atol=1e-5)
    assert np.array_equal(m.faces.numpy(), a["faces"])
    assert np.array_equal(m.landmarks68.numpy(), a["lm"])
    # Position-based pairing: exact up to vertices that coincide (the closed mouth's two lips).
    mirror = m.mirror.numpy()
    assert np.array_equal(mirror[mirror], np.arange(m.num_vertices))
    assert np.allclose(m.mean.numpy()[mirror] * [-1, 1, 1], a["mean"], atol=5e-3)
    assert (mirror == a["mirror"]).mean() > 0.95
    assert set(m.regions["nose"].tolist()) == set(a["regions"]["nose"].tolist())  # segbin's own
    assert set(a["regions"]) <= set(m.regions)  # the names segbin lacks come from the landmarks
    assert len(m.regions["eyes"]) > 50  # segbin's empty eye column does not hide the derived eyes
    assert m.n_exp == 0 and m.exp_kind == "pca"


def test_bfm_without_albedo_gives_a_flat_skin_and_no_albedo_modes(demo_arrays, tmp_path):
    from scipy.io import loadmat

    a = demo_arrays
    bfm = _write_bfm(tmp_path / "01_MorphableModel.mat", a)
    shape_only = {k: v for k, v in loadmat(bfm).items() if not k.startswith(("__", "tex"))}
    savemat(tmp_path / "shape_only.mat", shape_only)
    m = import_bfm(tmp_path / "shape_only.mat", landmarks=_write_lm(tmp_path / "lm.txt", a["lm"]), crop=False)
    assert m.n_tex == 0 and torch.allclose(m.tex_mean, m.tex_mean[0].expand_as(m.tex_mean))
    assert np.allclose(m.id_basis.numpy(), a["id"], atol=1e-4)
    no_modes = dict(shape_only, texMU=loadmat(bfm)["texMU"], texPC=np.zeros((3 * len(a["mean"]), 0)),
                    texEV=np.zeros((0, 1)))
    savemat(tmp_path / "no_modes.mat", no_modes)
    m = import_bfm(tmp_path / "no_modes.mat", landmarks=_write_lm(tmp_path / "lm.txt", a["lm"]), crop=False)
    assert m.n_tex == 0 and np.allclose(m.tex_mean.numpy(), np.clip(a["tex_mean"], 0, 1), atol=1e-5)


def test_bfm_with_mirrored_axes_is_brought_into_photoface_axes(demo_arrays, tmp_path):
    a = demo_arrays
    bfm = _write_bfm(tmp_path / "flipped.mat", a, flip_x=True)
    m = import_bfm(bfm, landmarks=_write_lm(tmp_path / "lm.txt", a["lm"]), crop=False)
    assert np.allclose(m.mean.numpy(), a["mean"], atol=2e-3)
    assert np.allclose(m.id_basis.numpy(), a["id"], atol=1e-4)
    assert np.array_equal(m.faces.numpy(), a["faces"])  # winding restored with the axis


def test_bfm_with_exp_pca_bin_trim_list_and_paper_crop(demo_arrays, tmp_path):
    a = demo_arrays
    n = len(a["mean"])
    bfm = _write_bfm(tmp_path / "01_MorphableModel.mat", a)
    trim = np.setdiff1d(np.arange(n), np.arange(0, 300))  # the trimmed model drops 300 vertices
    pc, std = unit_columns(a["exp"][:, trim] * 1000.0)  # components in micrometres
    with open(tmp_path / "Exp_Pca.bin", "wb") as fh:
        np.array([L_EXP], dtype="<i4").tofile(fh)
        np.zeros(3 * len(trim), dtype="<f4").tofile(fh)
        pc.T.astype("<f4").tofile(fh)
    np.savetxt(tmp_path / "std_exp.txt", std)
    kp = np.searchsorted(trim, a["lm"]) + 1  # 3DDFA keypoints: 1-based, trimmed model
    savemat(tmp_path / "BFM_exp_idx.mat", {"trimIndex": (trim + 1).reshape(-1, 1).astype(np.float64), "keypoints": kp.reshape(1, -1)})
    full = import_bfm(bfm, expression=tmp_path / "Exp_Pca.bin", crop=False)
    assert full.num_vertices == len(trim)
    assert np.allclose(full.exp_basis.numpy(), a["exp"][:, trim], atol=1e-4)
    assert np.array_equal(trim[full.landmarks68.numpy()], a["lm"])
    cropped = import_bfm(bfm, expression=tmp_path / "Exp_Pca.bin")
    expect = round(len(trim) * 37202 / 53215)
    assert expect <= cropped.num_vertices <= expect + 68
    # The crop keeps the face and drops what lies farthest behind it (the sides at ear level).
    z = full.mean[:, 2]
    kept_z = cropped.mean[:, 2]
    assert kept_z.min() > z.min() + 5.0
    assert torch.equal(cropped.mirror[cropped.mirror], torch.arange(cropped.num_vertices))
    lm = cropped.landmarks68
    assert torch.allclose(cropped.mean[lm] - cropped.mean[lm].mean(0), full.mean[full.landmarks68] - full.mean[full.landmarks68].mean(0), atol=1e-3)


def test_bfm_front_model_as_expression_source_and_alone(demo_arrays, tmp_path):
    # Vertices are matched by position; open the mouth a little so that no two vertices coincide.
    a = dict(demo_arrays, mean=demo_arrays["mean"] + 0.3 * demo_arrays["exp"][0])
    bfm = _write_bfm(tmp_path / "01_MorphableModel.mat", a)
    sel = np.nonzero(np.abs(a["mean"][:, 0]) < 60.0)[0]
    sel = np.union1d(sel, a["lm"])
    new = np.full(len(a["mean"]), -1)
    new[sel] = np.arange(len(sel))
    tri = new[a["faces"]]
    tri = tri[(tri >= 0).all(1)]
    src_mean = (a["mean"] + [5.0, -3.0, 80.0]) / 100.0  # decimetres
    front = {
        "meanshape": src_mean[sel].reshape(1, -1), "meantex": (a["tex_mean"][sel] * 255).reshape(1, -1),
        "idBase": a["id"][:, sel].reshape(K_ID, -1).T / 100.0, "exBase": a["exp"][:, sel].reshape(L_EXP, -1).T / 100.0,
        "texBase": a["tex"][:, sel].reshape(K_TEX, -1).T * 255.0, "tri": (tri + 1).astype(np.float64),
        "keypoints": (new[a["lm"]] + 1).reshape(1, -1).astype(np.float64),
    }
    savemat(tmp_path / "BFM_model_front.mat", front)
    m = import_bfm(bfm, expression=tmp_path / "BFM_model_front.mat")
    assert m.num_vertices == len(sel)
    assert np.allclose(m.exp_basis.numpy(), a["exp"][:, sel], atol=1e-4)
    assert np.allclose(m.id_basis.numpy(), a["id"][:, sel], atol=1e-4)
    assert np.array_equal(m.faces.numpy(), tri)
    assert np.array_equal(sel[m.landmarks68.numpy()], a["lm"])
    alone = import_bfm(tmp_path / "BFM_model_front.mat")
    assert alone.num_vertices == len(sel) and alone.n_id == K_ID and alone.n_exp == L_EXP
    assert np.allclose(alone.mean.numpy(), m.mean.numpy(), atol=2e-3)


def test_bfm_errors_name_the_file_and_the_problem(demo_arrays, tmp_path):
    a = demo_arrays
    bfm = _write_bfm(tmp_path / "01_MorphableModel.mat", a)
    with pytest.raises(InputFileError, match="landmark"):
        import_bfm(bfm)
    from scipy.io import loadmat

    mat = {k: v for k, v in loadmat(bfm).items() if not k.startswith("__") and k != "shapeEV"}
    savemat(tmp_path / "noev.mat", mat)
    with pytest.raises(InputFileError, match="noev.mat.*'shapeEV' missing"):
        import_bfm(tmp_path / "noev.mat", landmarks=_write_lm(tmp_path / "lm.txt", a["lm"]))
    (tmp_path / "Exp_Pca.bin").write_bytes(np.array([3], "<i4").tobytes() + b"\0" * 40)
    lm_file = _write_lm(tmp_path / "lm.txt", a["lm"])
    with pytest.raises(InputFileError, match="Exp_Pca.bin.*trim list"):
        import_bfm(bfm, expression=tmp_path / "Exp_Pca.bin", landmarks=lm_file)
    savemat(tmp_path / "BFM_exp_idx.mat", {"trimIndex": np.arange(1, len(a["mean"]) + 1).reshape(-1, 1)})
    with pytest.raises(InputFileError, match="Exp_Pca.bin.*does not match"):
        import_bfm(bfm, expression=tmp_path / "Exp_Pca.bin", landmarks=lm_file)
    (tmp_path / "bad.mat").write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="bad.mat"):
        import_bfm(tmp_path / "bad.mat")


def test_obj_reader_fans_quads_and_keeps_vertex_order(tmp_path):
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0]], dtype=float)
    write_obj(tmp_path / "q.obj", v, faces=np.array([[1, 4, 2]]), quads=[[0, 1, 2, 3]])
    verts, faces = read_obj(tmp_path / "q.obj", with_faces=True)
    assert np.array_equal(verts, v)
    assert faces.tolist() == [[1, 4, 2], [0, 1, 2], [0, 2, 3]]


def test_ict_round_trip_and_narrow_area(demo_arrays, tmp_path):
    a = demo_arrays
    cm = a["mean"] / 10.0 + [0.3, 16.0, 2.0]
    write_obj(tmp_path / "generic_neutral_mesh.obj", cm, faces=a["faces"])
    for k in range(3):
        write_obj(tmp_path / f"identity{k:03d}.obj", cm + a["id"][k] / 10.0)
    names = ["jawOpen", "eyeBlink_L"]
    for k, name in enumerate(names):
        write_obj(tmp_path / f"{name}.obj", cm + a["exp"][k] / 10.0)
    (tmp_path / "vertex_indices.json").write_text(json.dumps({"expressions": names, "idx_to_landmark_verts": a["lm"].tolist()}))
    m = import_ict(tmp_path, face_vertices=len(cm))
    assert np.allclose(m.mean.numpy(), a["mean"], atol=1e-4)
    assert np.allclose(m.id_basis.numpy(), a["id"][:3], atol=1e-4)
    assert np.allclose(m.exp_basis.numpy(), a["exp"][:2], atol=1e-4)
    assert m.exp_kind == "blendshape" and m.exp_names == names
    assert m.n_tex == 0 and torch.allclose(m.tex_mean, m.tex_mean[0].expand_as(m.tex_mean))
    assert np.array_equal(m.landmarks68.numpy(), a["lm"])
    assert set(m.regions) == set(a["regions"])  # ICT has none: all derived from the landmarks
    eyes = set(m.regions["eyes"].tolist())
    assert len(eyes & set(a["regions"]["eyes"].tolist())) > 0.9 * len(eyes)
    narrow = import_ict(tmp_path, face_vertices=2000)
    assert narrow.num_vertices == len(np.union1d(np.arange(2000), a["lm"]))
    lm = narrow.landmarks68
    assert torch.allclose(narrow.mean[lm] - narrow.mean[lm].mean(0), m.mean[m.landmarks68] - m.mean[m.landmarks68].mean(0), atol=1e-3)


def test_ict_errors(demo_arrays, tmp_path):
    a = demo_arrays
    cm = a["mean"] / 10.0
    write_obj(tmp_path / "generic_neutral_mesh.obj", cm, faces=a["faces"])
    with pytest.raises(InputFileError, match="identity000"):
        import_ict(tmp_path)
    write_obj(tmp_path / "identity000.obj", cm[:-5])
    with pytest.raises(InputFileError, match="identity000.obj.*vertices"):
        import_ict(tmp_path)
    (tmp_path / "identity000.obj").write_text("v 1 2 x\n")
    with pytest.raises(InputFileError, match="malformed"):
        import_ict(tmp_path)


def test_mirror_map_pairs_a_symmetric_cloud_exactly():
    rng = np.random.default_rng(0)
    half = rng.normal(size=(50, 3)) + [3.0, 0, 0]
    pts = np.concatenate([half, half * [-1, 1, 1], [[0.0, 1.0, 2.0]]])
    perm = rng.permutation(len(pts))
    pts = pts[perm]
    m, err = mirror_map(pts)
    assert err < 1e-9
    assert np.array_equal(m[m], np.arange(len(pts)))
    assert np.allclose(pts[m] * [-1, 1, 1], pts)
