import pytest
import torch

from photoface.nn.landmark_input import REGRESSION_FEATURES, LandmarkLinear, landmark_features, regression_features


def _face_points(n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return 40 + 50 * torch.rand(n, 68, 2, generator=g)


def test_landmark_features_drop_position_and_size_but_keep_them_for_the_pose():
    lm = _face_points()
    a = landmark_features(lm, 128)
    moved = landmark_features(lm * 0.5 + torch.tensor([10.0, -3.0]), 128)
    assert a.shape == (2, 68 * 2 + 3)
    assert torch.allclose(a[:, :136], moved[:, :136], atol=1e-5)  # shape part: translation/scale-free
    assert torch.allclose(a[:, :136].view(2, 68, 2).square().sum(-1).mean(-1), torch.ones(2))  # unit RMS radius
    assert torch.allclose(moved[:, 138] - a[:, 138], torch.log(torch.tensor(0.5)).expand(2), atol=1e-5)
    centre = lm.mean(1) * 0.5 + torch.tensor([10.0, -3.0])
    assert torch.allclose(moved[:, 136:138], centre / 128 - 0.5, atol=1e-5)
    with pytest.raises(ValueError, match="68, 2"):
        landmark_features(lm[:, :5], 128)


def test_regression_features_append_the_squared_shape_numbers():
    lm = _face_points()
    f = regression_features(lm, 128)
    base = landmark_features(lm, 128)
    assert f.shape == (2, REGRESSION_FEATURES) == (2, 139 + 136)
    assert torch.equal(f[:, :139], base)
    assert torch.allclose(f[:, 139:], base[:, :136].square())


def test_landmark_linear_is_the_installed_affine_map_of_standardised_features():
    lin = LandmarkLinear(128, id_dim=3, exp_dim=2, pose_dim=6)
    lm = _face_points(4)
    n = lin.FEATURES
    assert n == REGRESSION_FEATURES + 136 * lin.POSE_TERMS
    assert all(torch.count_nonzero(c) == 0 for c in lin(lm))  # starts at zero: adds nothing
    g = torch.Generator().manual_seed(0)
    centre, directions = torch.randn(136, generator=g), torch.randn(lin.POSE_TERMS, 136, generator=g)
    lin.set_pose_terms(centre, directions)
    base = regression_features(lm, 128)
    proxies = (base[:, :136] - centre) @ directions.T
    feats = lin.features(lm)
    assert torch.equal(feats[:, :REGRESSION_FEATURES], base)
    # products of every shape number with every proxy: shape number i, proxy j at i * POSE_TERMS + j
    assert torch.allclose(feats[:, REGRESSION_FEATURES:].view(4, 136, lin.POSE_TERMS),
                          base[:, :136, None] * proxies[:, None, :], atol=1e-5)
    mean, scale = torch.randn(n, generator=g), torch.rand(n, generator=g) + 0.5
    w, b = torch.randn(11, n, generator=g), torch.randn(11, generator=g)
    lin.set_regression(mean, scale, w, b)
    expect = ((feats - mean) / scale) @ w.T + b
    got = torch.cat(lin(lm), dim=1)
    assert [c.shape[1] for c in lin(lm)] == [3, 2, 6]
    assert torch.allclose(got, expect, rtol=1e-4, atol=1e-3)
    saved = set(lin.state_dict())
    assert {"feature_mean", "feature_scale", "pose_centre", "pose_directions"} <= saved  # the start travels with the weights
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_amp = torch.cat(lin(lm), dim=1)
    assert under_amp.dtype == torch.float32 and torch.allclose(under_amp, got)
    with pytest.raises(ValueError, match="regression must be"):
        lin.set_regression(mean, scale, w[:, :10], b)
    with pytest.raises(ValueError, match="positive"):
        lin.set_regression(mean, -scale, w, b)
    with pytest.raises(ValueError, match="pose terms"):
        lin.set_pose_terms(centre[:10], directions)
