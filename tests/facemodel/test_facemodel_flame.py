"""FLAME import: chumpy-free loading, exact barycentric landmarks, the jaw, the face area."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from photoface.errors import InputFileError
from photoface.facemodel.flame import import_flame
from photoface.facemodel.flame_files import read_flame_model, read_landmark_embedding, read_masks
from photoface.facemodel.flame_jaw import jaw_basis, linearisation_error, pose_jaw
from photoface.facemodel.io import model_hash, save_model
from photoface.facemodel.model import MorphableModel
from support.flame_files import Ch, add, py2_pickle, write_flame_files


@pytest.fixture(scope="module")
def flame_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flame")
    return write_flame_files(folder)


def _bary_points(verts, faces, face_idx, bary):
    return np.einsum("lkd,lk->ld", verts[faces[face_idx]], bary)


def test_reads_chumpy_pickle_without_chumpy(flame_dir):
    a = read_flame_model(flame_dir["model"])
    np.testing.assert_array_equal(a["v_template"], flame_dir["v_template"])
    np.testing.assert_array_equal(a["shapedirs"], flame_dir["shapedirs"])
    np.testing.assert_array_equal(a["J_regressor"], flame_dir["J_regressor"].toarray())
    assert a["f"].dtype == np.int64 and a["f"].max() < len(a["v_template"])
    with pytest.raises(ModuleNotFoundError):
        import chumpy  # noqa: F401  (the point: it is not installed)


def test_landmarks_are_exact_barycentric_points(flame_dir):
    m = import_flame(flame_dir["model"], flame_dir["landmarks"], masks=flame_dir["masks"])
    src = flame_dir["v_template"] * 1000
    f = flame_dir["f"].astype(np.int64)
    want = _bary_points(src, f, flame_dir["lmk_faces_idx"], flame_dir["lmk_bary_coords"])
    got = m.mean.double().numpy()[m.landmarks68.numpy()]
    shift = got - want  # the import only moves the model to its canonical origin
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-3)
    # and they stay on them for any identity
    alpha = np.zeros(300)
    alpha[:5] = [1.5, -1.0, 0.7, 2.0, -0.4]
    shaped = src + flame_dir["shapedirs"][..., :300] @ alpha * 1000
    want = _bary_points(shaped, f, flame_dir["lmk_faces_idx"], flame_dir["lmk_bary_coords"])
    import torch

    got = m.shape(torch.as_tensor(alpha[None], dtype=torch.float32))[0].double().numpy()[m.landmarks68.numpy()]
    np.testing.assert_allclose(got - want, np.broadcast_to(shift[0], want.shape), atol=2e-3)


def test_ringnet_embedding_reads_contour_at_yaw_zero(tmp_path, flame_dir):
    ring = write_flame_files(tmp_path, embedding="ringnet", masks=False)
    f_deca, b_deca = read_landmark_embedding(flame_dir["landmarks"])
    f_ring, b_ring = read_landmark_embedding(ring["landmarks"])
    np.testing.assert_array_equal(f_ring, f_deca)
    np.testing.assert_allclose(b_ring, b_deca)
    (tmp_path / "flame_dynamic_embedding.npy").unlink()
    with pytest.raises(InputFileError, match="flame_dynamic_embedding.npy"):
        read_landmark_embedding(ring["landmarks"])


def test_plain_shapedirs_and_ch_give_the_same_model(tmp_path, flame_dir):
    plain = write_flame_files(tmp_path, plain_shapedirs=True)
    a = import_flame(flame_dir["model"], flame_dir["landmarks"], n_shape=20, n_exp=10)
    b = import_flame(plain["model"], plain["landmarks"], n_shape=20, n_exp=10)
    assert model_hash(a) == model_hash(b)
    assert a.n_id == 20 and a.n_exp == 12 and a.exp_names[-2:] == ["jaw_open_1", "jaw_open_2"]


def test_no_jaw_file_gets_no_jaw_components(tmp_path):
    p = write_flame_files(tmp_path, name="flame2023_no_jaw.pkl", jaw=False, masks=False)
    m = import_flame(p["model"], p["landmarks"], n_shape=10, n_exp=5)
    assert m.n_exp == 5 and "FLAME 2023" in m.source
    m = import_flame(p["model"], p["landmarks"], n_shape=10, n_exp=5, jaw="none")
    assert m.n_exp == 5


def test_jaw_components_span_the_lbs_opening(flame_dir):
    a = read_flame_model(flame_dir["model"])
    basis, coeffs = jaw_basis(a, 2)
    assert (coeffs[-1] > 0).all() and np.sqrt((coeffs ** 2).mean(axis=0)) == pytest.approx([1, 1])
    v0 = a["v_template"]
    opened = pose_jaw(v0, a, np.deg2rad(20))
    chin = flame_dir["lmk_faces_idx"][8]
    assert (opened - v0)[a["f"][chin], 1].mean() < -0.003  # the chin goes down by millimetres
    b = basis.reshape(2, -1).T
    d = (opened - v0).reshape(-1)
    resid = d - b @ np.linalg.lstsq(b, d, rcond=None)[0]
    assert np.abs(resid).max() < 1e-3 * np.abs(d).max()  # exact up to the small corrective products
    err = linearisation_error(a, basis, a["shapedirs"], n_shapes=2, angles=np.deg2rad([5.0, 25.0]))
    assert 0 <= err["mean_mm"][0] < err["mean_mm"][1] < err["opening_mm"][1]


def test_face_area_default_crop_mask_and_head(flame_dir):
    n_front = flame_dir["n_front"]
    head = import_flame(flame_dir["model"], flame_dir["landmarks"], area="head")
    face = import_flame(flame_dir["model"], flame_dir["landmarks"])
    masked = import_flame(flame_dir["model"], flame_dir["landmarks"], masks=flame_dir["masks"])
    inserted = head.num_vertices - 2 * n_front
    assert 0 < inserted <= 68
    # the flat back of the head is dropped by the default crop and by the mask
    assert face.mean[:, 2].min() > head.mean[:, 2].min() + 50
    assert masked.mean[:, 2].min() > head.mean[:, 2].min() + 50
    assert face.num_vertices < n_front + inserted and masked.num_vertices < n_front + inserted
    assert len(masked.regions["nose"]) > 0


class _Evil:
    def __reduce__(self):
        return os.system, ("true",)


def test_refuses_foreign_globals_and_names_problems(tmp_path, flame_dir):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"v_template": _Evil()}, protocol=2))
    with pytest.raises(InputFileError, match="refusing to load the global"):
        read_flame_model(evil)
    missing = tmp_path / "missing.pkl"
    missing.write_bytes(py2_pickle({"v_template": np.zeros((3, 3))}))
    with pytest.raises(InputFileError, match="'shapedirs' missing"):
        read_flame_model(missing)
    with pytest.raises(InputFileError, match="identity"):
        import_flame(flame_dir["model"], flame_dir["landmarks"], n_shape=301)


def test_face_area_keeps_the_eyeballs(tmp_path):
    p = write_flame_files(tmp_path, eyeballs=True)
    eyes = np.concatenate(list(p["eyeball_vertices"].values()))
    head = import_flame(p["model"], p["landmarks"], area="head")  # every vertex, in file order
    eyeball_mm = head.mean.double().numpy()[eyes]

    def kept(model):
        d = np.linalg.norm(model.mean.double().numpy()[None] - eyeball_mm[:, None], axis=-1)
        return int((d.min(axis=1) < 1e-3).sum())

    masked = import_flame(p["model"], p["landmarks"], masks=p["masks"])
    assert kept(masked) == len(eyes)  # outside the 'face' mask, kept with their own masks
    closed = np.isin(masked.faces.numpy(), np.flatnonzero(np.linalg.norm(
        masked.mean.double().numpy()[:, None] - eyeball_mm[None], axis=-1).min(axis=1) < 1e-3)).all(axis=1)
    assert closed.sum() == 16  # both octahedra whole: a rendered face has no holes for eyes
    # without the eyeball masks the same file's face area has no eyes: what the test would catch
    named = {k: v for k, v in read_masks(p["masks"]).items() if "eyeball" not in k}
    (tmp_path / "no_eyes.pkl").write_bytes(py2_pickle(named))
    assert kept(import_flame(p["model"], p["landmarks"], masks=tmp_path / "no_eyes.pkl")) == 0


def test_a_lazy_chumpy_expression_is_an_error_naming_the_key(tmp_path, flame_dir):
    a = read_flame_model(flame_dir["model"])
    lazy = {k: Ch(v) for k, v in a.items() if k != "J_regressor"}
    lazy["J_regressor"] = flame_dir["J_regressor"]
    lazy["shapedirs"] = add(a["shapedirs"], np.zeros_like(a["shapedirs"]))
    path = tmp_path / "lazy.pkl"
    path.write_bytes(py2_pickle(lazy))
    assert b"chumpy.ch_ops" in path.read_bytes()
    with pytest.raises(InputFileError, match=r"lazy.pkl.*key 'shapedirs' is a chumpy add expression.*ch\.r"):
        read_flame_model(path)
    lazy["shapedirs"] = Ch(a["shapedirs"])  # the same file with a stored array reads
    path.write_bytes(py2_pickle(lazy))
    np.testing.assert_array_equal(read_flame_model(path)["shapedirs"], a["shapedirs"])


def test_jaw_opening_is_one_sided_in_the_model_file(tmp_path, flame_dir):
    m = import_flame(flame_dir["model"], flame_dir["landmarks"], masks=flame_dir["masks"], n_shape=20, n_exp=10)
    j1, j2 = m.exp_names.index("jaw_open_1"), m.exp_names.index("jaw_open_2")
    b = m.exp_bounds.numpy()
    assert b[j1].tolist() == [0.0, np.inf]  # opens, never closes past neutral
    assert np.isinf(np.delete(b, j1, axis=0)).all()  # FLAME's own components and jaw_open_2: unbounded
    back = MorphableModel.load(save_model(m, tmp_path / "flame.npz"))
    assert torch.equal(back.exp_bounds, m.exp_bounds)
    # every sampled face has its chin at or below neutral from jaw_open_1 (positive = open)
    chin = m.landmarks68[8]
    assert m.exp_basis[j1, chin, 1] < 0
    coeffs = back.sample(2000, torch.Generator().manual_seed(0))
    assert (coeffs.alpha_exp[:, j1] >= 0).all() and (coeffs.alpha_exp[:, j1] > 0.5).any()
    assert (coeffs.alpha_exp[:, j2] < 0).any()  # the second, the opening's curvature, is two-sided
    # the jaw without LBS weights (flame2023_no_jaw) states no bounds: the file is as before
    p = write_flame_files(tmp_path / "nojaw", name="flame2023_no_jaw.pkl", jaw=False, masks=False)
    assert import_flame(p["model"], p["landmarks"], n_shape=5, n_exp=5).own_exp_bounds is None
