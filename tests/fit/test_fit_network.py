"""NetworkParametrisation: a trained run's codes as the fit's unknowns (test-time refinement)."""

import numpy as np
import pytest
import torch

from photoface.data.format import load_dataset
from photoface.fit import FitConfig, fit_person, make_batch
from photoface.fit.network import NetworkParametrisation
from photoface.run.inference import load_trained


def _person(tiny_run, n):
    ds = load_dataset(tiny_run["data"])
    rows = [r for r in ds.rows if r.identity == ds.rows[0].identity][:n]
    images = torch.stack([ds.load_image(r) for r in rows])
    masks = torch.stack([ds.load_mask(r) for r in rows])
    batch = make_batch(images, masks, np.stack([r.landmarks for r in rows]), None, FitConfig())
    return images, batch


@pytest.mark.parametrize("source", ["stage1", "run"])
def test_decodes_what_the_network_predicts(tiny_run, source):
    trained = load_trained(tiny_run[source])
    images, batch = _person(tiny_run, 1)
    out = trained.predict(images, landmarks=batch.landmarks)
    params = NetworkParametrisation.from_encoder(trained, images, FitConfig(), landmarks=batch.landmarks)
    with torch.no_grad():
        d = params.decode()
    torch.testing.assert_close(d.shape, out.shape.float())
    torch.testing.assert_close(d.pose, out.pose.float())
    torch.testing.assert_close(d.light, out.light.float())
    torch.testing.assert_close(d.albedo, trained.vertex_albedo(out).float().clamp(0, 1), atol=1e-5, rtol=0)
    assert set(p for p, _ in params.named_parameters()) == {"id_code", "exp_code", "pose_code", "light",
                                                             "albedo_offset"}


def test_identity_is_the_mean_code_and_priors_start_at_zero(tiny_run):
    trained = load_trained(tiny_run["stage1"])
    images, batch = _person(tiny_run, 3)
    out = trained.predict(images, landmarks=batch.landmarks)
    params = NetworkParametrisation.from_encoder(trained, images, FitConfig(), landmarks=batch.landmarks)
    np.testing.assert_allclose(params.identity_vector(), out.id_code.float().mean(0).numpy(), atol=1e-6)
    assert all(float(v.detach()) == 0.0 for v in params.priors().values())


def test_zero_iterations_keep_the_encoder_codes(tiny_run):
    trained = load_trained(tiny_run["run"])
    images, batch = _person(tiny_run, 1)
    cfg = FitConfig(light_iterations=0, photo_iterations=0)
    params = NetworkParametrisation.from_encoder(trained, images, cfg, landmarks=batch.landmarks)
    fit = fit_person(trained.face_model, batch, cfg, params=params, renderer=trained.net.renderer)
    out = trained.predict(images, landmarks=batch.landmarks)
    torch.testing.assert_close(fit.params.decode().shape.detach(), out.shape.float())
    np.testing.assert_allclose(fit.landmarks2d, out.landmarks2d.double().numpy(), atol=1e-3)
    assert "landmarks" not in fit.history  # the refinement skips the landmark-only stage


def test_refinement_lowers_the_objective(tiny_run):
    trained = load_trained(tiny_run["run"])
    images, batch = _person(tiny_run, 2)
    cfg = FitConfig(light_iterations=5, photo_iterations=15)
    params = NetworkParametrisation.from_encoder(trained, images, cfg, landmarks=batch.landmarks)
    fit = fit_person(trained.face_model, batch, cfg, params=params, renderer=trained.net.renderer)
    first, last = fit.history["all"]
    assert last < first
    assert fit.history["light"][1] < fit.history["light"][0]
    for p in trained.net.parameters():
        assert p.grad is None  # the network's weights are not unknowns
