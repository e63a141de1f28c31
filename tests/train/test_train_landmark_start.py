from types import SimpleNamespace

import numpy as np
import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.nn.landmark_input import LandmarkLinear
from photoface.render import code_from_pose, pose_from_code, project
from photoface.train.landmark_start import landmark_start
from support.runs import tiny_face_model

SIZE = 128


def _photos(model, n, seed):
    """n photos' (landmarks (n, 68, 2) px, alpha_id, alpha_exp, pose) of the tiny model, moderate poses."""
    g = torch.Generator().manual_seed(seed)
    a_id, a_exp = torch.randn(n, model.n_id, generator=g), torch.randn(n, model.n_exp, generator=g)
    angles = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([20.0, 50.0, 10.0])
    scale = (SIZE / 200) * (0.9 + 0.2 * torch.rand(n, 1, generator=g))
    shift = (torch.rand(n, 2, generator=g) - 0.5) * 10
    pose = torch.cat([angles, scale, shift], dim=1).double()
    verts = model.shape(a_id, a_exp).double()
    lm = project(verts[:, model.landmarks68], pose)[..., :2]
    return lm.numpy(), a_id.numpy(), a_exp.numpy(), pose.numpy()


class _Data:
    """The part of a training PhotoDataset that the start reads: labeled rows of ``people`` people."""

    def __init__(self, model, people, per_person, seed=0):
        lm, a_id, a_exp, pose = _photos(model, people * per_person, seed)
        self.rows = [SimpleNamespace(landmarks=lm[i], alpha_id=a_id[i], alpha_exp=a_exp[i], pose=pose[i])
                     for i in range(len(lm))]
        self.row_identities = [f"p{i // per_person}" for i in range(len(self.rows))]
        self.labeled = [True] * len(self.rows)
        self.n_id, self.n_exp = model.n_id, model.n_exp

    def row(self, i):
        return self.rows[i]

    def __len__(self):
        return len(self.rows)


def _net(id_dim=10, exp_dim=5):
    return SimpleNamespace(encoder=SimpleNamespace(landmark_linear=LandmarkLinear(SIZE, id_dim, exp_dim)))


def test_the_start_regresses_held_out_codes_and_poses_far_better_than_the_mean_face():
    model = tiny_face_model()
    net = _net()
    data = _Data(model, people=60, per_person=5)
    result = landmark_start(net, data, model, samples=2000, noise=0.5 / SIZE, copies=4, lambdas=(1e-4, 1e-2, 1.0), seed=0)
    assert result.photos == 300 and result.identities == 60 and result.samples == 2000
    assert set(result.cv_rms_mm) == {1e-4, 1e-2, 1.0} and result.lam == min(result.cv_rms_mm, key=result.cv_rms_mm.get)
    assert result.cv_rms_mm[result.lam] < 0.5 * result.mean_face_rms_mm

    lm, a_id, a_exp, pose = _photos(model, 100, seed=99)  # new people
    with torch.no_grad():
        c_id, c_exp, c_pose = net.encoder.landmark_linear(torch.as_tensor(lm, dtype=torch.float32))
    true = model.shape(torch.as_tensor(a_id), torch.as_tensor(a_exp))
    pred = model.shape(c_id[:, :model.n_id].double(), c_exp[:, :model.n_exp].double())
    mean_face_err = (true - model.mean).norm(dim=-1).mean()
    assert (pred - true).norm(dim=-1).mean() < 0.5 * mean_face_err
    assert torch.count_nonzero(c_id[:, model.n_id:]) == 0  # code entries the labels do not map stay 0
    yaw = pose_from_code(c_pose.double(), SIZE)[:, 1]
    assert (yaw - torch.as_tensor(pose[:, 1])).abs().mean() < 3.0  # degrees; the yaws spread over ±25°
    # the fit is the same every time (seeded noise, float64 solve)
    again = _net()
    landmark_start(again, data, model, samples=2000, noise=0.5 / SIZE, copies=4, lambdas=(1e-4, 1e-2, 1.0), seed=0)
    assert torch.equal(again.encoder.landmark_linear.linear.weight, net.encoder.landmark_linear.linear.weight)
    assert torch.allclose(code_from_pose(pose_from_code(c_pose.double(), SIZE), SIZE), c_pose.double(), atol=1e-5)


def test_the_start_needs_labeled_photos_of_two_people_and_the_linear_map():
    model = tiny_face_model()
    one = _Data(model, people=1, per_person=6)
    with pytest.raises(PhotofaceError, match="photoface fit"):
        landmark_start(_net(), one, model, samples=100, noise=0.0, copies=1, lambdas=(1.0,))
    two = _Data(model, people=2, per_person=3)
    with pytest.raises(PhotofaceError, match="landmark_linear"):
        landmark_start(SimpleNamespace(encoder=SimpleNamespace(landmark_linear=None)), two, model, samples=100,
                       noise=0.0,
                       copies=1, lambdas=(1.0,))
    result = landmark_start(_net(), two, model, samples=100, noise=0.0, copies=1, lambdas=(1.0,))
    assert result.photos == 6 and np.isfinite(result.cv_rms_mm[1.0])


def test_the_summed_statistics_solve_the_same_ridge_as_the_rows_and_subtract_exactly():
    from photoface.train.landmark_start import _Stats

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * [1, 2, 3, 4, 5] + [0, 1, 2, 3, 4]
    y = x @ rng.normal(size=(5, 2)) + rng.normal(size=(200, 2)) * 0.1 + [1.0, -2.0]
    first, second = _Stats.of(x[:120], y[:120]), _Stats.of(x[120:], y[120:])
    everything = first + second
    mean, scale = everything.standardisation()
    assert np.allclose(mean, x.mean(0)) and np.allclose(scale, x.std(0), atol=1e-5)
    lam = 0.05
    z = (x[:120] - mean) / scale
    zc, yc = z - z.mean(0), y[:120] - y[:120].mean(0)
    w_rows = np.linalg.solve(zc.T @ zc + lam * 120 * np.eye(5), zc.T @ yc)
    b_rows = y[:120].mean(0) - z.mean(0) @ w_rows
    w, b = (everything - second).solve(mean, scale, lam)
    assert np.allclose(w, w_rows) and np.allclose(b, b_rows)
