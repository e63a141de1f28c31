"""photoface.fit.texture: the albedo read off the photos, de-lit, fused, occlusion-aware."""

import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.fit.texture import ROBUST_STEPS, fuse, leave_one_out, robust_mean, vertex_samples
from photoface.render.camera import focal_at_code_zero
from photoface.render.renderer import Renderer
from photoface.render.sh import default_light, directional_light
from photoface.run.config import FitConfig
from support.runs import tiny_face_model

SIZE = 64
NO_PRIOR = FitConfig(texture_prior_weight=1e-9)  # the default fusion, the model albedo all but left out


def _photos(model, albedo, yaws, light=None, scale=1, pad=0):
    """Renders of the mean face with a per-vertex ``albedo`` (V, 3) at ``yaws``, at ``scale`` × SIZE
    plus ``pad``; returns (images, pose in SIZE px, light)."""
    b = len(yaws)
    pose = torch.zeros(b, 6)
    pose[:, 1] = torch.tensor(yaws)
    pose[:, 3] = focal_at_code_zero(SIZE)
    pose[:, 4:] = SIZE / 2
    light = torch.zeros(b, 27) if light is None else light
    big = pose.clone()
    big[:, 3:] *= scale
    big[:, 4:] += pad
    verts = model.mean[None].expand(b, -1, -1)
    out = Renderer(model.faces, SIZE * scale + 2 * pad).render(verts, albedo[None].expand(b, -1, -1), big, light)
    return out.image.clamp(0, 1), pose, light, verts


def _all(images):
    """(B, 1, H, W) ones: every pixel of ``images`` is photo."""
    return torch.ones_like(images[:, :1])


def _texture(verts, pose, light, images, model, prior, scale, pad, cfg=None):
    """Every photo's estimates fused: what ``photoface fit`` writes on a person's meshes."""
    cfg = cfg or FitConfig()
    albedo, weight = vertex_samples(verts, pose, light, images, _all(images), model.faces, scale, pad, cfg)
    return fuse(albedo, weight, model.mirror, prior, cfg)


def _model_and_albedo():
    """The tiny model and a smooth, asymmetric albedo (V, 3) varying across the face in every channel."""
    model = tiny_face_model(seed=1)
    p = model.mean / model.mean.abs().amax(0)
    albedo = torch.stack([0.5 + 0.3 * torch.sin(3 * p[:, 0]), 0.45 + 0.25 * p[:, 1], 0.4 + 0.2 * torch.cos(4 * p[:, 0] * p[:, 1])], 1)
    return model, albedo


def test_recovers_a_known_albedo_under_a_coloured_light_and_takes_the_light_out():
    model, albedo = _model_and_albedo()
    warm = directional_light([0.5, 0.3, 1.0], 0.6, ambient=0.5, color=(1.0, 0.8, 0.6))  # total light, not white
    light = (warm - default_light())[None].expand(2, -1).clone()  # the renderer adds the default light
    images, pose, light, verts = _photos(model, albedo, [0.0, 25.0], light, scale=4, pad=8)
    prior = torch.full_like(albedo, 0.5)
    tex = _texture(verts, pose, light, images, model, prior, 4, 8)
    seen = tex.seen > 0.5
    assert seen.float().mean() > 0.5
    err = (tex.albedo - albedo).abs()[seen].mean()
    assert err < 0.05, err  # the render of 64² × 4 is read back per vertex
    assert err < 0.3 * (prior - albedo).abs()[seen].mean()
    # the warm light's cast (blue 0.6 of red) is taken out: the blue/red ratio is the albedo's
    cast = (tex.albedo[seen, 2] / tex.albedo[seen, 0]).mean() / (albedo[seen, 2] / albedo[seen, 0]).mean()
    assert abs(float(cast) - 1.0) < 0.05


