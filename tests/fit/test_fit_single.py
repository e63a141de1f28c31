import numpy as np
import torch

from photoface.fit.collection import fit_singles, make_batch
from photoface.fit.config import FitConfig
from photoface.fit.person import fit_person
from photoface.fit.single import fit_photo_identities

from .conftest import render_person, rms

FAST = FitConfig(light_iterations=4, photo_iterations=4, landmark_iterations=10, single_photo_iterations=0)


def _two_people_as_one(model):
    """4 photos labelled as one person, but photos 0-1 and 2-3 show two different identities."""
    ids = torch.tensor([[2.0, -1.5, 1.0, 1.5, -1.0, 0.5, -2.0, 1.0],
                        [-2.0, 1.5, -1.5, -1.0, 1.5, -0.5, 2.0, -1.0]])[:, : model.n_id]
    a = render_person(model, ids[:1], yaws=(-20.0, 15.0), seed=1)
    b = render_person(model, ids[1:], yaws=(-10.0, 25.0), seed=2)
    cat = {k: (np.concatenate if isinstance(a[k], np.ndarray) else torch.cat)([a[k], b[k]]) for k in a}
    return ids[[0, 0, 1, 1]], cat


def test_single_fits_start_from_the_joint_fit_not_its_identity(tiny_model, known_person):
    _, photos = known_person
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, FAST)
    joint = fit_person(tiny_model, batch, FAST)
    singles = fit_photo_identities(tiny_model, batch, joint, FAST)  # no Adam steps: the warm start itself
    for i, single in enumerate(singles):
        p = single.params
        # pose, light and albedo are the joint fit's for this photo
        assert torch.equal(p.pose_code[0], joint.params.pose_code[i])
        assert torch.equal(p.light[0], joint.params.light[i])
        assert torch.equal(p.beta, joint.params.beta)
    # the identity is the photo's own: it does not move with the joint fit's shared identity
    with torch.no_grad():
        joint.params.alpha_id.add_(1.0)
    again = fit_photo_identities(tiny_model, batch, joint, FAST)
    for a, b in zip(singles, again):
        np.testing.assert_allclose(a.params.identity_vector(), b.params.identity_vector(), atol=1e-4)


def test_each_photo_gets_its_own_identity_closer_to_its_truth(tiny_model):
    truth, photos = _two_people_as_one(tiny_model)
    cfg = FitConfig(light_iterations=4, photo_iterations=4, landmark_iterations=10, single_photo_iterations=5)
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, cfg)
    joint = fit_person(tiny_model, batch, cfg)
    from photoface.render.renderer import Renderer

    singles = fit_singles(tiny_model, batch, joint, cfg, renderer=Renderer(tiny_model.faces, batch.image_size))
    vectors = np.stack([s.params.identity_vector() for s in singles])
    assert len({tuple(v) for v in vectors}) == len(singles)
    shared = joint.params.neutral_shape()[0].numpy()
    for single, true_id in zip(singles, truth):
        true_neutral = tiny_model.shape(true_id[None])[0].numpy()
        assert rms(single.params.neutral_shape()[0].numpy(), true_neutral) < rms(shared, true_neutral)
        assert not single.failures and single.history["single"][1] < single.history["single"][0]


def test_the_landmark_solve_uses_every_point_of_the_joint_fit(tiny_model, known_person):
    """With extra (MediaPipe-like) points in the batch, the per-photo solve fits all of them and
    the results are judged on the 68 landmarks, as the joint fit's."""
    from photoface.fit.point_vertices import FitPoints
    from photoface.render.camera import project

    alpha_id, photos = known_person
    extra = torch.tensor([40, 200, 420, 610, 800])
    points = FitPoints(torch.cat([tiny_model.landmarks68.cpu().long(), extra]), np.arange(1, 6))
    pts = []
    for b in range(len(photos["pose"])):
        full = np.zeros((478, 2))
        full[points.mediapipe_ids] = project(photos["verts"][b:b + 1, extra], photos["pose"][b:b + 1])[0, :, :2]
        pts.append(full)
    cfg = FitConfig(light_iterations=0, photo_iterations=0, landmark_iterations=10, single_photo_iterations=0,
                    contour="off")
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, cfg, points=pts,
                       fit_points=points)
    assert batch.landmarks.shape[1] == 68 + len(extra)
    joint = fit_person(tiny_model, batch, cfg, points=points)
    singles = fit_photo_identities(tiny_model, batch, joint, cfg, points=points)
    true_neutral = tiny_model.shape(alpha_id)[0].numpy()
    mean = tiny_model.mean.numpy()
    for single in singles:
        assert single.landmarks2d.shape == (1, 68, 2) and single.nme[0] < 0.02 and not single.failures
        assert rms(single.params.neutral_shape()[0].numpy(), true_neutral) < rms(mean, true_neutral)
