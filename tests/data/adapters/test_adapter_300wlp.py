"""300W-LP adapter on fixture files written in the dataset's exact format (scipy.io.savemat)."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from photoface.data.adapters.w300lp import (
    LabelUnits,
    convert_labels,
    find_pairs,
    identity_of,
    label_units,
    prepare_300wlp,
    read_record,
    rotation_3ddfa,
)
from photoface.data.prepare.pipeline import PrepareOptions
from photoface.errors import InputFileError

V = 120
H = 450


def _bfm(seed=0):
    """A tiny BFM-like model in BFM units (µm), and the MorphableModel an importer makes of it."""
    from photoface.facemodel import MorphableModel, canonical_origin

    rng = np.random.default_rng(seed)
    # a face-sized cloud: x ±70 mm, y ±90 mm, z 0..100 mm, BFM's axes, µm, off-centre origin
    shape_mu = (rng.uniform([-70, -90, 0], [70, 90, 100], (V, 3)) + [5, 20, -40]) * 1000
    shape_pc = np.linalg.qr(rng.normal(size=(3 * V, 199)))[0]  # unit-norm columns
    shape_ev = np.geomspace(8e4, 1e3, 199)
    exp_pc = np.linalg.qr(rng.normal(size=(3 * V, 29)))[0]
    exp_ev = np.geomspace(3e4, 5e2, 29)
    lm = np.arange(68)
    mean_mm = shape_mu / 1000
    origin = canonical_origin(mean_mm, lm)
    id_basis = (shape_pc * shape_ev).T.reshape(199, V, 3) / 1000
    exp_basis = (exp_pc * exp_ev).T.reshape(29, V, 3) / 1000
    faces = np.array([[i, i + 1, i + 2] for i in range(V - 2)])
    model = MorphableModel(mean_mm - origin, id_basis, exp_basis, np.full((V, 3), 0.6),
                           np.zeros((1, V, 3)), faces, lm, np.arange(V))
    return dict(mu=shape_mu, pc=shape_pc, ev=shape_ev, epc=exp_pc, eev=exp_ev), model


def _project_3ddfa(bfm, shape_para, exp_para, pose_para):
    """The 3DDFA camera as its MATLAB code applies it: 1-based pixel coordinates."""
    v = (bfm["mu"].ravel() + bfm["pc"] @ shape_para + bfm["epc"] @ exp_para).reshape(V, 3)
    pitch, yaw, roll, tx, ty, _tz, s = pose_para
    p = s * v @ rotation_3ddfa(pitch, yaw, roll).T + [tx, ty, 0]
    return np.stack([p[:, 0], H + 1 - p[:, 1]], axis=1)


def _write_sample(folder, name, bfm, rng, yaw=0.3):
    shape_para = bfm["ev"] * rng.normal(size=199)
    exp_para = bfm["eev"] * rng.normal(size=29) * 0.5
    pose_para = np.array([0.1, yaw, -0.15, 220.0, 230.0, 0.0, 0.0016])
    pts = _project_3ddfa(bfm, shape_para, exp_para, pose_para)
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / f"{name}.mat", {
        "pt2d": pts[:68].T, "Pose_Para": pose_para[None], "Shape_Para": shape_para[:, None],
        "Exp_Para": exp_para[:, None], "Color_Para": np.zeros((1, 7)), "Illum_Para": np.zeros((1, 10)),
        "Tex_Para": np.zeros((199, 1)), "roi": np.array([[100.0, 100.0, 350.0, 350.0]]),
    })
    img = np.full((H, H, 3), (190, 150, 130), np.uint8)
    img[:60] = (40, 40, 60)
    Image.fromarray(img).save(folder / f"{name}.jpg", quality=90)
    return shape_para, exp_para, pose_para, pts


def test_labels_reproduce_the_3ddfa_projection_of_every_vertex(tmp_path):
    bfm, model = _bfm()
    units = LabelUnits(bfm["ev"])
    rng = np.random.default_rng(3)
    for yaw in (-0.9, 0.0, 0.6):
        shape_para, exp_para, pose_para, pts = _write_sample(tmp_path, "AFW_1_1_0", bfm, rng, yaw)
        rec = read_record(tmp_path / "AFW_1_1_0.mat")
        np.testing.assert_allclose(rec.landmarks, pts[:68] - 0.5)
        labels = convert_labels(rec, model, units)
        np.testing.assert_allclose(labels["alpha_id"] * bfm["ev"], shape_para)
        # the fixture model's expression basis is 300W-LP's, so the landmark fit recovers its
        # leading (well-determined) components; the prior shrinks the small ones
        np.testing.assert_allclose(labels["alpha_exp"][:5], (exp_para / bfm["eev"])[:5], atol=0.1)
        from photoface.render.camera import project

        shape = model.shape(torch.tensor(labels["alpha_id"])[None].float(),
                            torch.tensor(labels["alpha_exp"])[None].float()).double()
        ours = project(shape, torch.tensor(labels["pose"])[None])[0, :, :2].numpy()
        # inner landmarks (fitted) closely, every other vertex within the expression fit's error
        inner_err = np.linalg.norm(ours[17:68] - (pts[17:68] - 0.5), axis=1)
        assert inner_err.mean() < 0.5 and inner_err.max() < 1.5  # px, on a ~250 px face
        assert np.abs(ours - (pts - 0.5)).max() < 2.0
        # our yaw has the camera's sign convention: 3DDFA's yaw turns the other way round our y axis
        assert np.sign(labels["pose"][1]) == -np.sign(yaw) or yaw == 0


def test_prepare_excludes_flips_groups_views_and_reports_bad_mat(tmp_path):
    bfm, model = _bfm()
    from photoface.facemodel import save_model

    save_model(model, tmp_path / "bfm.npz")
    savemat(tmp_path / "01_MorphableModel.mat", {"shapeEV": bfm["ev"][:, None], "shapeMU": bfm["mu"].reshape(-1, 1)})
    root = tmp_path / "300W_LP"
    rng = np.random.default_rng(0)
    _write_sample(root / "AFW", "AFW_134212_1_0", bfm, rng)
    _write_sample(root / "AFW", "AFW_134212_1_4", bfm, rng, yaw=0.7)
    _write_sample(root / "HELEN", "HELEN_2_1_0", bfm, rng)
    _write_sample(root / "AFW_Flip", "AFW_134212_1_0", bfm, rng)
    (root / "landmarks" / "AFW").mkdir(parents=True)
    savemat(root / "landmarks" / "AFW" / "AFW_134212_1_0_pts.mat", {"pts_2d": np.zeros((68, 2))})
    Image.new("RGB", (H, H)).save(root / "IBUG" / "bad.jpg") if (root / "IBUG").mkdir() is None else None
    savemat(root / "IBUG" / "bad.mat", {"pt2d": np.zeros((2, 10))})
    assert [p[0].relative_to(root).as_posix() for p in find_pairs(root)] == [
        "AFW/AFW_134212_1_0.jpg", "AFW/AFW_134212_1_4.jpg", "HELEN/HELEN_2_1_0.jpg", "IBUG/bad.jpg"]

    ds = prepare_300wlp(root, tmp_path / "out", PrepareOptions(image_size=64), model=tmp_path / "bfm.npz",
                        bfm=tmp_path / "01_MorphableModel.mat", progress=False)
    assert len(ds) == 3
    assert {r.identity for r in ds} == {"AFW_134212_1", "HELEN_2_1"}
    assert all(r.labeled and r.split == "train" for r in ds)
    assert ds.meta.face_model == "bfm.npz" and ds.meta.face_model_hash
    assert all(len(r.extra["exp_para_300wlp"]) == 29 for r in ds)
    report = (tmp_path / "out" / "prepare_report.tsv").read_text()
    assert "IBUG/bad.jpg\tskipped: 'pt2d' has shape (2, 10)" in report
    # the stored pose is in crop pixels: projecting the labeled shape lands on the crop landmarks
    from photoface.render.camera import project

    for row in ds:
        shape = model.shape(torch.tensor(row.alpha_id)[None].float(), torch.tensor(row.alpha_exp)[None].float())
        lm = project(shape.double()[:, model.landmarks68], torch.tensor(row.pose)[None])[0, :, :2].numpy()
        np.testing.assert_allclose(lm, row.landmarks, atol=0.05)


def test_labels_refuse_a_builtin_model(tmp_path):
    from photoface.errors import PhotofaceError

    with pytest.raises(PhotofaceError, match="import-bfm"):
        prepare_300wlp(tmp_path, tmp_path / "out", model="builtin:demo", bfm=tmp_path / "bfm.mat", progress=False)


def test_identity_names_and_bad_files(tmp_path):
    assert identity_of("AFW_1051618982_1_0") == "AFW_1051618982_1"
    assert identity_of("LFPW_image_test_0001_12") == "LFPW_image_test_0001"
    (tmp_path / "x.mat").write_text("not matlab")
    with pytest.raises(InputFileError, match="not a readable MATLAB file"):
        read_record(tmp_path / "x.mat")
    savemat(tmp_path / "y.mat", {"pt2d": np.zeros((2, 68)), "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(InputFileError, match="missing variable 'Shape_Para'"):
        read_record(tmp_path / "y.mat")
    savemat(tmp_path / "bfm.mat", {"shapeMU": np.zeros((3, 1))})
    with pytest.raises(InputFileError, match="'shapeEV' missing"):
        label_units(tmp_path / "bfm.mat")