@pytest.mark.parametrize("z_front", [20.0, -10.0])
def test_a_vertex_hidden_behind_the_surface_gets_no_weight(z_front):
    # two squares facing the camera, a small one 20 mm behind a large one: the large one hides it
    # (also wholly behind the model origin, where the depth buffer holds negative z_screen)
    quad = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    front = torch.cat([40.0 * quad, torch.full((4, 1), z_front)], 1)
    back = torch.cat([10.0 * quad, torch.full((4, 1), z_front - 20.0)], 1)
    shape = torch.cat([front, back])[None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    pose = torch.tensor([[0.0, 0.0, 0.0, 0.5, 32.0, 32.0]])
    images = torch.full((1, 3, 64, 64), 0.6)
    _, weight = vertex_samples(shape, pose, torch.zeros(1, 27), images, _all(images), faces, 1.0, 0.0, FitConfig())
    assert (weight[0, :4] > 0.9).all() and (weight[0, 4:] == 0).all()
    # without the front square the back one is seen
    _, weight = vertex_samples(back[None], pose, torch.zeros(1, 27), images, _all(images), faces[:2], 1.0, 0.0, FitConfig())
    assert (weight[0] > 0.9).all()


def test_nothing_is_read_beyond_the_photos_edge():
    model, albedo = _model_and_albedo()
    images, pose, light, verts = _photos(model, albedo, [0.0], scale=2, pad=16)
    valid = _all(images)
    valid[..., :, 64:] = 0.0  # the photo ends at the face's middle: the rest is black padding
    images = images * valid
    _, weight = vertex_samples(verts, pose, light, images, valid, model.faces, 2, 16, FitConfig())
    x = pose[0, 3] * 2 * model.mean[:, 0] + pose[0, 4] * 2 + 16  # each vertex's image column (frontal)
    assert (weight[0][x > 66] == 0).all() and (weight[0][x < 60] > 0).float().mean() > 0.8


def test_an_occluder_in_one_photo_of_three_does_not_paint_the_texture():
    v = 200
    g = torch.Generator().manual_seed(1)
    truth = 0.3 + 0.4 * torch.rand(v, 3, generator=g)
    estimates = truth[None].repeat(3, 1, 1) + 0.02 * torch.randn(3, v, 3, generator=g)
    estimates[1, :50] = torch.tensor([0.05, 0.05, 0.05])  # a dark hand over a quarter of photo 1
    weight = torch.ones(3, v)
    mirror = torch.arange(v)
    tex = fuse(estimates, weight, mirror, torch.zeros(v, 3), NO_PRIOR)
    plain = estimates.mean(0)
    robust_err = (tex.albedo[:50] - truth[:50]).abs().mean()
    assert robust_err < 0.5 * (plain[:50] - truth[:50]).abs().mean()
    assert robust_err < 0.05
    # ROBUST_STEPS reweightings have converged: one more moves no colour by 1e-3
    more = robust_mean(estimates, weight, 0.15, ROBUST_STEPS + 1)
    assert (more - robust_mean(estimates, weight, 0.15)).abs().max() < 1e-3


def test_a_far_weightier_outlier_photo_does_not_move_the_median_start():
    v = 50
    truth = torch.full((v, 3), 0.6)
    estimates = torch.stack([truth, truth, truth, torch.full((v, 3), 0.1)])
    weight = torch.tensor([1.0, 1.0, 1.0, 2.5])[:, None].expand(4, v)  # the outlier: 45 % of the weight
    tex = fuse(estimates, weight, torch.arange(v), truth, NO_PRIOR)
    assert (tex.albedo - truth).abs().max() < 0.05  # a plain mean would give 0.375


def test_a_well_seen_vertex_keeps_its_own_colour_beside_a_better_seen_partner():
    estimates = torch.tensor([[[0.2, 0.2, 0.2], [0.8, 0.8, 0.8]]]).repeat(10, 1, 1)  # a mole on vertex 0
    weight = torch.tensor([1.0, 1.0])[None].repeat(10, 1)
    weight[3:, 0] = 0.0  # vertex 0 in 3 frontal views, its partner in 10
    tex = fuse(estimates, weight, torch.tensor([1, 0]), torch.full((2, 3), 0.5), FitConfig())
    assert torch.allclose(tex.albedo[0], torch.tensor([0.2, 0.2, 0.2]), atol=0.02)


def test_each_photos_overlay_albedo_comes_from_the_other_photos():
    v = 10
    estimates = torch.stack([torch.full((v, 3), c) for c in (0.3, 0.5, 0.7)])
    weight = torch.ones(3, v)
    prior = torch.full((v, 3), 0.9)
    cfg = FitConfig(texture_outlier_scale=10.0)  # plain means, to read the result off
    out = leave_one_out(estimates, weight, torch.arange(v), prior, cfg)
    expected = [(0.6 * 2 + 0.9 * 0.05) / 2.05, (0.5 * 2 + 0.9 * 0.05) / 2.05, (0.4 * 2 + 0.9 * 0.05) / 2.05]
    for got, want in zip(out, expected):
        assert torch.allclose(got, torch.full((v, 3), want), atol=2e-3)
    with pytest.raises(ValueError):
        leave_one_out(estimates[:1], weight[:1], torch.arange(v), prior, cfg)


@pytest.mark.parametrize("key", ["texture_prior_weight", "texture_outlier_scale", "texture_min_shading"])
def test_texture_divisors_must_be_positive(key):
    with pytest.raises(PhotofaceError, match=key):
        FitConfig(**{key: 0.0})


def test_unseen_vertices_take_their_mirror_partner_then_the_model_albedo():
    v = 4
    estimates = torch.tensor([[[0.8, 0.2, 0.2], [0.0, 0.0, 0.0], [0.1, 0.9, 0.1], [0.0, 0.0, 0.0]]])
    weight = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    mirror = torch.tensor([1, 0, 2, 3])  # 0 <-> 1 a pair, 2 and 3 on the midline
    prior = torch.full((v, 3), 0.5)
    tex = fuse(estimates, weight, mirror, prior, FitConfig())
    assert torch.allclose(tex.albedo[1], torch.tensor([0.8, 0.2, 0.2]), atol=0.06)  # the partner's colour
    assert torch.allclose(tex.albedo[3], prior[3])  # nobody saw it: the model's albedo
    assert torch.allclose(tex.albedo[0], torch.tensor([0.8, 0.2, 0.2]), atol=0.03)
    assert tex.seen.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_the_far_side_of_a_profile_is_filled_from_the_near_side():
    model, albedo = _model_and_albedo()
    symmetric = 0.5 * (albedo + albedo[model.mirror])
    images, pose, light, verts = _photos(model, symmetric, [60.0], scale=2)
    prior = torch.full_like(albedo, 0.9)  # far from every colour of the face
    tex = _texture(verts, pose, light, images, model, prior, 2, 0)
    far = (tex.seen == 0) & (tex.seen[model.mirror] > 0.3)
    assert far.sum() > 5
    assert (tex.albedo[far] - symmetric[far]).abs().mean() < 0.4 * (prior[far] - symmetric[far]).abs().mean()
