"""Unit tests of the synthetic-photo building blocks: raster primitives, occluder compositing,
degradations, the linear fit, identity detail, scene sampling and the head's shading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photoface.data.format import SETTINGS
from photoface.data.synth.degrade import Degradation, degrade, jpeg_roundtrip
from photoface.data.synth.fit import LinearFitter, fitted_pose
from photoface.data.synth.head import _lit
from photoface.data.synth.identity import DetailSpace, detail_field
from photoface.data.synth.occluders import (
    OCCLUDER_KINDS,
    FaceAnchors,
    composite,
    draw_occluders,
)
from photoface.data.synth.raster import Layer, ellipse, polyline
from photoface.data.synth.scene import (
    SETTING_SPECS,
    detector_noise,
    sample_expression,
    sample_light,
    sample_pose,
    sample_setting,
)
from photoface.facemodel.model import MorphableModel
from photoface.render.camera import project, rotation_matrix
from photoface.render.sh import default_light, sh_shading
from support.runs import jaw_like


def _random_model(v=60, k=6, l_exp=4, kind="pca", seed=0) -> MorphableModel:
    g = np.random.default_rng(seed)
    mean = g.normal(0, 40, (v, 3))
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    return MorphableModel(mean, g.normal(0, 2, (k, v, 3)), g.normal(0, 2, (l_exp, v, 3)),
                          np.full((v, 3), 0.5), g.normal(0, 0.02, (2, v, 3)), faces,
                          np.arange(68) % v, np.arange(v), exp_kind=kind)


# ------------------------------------------------------------------ raster + compositing
def test_ellipse_area_ring_hole_and_heights():
    layer = Layer(64)
    ellipse(layer, 32, 32, 10, 6, 0.3, (1, 0, 0), 5.0)
    assert layer.alpha.sum() == pytest.approx(np.pi * 60, rel=0.05)
    assert np.all(layer.height[layer.alpha > 0.5] == 5.0)
    ring = Layer(64)
    ellipse(ring, 32, 32, 10, 10, 0.0, (1, 1, 1), 0.0, ring=2.0)
    assert ring.alpha[32, 32] == 0
    assert ring.alpha.sum() == pytest.approx(2 * np.pi * 10 * 2, rel=0.1)
    holed = Layer(64)
    ellipse(holed, 32, 32, 10, 10, 0.0, (1, 1, 1), 0.0, hole=(32, 32, 5, 5, 0.0))
    assert holed.alpha[31, 31] == 0 and holed.alpha.sum() == pytest.approx(np.pi * 75, rel=0.08)


def test_polyline_interpolates_height_along_the_stroke():
    layer = Layer(64)
    polyline(layer, np.array([[8.0, 32.0], [56.0, 32.0]]), 3.0, (0, 1, 0), [0.0, 48.0])
    assert layer.alpha[31, 8:56].min() > 0.99
    assert layer.height[31, 32] == pytest.approx(24.0, abs=1.0)
    assert layer.height[31, 10] < layer.height[31, 50]


def test_composite_hides_face_only_where_the_occluder_is_in_front():
    size = 32
    img = np.zeros((size, size, 3), np.float32)
    cov = np.zeros((size, size), bool)
    cov[8:24, 8:24] = True
    depth = np.full((size, size), 10.0, np.float32)
    layer = Layer(size)
    layer.paint(slice(0, 32), slice(0, 16), np.ones((32, 16)), (1, 1, 1), 20.0)  # in front
    layer.paint(slice(0, 32), slice(16, 32), np.ones((32, 16)), (0, 1, 0), 5.0)  # behind
    out, occluded = composite(img, cov, depth, layer)
    assert occluded[8:24, 8:16].all() and not occluded[:, 16:].any()
    assert np.allclose(out[8:24, 16:24], 0.0)  # face stays in front of the far occluder
    assert np.allclose(out[0, 20], (0, 1, 0))  # off the face the far occluder shows
    faint = Layer(size)
    faint.paint(slice(0, 32), slice(0, 32), np.full((32, 32), 0.3), (1, 1, 1), 20.0)
    assert not composite(img, cov, depth, faint)[1].any()  # a faint tint is no occluder


def _anchors(size=128):
    # a frontal face: the iBUG layout of a ~150 mm wide face at f = size / 200
    f = size / 200
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([-70 * np.cos(t), -5 - 62 * np.sin(t)], 1)
    pts = np.concatenate([jaw, [(x, 44) for x in np.linspace(-54, 54, 10)],
                          [(0, y) for y in (36, 26, 16, 6)],
                          [(x, -2) for x in np.linspace(-12, 12, 5)],
                          [(-45 + 4.5 * k, 30 + (k % 3)) for k in range(6)],
                          [(18 + 4.5 * k, 30 + (k % 3)) for k in range(6)],
                          [(x, -25) for x in np.linspace(-25, 25, 12)],
                          [(x, -25) for x in np.linspace(-20, 20, 8)]])
    lm = np.stack([size / 2 + f * pts[:, 0], size / 2 - f * pts[:, 1]], 1)
    return FaceAnchors(lm=lm, height=np.full(68, 50 * f), f=f, skin=np.array([0.6, 0.45, 0.35]),
                       hair=np.array([0.1, 0.05, 0.02]))


@pytest.mark.parametrize("kind", OCCLUDER_KINDS)
def test_every_occluder_draws_in_front_of_the_face_near_its_anchor(kind):
    a = _anchors()
    layer = draw_occluders([kind], a, 128, np.random.default_rng(3), np.ones(3))
    drawn = layer.alpha > 0.5
    assert drawn.sum() > 20
    assert np.all(layer.height[drawn] >= 50 * a.f - 1e-3)  # glasses temples end at the ears
    ys, xs = np.nonzero(drawn)
    centre = np.array([xs.mean(), ys.mean()])
    assert np.hypot(*(centre - a.lm[30])) < 80  # around the face, not elsewhere


def test_glasses_cover_the_eyes_region():
    a = _anchors()
    layer = draw_occluders(["sunglasses"], a, 128, np.random.default_rng(0), np.ones(3))
    for eye in (a.r_eye, a.l_eye):
        assert layer.alpha[int(eye[1]), int(eye[0])] > 0.5


# ------------------------------------------------------------------ degradations
def test_degrade_is_deterministic_and_jpeg_is_close():
    img = np.random.default_rng(0).uniform(0.2, 0.8, (32, 32, 3)).astype(np.float32)
    d = Degradation(blur_sigma=0.8, motion_px=3, read_noise=0.02, shot_noise=0.01,
                    jpeg_quality=60)
    a = degrade(img, d, np.random.default_rng(5))
    b = degrade(img, d, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert np.array_equal(degrade(img, Degradation(), np.random.default_rng(0)), img)
    smooth = np.tile(np.linspace(0, 1, 32, dtype=np.float32)[None, :, None], (32, 1, 3))
    j = jpeg_roundtrip(smooth, 50)
    assert 0 < np.abs(j - smooth).max() < 0.1


def test_read_noise_has_the_requested_spread():
    img = np.full((128, 128, 3), 0.5, np.float32)
    out = degrade(img, Degradation(read_noise=0.03), np.random.default_rng(1))
    assert (out - img).std() == pytest.approx(0.03, rel=0.1)


# ------------------------------------------------------------------ linear fit
@pytest.mark.parametrize("kind", ["pca", "blendshape"])
def test_fit_recovers_linear_coefficients_and_pose(kind):
    model = _random_model(kind=kind)
    alpha = torch.tensor([[0.5, -1.0, 0.3, 0.0, 1.2, -0.4]])
    exp = torch.tensor([[0.6, 0.0, 0.9, 0.2]]) if kind == "blendshape" else torch.tensor(
        [[-1.0, 0.5, 0.0, 2.0]])
    shape = model.shape(alpha, exp)[0].double().numpy()
    # a small rigid offset of the true shape must end up in the pose, not in the coefficients
    q = rotation_matrix(torch.tensor([[0.02, -0.03, 0.01]], dtype=torch.float64))[0].numpy()
    moved = 1.01 * shape @ q.T + np.array([0.5, -0.3, 0.2])
    fit = LinearFitter(model, regularisation=1e-6, iterations=4).fit(moved)
    assert np.allclose(fit.alpha_id, alpha[0].numpy(), atol=2e-3)
    assert np.allclose(fit.alpha_exp, exp[0].numpy(), atol=2e-3)
    pose = np.array([5.0, 30.0, -10.0, 0.7, 60.0, 70.0])
    lbl = fitted_pose(pose, fit)
    a = project(torch.from_numpy(moved)[None], torch.from_numpy(pose)[None])
    b = project(torch.from_numpy(fit.shape.astype(np.float64))[None], torch.from_numpy(lbl)[None])
    assert (a[..., :2] - b[..., :2]).abs().max() < 0.02


def test_blendshape_fit_labels_stay_weights_in_the_unit_interval():
    model = _random_model(kind="blendshape")
    # the negative of an expression and an exaggerated one: the unconstrained least squares
    # answers are -0.8 and 2.5; a blendshape label must stay a weight
    shape = model.shape(None, torch.tensor([[-0.8, 0.0, 2.5, 0.0]]))[0].double().numpy()
    fit = LinearFitter(model, regularisation=1e-6).fit(shape)
    assert fit.alpha_exp.min() >= 0.0 and fit.alpha_exp.max() <= 1.0
    assert fit.alpha_exp[0] == 0.0 and fit.alpha_exp[2] == 1.0


def test_one_sided_fit_label_never_closes_the_jaw_and_the_rest_is_refitted():
    model = _random_model()
    with torch.no_grad():  # correlated with expression 0, so the others can partly stand in for it
        model.exp_basis[1] = 0.8 * model.exp_basis[0] + 0.6 * model.exp_basis[1]
    jaw = jaw_like(model, 1)  # expression 1 is one-sided, as FLAME's jaw_open_1
    alpha = torch.tensor([[0.5, -1.0, 0.3, 0.0, 0.8, -0.2]])
    closed_past_neutral = model.shape(alpha, torch.tensor([[0.7, -1.5, 0.4, -0.3]]))[0].double().numpy()
    free = LinearFitter(model, regularisation=1e-6).fit(closed_past_neutral)
    assert free.alpha_exp[1] == pytest.approx(-1.5, abs=1e-3)  # an unbounded label closes the jaw
    fit = LinearFitter(jaw, regularisation=1e-6).fit(closed_past_neutral)
    assert fit.alpha_exp[1] == 0.0
    # the identity and the other expressions are re-solved with the jaw held at 0: the fit is as
    # close as the best least squares with the jaw at 0 (the similarity may only bring it closer)
    base = torch.cat([model.id_basis, model.exp_basis[[0, 2, 3]]]).reshape(9, -1).double().numpy()
    r = closed_past_neutral.reshape(-1) - model.mean.double().numpy().reshape(-1)
    best = np.linalg.norm(base.T @ np.linalg.lstsq(base.T, r, rcond=None)[0] - r)
    placed = fit.scale * fit.shape.astype(np.float64) @ fit.rotation.T + fit.translation
    assert np.linalg.norm(placed - closed_past_neutral) <= best * 1.001
    kept = np.r_[free.alpha_id, 0.0, free.alpha_exp[[0, 2, 3]]]  # clipping alone, nothing re-solved
    lone = torch.cat([model.id_basis, model.exp_basis[[1, 0, 2, 3]]]).reshape(10, -1).double().numpy()
    assert np.linalg.norm(lone.T @ kept - r) > 1.5 * best
    opened = model.shape(alpha, torch.tensor([[0.7, 1.2, 0.4, -0.3]]))[0].double().numpy()
    assert LinearFitter(jaw, regularisation=1e-6).fit(opened).alpha_exp[1] == pytest.approx(1.2, abs=1e-3)


# ------------------------------------------------------------------ identities
def test_detail_is_outside_the_linear_model_and_pose():
    model = _random_model(v=80)
    space = DetailSpace(model)
    g = np.random.default_rng(0)
    pts = model.mean.numpy()
    normals = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    raw = detail_field(g, pts, normals, np.arange(80))
    d = space.remove(raw)
    assert np.sqrt((d ** 2).sum(1).mean()) > 0.2
    basis = torch.cat([model.id_basis, model.exp_basis]).reshape(10, -1).double().numpy()
    assert np.abs(basis @ d.reshape(-1)).max() < 1e-6 * np.abs(basis).sum(1).max()
    assert np.abs(d.sum(0)).max() < 1e-6  # no translation
    assert np.abs(np.cross(pts, d).sum(0)).max() < 1e-6  # no rotation about the origin


# ------------------------------------------------------------------ scenes
@pytest.mark.parametrize("setting", SETTINGS)
def test_pose_ranges_grow_with_the_setting(setting):
    spec = SETTING_SPECS[setting]
    g = np.random.default_rng(0)
    poses = np.stack([sample_pose(g, spec, 128) for _ in range(400)])
    assert np.abs(poses[:, 1]).max() <= spec.yaw and np.abs(poses[:, 1]).max() > 0.9 * spec.yaw
    assert np.abs(poses[:, 0]).max() <= spec.pitch and np.abs(poses[:, 2]).max() <= spec.roll
    assert np.all(np.abs(poses[:, 3] / (128 / 200) - 1) <= 0.085)
    assert SETTING_SPECS["outdoor"].yaw == 75


def test_test_photos_cycle_through_all_settings():
    g = np.random.default_rng(0)
    assert [sample_setting(g, j, test=True) for j in range(3)] == list(SETTINGS)
    train = {sample_setting(g, j, test=False) for j in range(60)}
    assert train == set(SETTINGS)


def test_outdoor_light_includes_hard_side_and_coloured_light():
    g = np.random.default_rng(0)
    side = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    ratios, colour = [], []
    for _ in range(100):
        total = torch.from_numpy(sample_light(g, SETTING_SPECS["outdoor"])) + default_light(
            dtype=torch.float64)
        e = sh_shading(side, total[None])  # (2, 3)
        lum = e.mean(1).clamp_min(1e-3)
        ratios.append(float(lum.max() / lum.min()))
        dc = total.reshape(3, 9)[:, 0]
        colour.append(float(dc.max() / dc.min()))
    assert max(ratios) > 5  # one cheek many times brighter than the other
    assert max(colour) > 1.2  # visibly tinted


def test_expressions_are_sparse():
    g = np.random.default_rng(0)
    blend = np.stack([sample_expression(g, 35, "blendshape", 0.3) for _ in range(200)])
    nonzero = (blend > 0).sum(1)
    assert nonzero.max() <= 3 and (nonzero == 0).mean() > 0.15 and blend.max() <= 1 and blend.min() >= 0
    pca = np.stack([sample_expression(g, 40, "pca", 0.3) for _ in range(200)])
    assert np.all(pca[:, 20:] == 0) and np.abs(pca).max() <= 2.5 + 0.15 * 6


def test_expressions_honour_one_sided_bounds_and_keep_their_bytes_without():
    inf = np.inf
    flame_like = np.tile(np.array([-inf, inf], np.float32), (52, 1))
    flame_like[50, 0] = 0.0  # 50 FLAME components + jaw_open_1 (one-sided) + jaw_open_2
    g = np.random.default_rng(0)
    e = np.stack([sample_expression(g, 52, "pca", 0.3, flame_like) for _ in range(1000)])
    assert (e[:, 50] >= 0).all()  # the jaw never closes past neutral
    assert 0.08 < (e[:, 50] >= 1.0).mean() < 0.25  # it opens, 14-36 deg, in some photos
    assert (e[:, 51] == 0).all() and (e[:, 20:50] == 0).all()
    # models without one-sided coefficients draw exactly what they always drew
    for kind, n, bounds in (("pca", 40, np.tile([-inf, inf], (40, 1))), ("blendshape", 35, np.tile([0.0, 1.0], (35, 1)))):
        a = [sample_expression(np.random.default_rng(5), n, kind, 0.3) for _ in range(3)]
        b = [sample_expression(np.random.default_rng(5), n, kind, 0.3, bounds.astype(np.float32)) for _ in range(3)]
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))


def test_detector_noise_grows_on_the_jaw_at_large_yaw():
    g = np.random.default_rng(0)
    lm = np.zeros((68, 2))
    vis = np.ones(68, bool)
    front = np.stack([detector_noise(g, lm, vis, 0.0, 128) for _ in range(300)])
    turned = np.stack([detector_noise(g, lm, vis, 75.0, 128) for _ in range(300)])
    assert turned[:, :17].std() > 2 * front[:, :17].std()
    assert turned[:, 36:48].std() == pytest.approx(front[:, 36:48].std(), rel=0.3)


def test_head_shading_matches_the_renderer_sh():
    total = torch.from_numpy(sample_light(np.random.default_rng(2), SETTING_SPECS["indoor"]))
    total = total + default_light(dtype=torch.float64)
    uu, vv = np.meshgrid(np.linspace(-0.9, 0.9, 9), np.linspace(-0.9, 0.9, 9))
    inside = uu ** 2 + vv ** 2 < 1
    uu, vv = uu[inside].astype(np.float32), vv[inside].astype(np.float32)
    ours = _lit(np.ones(3, np.float32), total, 0.0)(uu, vv)
    n = np.stack([uu, -vv, np.sqrt(1 - uu ** 2 - vv ** 2)], -1)
    ref = sh_shading(torch.from_numpy(n).double(), total).clamp(0, 1).numpy()
    assert np.abs(ours - ref).max() < 1e-4
