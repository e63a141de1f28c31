import numpy as np
import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.facemodel.model import (
    IBUG_MIRROR,
    MorphableModel,
    canonical_origin,
    clamp_to_bounds,
    fold_into_bounds,
    one_sided,
)
from support.runs import jaw_like, with_exp_bounds


def test_ibug_mirror_table_is_an_involution_that_swaps_sides():
    assert np.array_equal(IBUG_MIRROR[IBUG_MIRROR], np.arange(68))
    assert IBUG_MIRROR[0] == 16 and IBUG_MIRROR[36] == 45 and IBUG_MIRROR[48] == 54
    assert IBUG_MIRROR[60] == 64 and IBUG_MIRROR[61] == 63 and IBUG_MIRROR[65] == 67
    assert {i for i in range(68) if IBUG_MIRROR[i] == i} == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}


def test_shape_is_mean_plus_linear_combination(tiny_model):
    m = tiny_model
    assert torch.equal(m.shape()[0], m.mean)
    a_id = torch.randn(3, m.n_id)
    a_exp = torch.randn(3, m.n_exp)
    s = m.shape(a_id, a_exp)
    ref = m.mean + torch.einsum("bk,kvc->bvc", a_id, m.id_basis) + torch.einsum("bl,lvc->bvc", a_exp, m.exp_basis)
    assert s.shape == (3, m.num_vertices, 3)
    assert torch.allclose(s, ref, atol=1e-4)
    # Fewer coefficients than modes: the missing ones count as zero.
    s2 = m.shape(a_id[:, :2])
    ref2 = m.mean + torch.einsum("bk,kvc->bvc", a_id[:, :2], m.id_basis[:2])
    assert torch.allclose(s2, ref2, atol=1e-4)


def test_shape_rejects_bad_coefficients(tiny_model):
    with pytest.raises(PhotofaceError, match="alpha_id"):
        tiny_model.shape(torch.zeros(1, tiny_model.n_id + 1))
    with pytest.raises(PhotofaceError, match="differ"):
        tiny_model.shape(torch.zeros(2, 1), torch.zeros(3, 1))


def test_albedo_clamps_by_default_and_not_on_request(tiny_model):
    beta = torch.full((1, tiny_model.n_tex), 50.0)
    assert tiny_model.albedo(beta).max() <= 1.0 and tiny_model.albedo(beta).min() >= 0.0
    raw = tiny_model.albedo(beta, clamp=False)
    assert raw.max() > 1.0 or raw.min() < 0.0
    assert torch.allclose(tiny_model.albedo()[0], tiny_model.tex_mean)


def _without_albedo_modes(m: MorphableModel) -> MorphableModel:
    return MorphableModel(m.mean, m.id_basis, m.exp_basis, m.tex_mean, np.zeros((0, m.num_vertices, 3)), m.faces,
                          m.landmarks68, m.mirror, {k: v for k, v in m.regions.items()}, name="flat", exp_kind=m.exp_kind)


def test_a_model_without_albedo_modes_gives_its_mean_albedo_everywhere(tiny_model, tmp_path):
    m = _without_albedo_modes(tiny_model)
    assert m.n_tex == 0 and m.tex_basis.shape == (0, m.num_vertices, 3)
    c = m.sample(4, torch.Generator().manual_seed(0))
    assert c.beta.shape == (4, 0)
    a = m.albedo(c.beta)
    assert a.shape == (4, m.num_vertices, 3) and torch.equal(a, m.tex_mean.expand(4, -1, -1))
    assert m.shape(c.alpha_id, c.alpha_exp).shape == (4, m.num_vertices, 3)
    with pytest.raises(PhotofaceError, match="beta has 1 coefficients, the model only 0"):
        m.albedo(torch.zeros(1, 1))
    m.save(tmp_path / "flat.npz")
    back = MorphableModel.load(tmp_path / "flat.npz")
    assert back.n_tex == 0 and torch.equal(back.albedo(torch.zeros(2, 0)), m.albedo(torch.zeros(2, 0)))
    keep = m.mirror_closure(np.union1d(np.arange(60), m.landmarks68.numpy()))
    assert m.crop(keep).albedo(torch.zeros(1, 0)).shape == (1, len(keep), 3)


