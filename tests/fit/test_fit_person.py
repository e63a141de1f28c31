import numpy as np
import pytest
import torch

from photoface.facemodel.model import MorphableModel
from photoface.fit.collection import make_batch
from photoface.fit.config import FitConfig
from photoface.fit.person import fit_person

from .conftest import SIZE, render_person, rms

FAST = FitConfig(light_iterations=6, photo_iterations=8)


@pytest.mark.slow
def test_recovers_pose_and_identity_of_a_known_person(tiny_model, known_person):
    alpha_id, photos = known_person
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, FAST)
    res = fit_person(tiny_model, batch, FAST)
    codes = res.params.codes()
    yaw_err = np.abs(codes["pose"][:, 1] - photos["pose"][:, 1].numpy())
    assert yaw_err.max() < 3.0, yaw_err
    true_neutral = tiny_model.shape(alpha_id)[0].numpy()
    mean = tiny_model.mean.numpy()
    fitted = res.params.neutral_shape()[0].numpy()
    # the shared identity is much closer to the truth than the mean face is
    assert rms(fitted, true_neutral) < 0.5 * rms(mean, true_neutral)
    assert res.nme.max() < 0.02 and not res.failures and not res.notes
    # every stage ran and the render stages lowered their objective
    assert set(res.history) == {"landmarks", "light", "all"}
    assert res.history["light"][1] < res.history["light"][0]


def test_joint_fit_beats_each_photo_alone(tiny_model, known_person):
    alpha_id, photos = known_person
    cfg = FitConfig(light_iterations=0, photo_iterations=0)
    true_neutral = tiny_model.shape(alpha_id)[0].numpy()
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, cfg)
    joint = rms(fit_person(tiny_model, batch, cfg).params.neutral_shape()[0].numpy(), true_neutral)
    alone = []
    for i in range(len(batch)):
        one = make_batch(photos["images"][i:i + 1], photos["masks"][i:i + 1], photos["landmarks"][i:i + 1], None, cfg)
        res = fit_person(tiny_model, one, cfg)
        assert res.notes and "one photo" in res.notes[0]
        alone.append(rms(res.params.neutral_shape()[0].numpy(), true_neutral))
    assert joint < np.mean(alone)


def _blendshape_no_albedo(model):
    return MorphableModel(model.mean, model.id_basis, model.exp_basis.abs() * 2, model.tex_mean,
                          np.zeros((0, model.num_vertices, 3)), model.faces, model.landmarks68, model.mirror,
                          name="tiny-ict-like", exp_kind="blendshape")


@pytest.mark.slow
def test_blendshape_model_without_albedo_modes_fits_within_its_domain(tiny_model):
    model = _blendshape_no_albedo(tiny_model)
    photos = render_person(model, torch.zeros(1, model.n_id), yaws=(-20.0, 20.0))
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, FAST)
    res = fit_person(model, batch, FAST)
    codes = res.params.codes()
    assert "beta" not in codes and res.params.albedo_offset is not None
    assert codes["alpha_exp"].min() >= 0.0 and codes["alpha_exp"].max() <= 1.0
    assert np.isfinite(res.params.albedo().numpy()).all() and not res.failures


def test_photo_with_wrong_landmarks_is_reported(tiny_model, known_person):
    _, photos = known_person
    lm = photos["landmarks"].copy()
    rng = np.random.default_rng(0)
    lm[1] = rng.uniform(0, SIZE, size=(68, 2))  # landmarks of no face at all
    cfg = FitConfig(light_iterations=0, photo_iterations=0)
    res = fit_person(tiny_model, make_batch(photos["images"], photos["masks"], lm, None, cfg), cfg)
    assert list(res.failures) == [1] and "landmarks far off" in res.failures[1]


def _write_obj(path, verts, faces=None):
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    if faces is not None:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_model_from_the_ict_importer_fits(tiny_model, tmp_path):
    """An ICT-FaceKit folder (cm, blendshape OBJs, no albedo) written from the tiny model, imported
    by ``import_ict``, then fitted: the real-model importer's path end to end."""
    import json

    from photoface.facemodel.ict import import_ict

    cm = tiny_model.mean.double().numpy() / 10.0
    _write_obj(tmp_path / "generic_neutral_mesh.obj", cm, faces=tiny_model.faces.numpy())
    for k in range(3):
        _write_obj(tmp_path / f"identity{k:03d}.obj", cm + tiny_model.id_basis[k].double().numpy() / 10.0)
    names = ["jawOpen", "eyeBlink_L"]
    for k, name in enumerate(names):
        _write_obj(tmp_path / f"{name}.obj", cm + tiny_model.exp_basis[k].abs().double().numpy() / 5.0)
    (tmp_path / "vertex_indices.json").write_text(json.dumps(
        {"expressions": names, "idx_to_landmark_verts": tiny_model.landmarks68.tolist()}))
    model = import_ict(tmp_path, face_vertices=len(cm))
    assert model.exp_kind == "blendshape" and model.n_tex == 0
    photos = render_person(model, torch.ones(1, model.n_id), yaws=(-25.0, 0.0, 25.0))
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, FAST)
    res = fit_person(model, batch, FAST)
    assert not res.failures and res.nme.max() < 0.03
    assert 0.0 <= res.params.codes()["alpha_exp"].min() and res.params.codes()["alpha_exp"].max() <= 1.0