def test_sample_is_reproducible_and_follows_the_expression_kind(tiny_model, demo_model):
    c1 = tiny_model.sample(5, torch.Generator().manual_seed(3))
    c2 = tiny_model.sample(5, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(c1, c2))
    assert c1.alpha_id.shape == (5, tiny_model.n_id) and c1.beta.shape == (5, tiny_model.n_tex)
    big = tiny_model.sample(4000, torch.Generator().manual_seed(0), id_std=2.0)
    assert abs(big.alpha_id.std().item() - 2.0) < 0.1
    w = demo_model.sample(500, torch.Generator().manual_seed(0)).alpha_exp
    assert w.min() >= 0.0 and w.max() <= 1.0
    assert 0.1 < (w > 0).float().mean() < 0.5  # sparse
    assert torch.count_nonzero(demo_model.sample(3, exp_std=0.0).alpha_exp) == 0
    strong = demo_model.sample(200, torch.Generator().manual_seed(1), exp_std=3.0, exp_active=1.0).alpha_exp
    assert strong.min() >= 0.0 and strong.max() == 1.0  # clipped to full weight, never beyond


def test_crop_reindexes_everything(tiny_model):
    m = tiny_model
    keep = m.mirror_closure(np.unique(np.concatenate([m.landmarks68.numpy(), np.arange(40, 80)])))
    c = m.crop(keep)
    assert c.num_vertices == len(keep)
    assert torch.equal(c.mean, m.mean[keep])
    assert torch.equal(c.id_basis, m.id_basis[:, keep])
    # Landmarks and mirror point to the same positions as before.
    assert torch.equal(c.mean[c.landmarks68], m.mean[m.landmarks68])
    assert torch.equal(c.mean[c.mirror], m.mean[m.mirror[keep]])
    assert torch.equal(c.mirror[c.mirror], torch.arange(c.num_vertices))
    # Every surviving triangle is an original triangle whose three vertices were kept.
    old = {tuple(t) for t in m.faces.tolist()}
    new = {tuple(keep[t]) for t in c.faces.numpy()}
    assert new <= old
    kept = set(keep.tolist())
    assert len(new) == sum(all(v in kept for v in t) for t in old)
    for name, idx in c.regions.items():
        assert set(keep[idx.numpy()].tolist()) == set(m.regions[name].tolist()) & kept


def test_crop_refuses_to_lose_landmarks_or_mirror_partners(tiny_model):
    m = tiny_model
    all_but_one = np.setdiff1d(np.arange(m.num_vertices), [int(m.landmarks68[30])])
    with pytest.raises(PhotofaceError, match="landmark"):
        m.crop(all_but_one)
    closed = m.mirror_closure(m.landmarks68.numpy())
    mirror = m.mirror.numpy()
    extra = next(v for v in range(m.num_vertices) if v not in closed and mirror[v] != v)
    with pytest.raises(PhotofaceError, match="mirror"):
        m.crop(np.append(closed, extra))
    assert m.crop(m.mirror_closure(np.append(closed, extra))).num_vertices == len(closed) + 2


def test_canonical_origin_definition():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(100, 3))
    lm = np.arange(68)
    o = canonical_origin(verts, lm)
    assert np.isclose(o[0], verts[:68, 0].mean())
    assert np.isclose(o[1], 0.5 * (verts[27, 1] + verts[8, 1]))
    assert np.isclose(o[2], 0.5 * (verts[0, 2] + verts[16, 2]))


def test_model_moves_to_a_device_as_one_and_normals_are_unit(tiny_model):
    m = tiny_model.to(torch.float64)  # buffers follow module conversions
    n = m.vertex_normals(m.shape(torch.zeros(2, m.n_id)))
    assert n.shape == (2, m.num_vertices, 3)
    assert torch.allclose(n.norm(dim=-1), torch.ones(2, m.num_vertices, dtype=n.dtype))
    assert (n[..., 2] > 0).all()  # the tiny surface faces +z


def test_rejects_unknown_expression_kind():
    with pytest.raises(PhotofaceError, match="exp_kind"):
        MorphableModel(np.zeros((3, 3)), np.zeros((0, 3, 3)), np.zeros((0, 3, 3)), np.zeros((3, 3)),
                       np.zeros((0, 3, 3)), [[0, 1, 2]], np.zeros(68), [0, 1, 2], exp_kind="fancy")


def test_expression_bounds_default_to_the_kind_and_a_model_may_state_its_own(tiny_model, demo_model):
    inf = float("inf")
    assert tiny_model.exp_bounds.tolist() == [[-inf, inf]] * tiny_model.n_exp
    assert demo_model.exp_bounds.tolist() == [[0.0, 1.0]] * demo_model.n_exp
    jaw = jaw_like(tiny_model, 1)
    assert jaw.exp_bounds.tolist() == [[-inf, inf], [0.0, inf], [-inf, inf]]
    keep = jaw.mirror_closure(np.union1d(np.arange(60), jaw.landmarks68.numpy()))
    assert torch.equal(jaw.crop(keep).exp_bounds, jaw.exp_bounds)  # a crop keeps them
    # a checkpoint of anything holding the model does not change (non-persistent buffer)
    assert "own_exp_bounds" not in jaw.state_dict()
    with pytest.raises(PhotofaceError, match="contain 0"):  # neutral must be allowed
        with_exp_bounds(tiny_model, np.array([[0.5, 1.0]] * 3, np.float32))
    with pytest.raises(PhotofaceError, match=r"\(3, 2\)"):
        with_exp_bounds(tiny_model, np.zeros((2, 2), np.float32))


def test_sample_draws_a_one_sided_coefficient_half_normal(tiny_model):
    jaw = jaw_like(tiny_model, 1)
    free = tiny_model.sample(4000, torch.Generator().manual_seed(0)).alpha_exp
    one = jaw.sample(4000, torch.Generator().manual_seed(0)).alpha_exp
    assert (one[:, 1] >= 0).all()  # never past neutral (a jaw closing through the teeth)
    assert torch.equal(one[:, 1], free[:, 1].abs())  # |N(0, 1)|: half-normal, same draws
    assert one[:, 1].mean().item() == pytest.approx(np.sqrt(2 / np.pi), abs=0.04)
    assert torch.equal(one[:, [0, 2]], free[:, [0, 2]])  # the other coefficients untouched
    assert (free[:, 1] < 0).float().mean() > 0.4  # what a model without bounds does


def test_fold_and_clamp_into_bounds_numpy_and_torch():
    inf = np.inf
    bounds = np.array([[-inf, inf], [0.0, inf], [-inf, 0.0], [0.0, 1.0]], np.float32)
    v = np.array([[-2.0, -2.0, 2.0, 1.5], [0.5, 0.5, -0.5, -0.5]], np.float32)
    assert fold_into_bounds(v, bounds).tolist() == [[-2.0, 2.0, -2.0, 1.0], [0.5, 0.5, -0.5, 0.5]]
    assert clamp_to_bounds(v, bounds).tolist() == [[-2.0, 0.0, 0.0, 1.0], [0.5, 0.5, -0.5, 0.0]]
    t = torch.as_tensor(v, dtype=torch.float64)
    assert fold_into_bounds(t, torch.as_tensor(bounds)).tolist() == fold_into_bounds(v, bounds).tolist()
    assert clamp_to_bounds(t, bounds).dtype == torch.float64
    assert one_sided(bounds).tolist() == [False, True, True, True]
