import numpy as np
import pytest
import torch

from photoface.facemodel.io import model_hash
from photoface.facemodel.model import IBUG_MIRROR, canonical_origin
from photoface.facemodel.procedural import build_procedural_model, builtin_model, proportions
from photoface.facemodel.procedural.cache import EXPECTED_HASHES
from photoface.mesh.normals import face_normals


def _exp(model, name, weight=1.0):
    w = torch.zeros(1, model.n_exp)
    w[0, model.exp_names.index(name)] = weight
    return model.shape(None, w)[0]


def test_sizes_and_kinds(demo_model):
    m = demo_model
    assert 4000 <= m.num_vertices <= 6000
    assert m.n_id >= 80 and m.n_exp >= 29 and m.n_tex >= 40
    assert m.exp_kind == "blendshape"
    for name in ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "mouthPucker", "browInnerUp",
                 "browDownLeft", "eyeBlinkLeft", "eyeBlinkRight", "cheekPuff", "mouthStretchLeft"):
        assert name in m.exp_names


def test_landmarks_are_68_unique_vertices_in_ibug_order(demo_model):
    m = demo_model
    lm = m.mean[m.landmarks68].numpy()
    assert len(set(m.landmarks68.tolist())) == 68
    x, y, z = lm[:, 0], lm[:, 1], lm[:, 2]
    assert x[42:48].min() > x[36:42].max()  # subject's left eye has larger x
    assert x[22:27].min() > 0 > x[17:22].max()
    assert np.all(np.diff(x[0:9]) > 0) and np.all(np.diff(x[8:17]) > 0)  # jaw runs right -> left
    assert np.argmin(y[:17]) == 8  # chin is the lowest jaw point
    assert y[17:27].min() > y[36:48].max()  # brows above the eyes
    assert y[27] > y[28] > y[29] > y[30] > y[33]  # nose bridge runs down to the base
    assert np.argmax(z) == 30  # the nose tip is the most forward landmark
    assert x[54] > x[48] and x[64] > x[60] and x[35] > x[31]
    assert y[51] > y[62] >= y[66] > y[57]  # upper lip above lower lip
    for a, b in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert y[a] > y[b]  # upper lid above lower lid
    assert np.allclose(x[[8, 27, 28, 29, 30, 33, 51, 57, 62, 66]], 0.0, atol=1e-4)


def test_inner_landmarks_lie_on_the_skin_seen_from_the_front(demo_model):
    """iBUG 17-67 are where a photo shows them: no skin of the mean face within 1.5 mm of a
    landmark in the image plane lies more than 1 mm in front of it. Builder 4 put 32/34 inside the
    nostril vestibules, 31 mm behind the nose tip above them, which made every fit pull the nose."""
    from scipy.spatial import cKDTree

    v = demo_model.mean.numpy().astype(np.float64)
    tree = cKDTree(v[:, :2])
    for k in range(17, 68):
        i = int(demo_model.landmarks68[k])
        near = tree.query_ball_point(v[i, :2], 1.5)
        depth = v[near, 2].max() - v[i, 2]
        assert depth <= 1.0, f"landmark {k} lies {depth:.1f} mm behind the surface"


def test_mirror_map_is_an_exact_involution_and_swaps_landmarks(demo_model):
    m = demo_model
    mirror = m.mirror
    assert torch.equal(mirror[mirror], torch.arange(m.num_vertices))
    assert torch.equal(mirror[m.landmarks68], m.landmarks68[torch.as_tensor(IBUG_MIRROR)])
    flipped = m.mean[mirror] * torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(flipped, m.mean, atol=1e-4)
    for basis in (m.exp_basis[[m.exp_names.index("eyeBlinkLeft")]],):
        twin = m.exp_basis[m.exp_names.index("eyeBlinkRight")]
        assert torch.allclose(basis[0][mirror] * torch.tensor([-1.0, 1.0, 1.0]), twin, atol=1e-4)


def test_identity_modes_are_orthogonal_ordered_and_millimetre_scale(demo_model):
    m = demo_model
    b = m.id_basis.reshape(m.n_id, -1).double()
    gram = b @ b.T
    d = gram.diagonal()
    off = gram - torch.diag(d)
    assert off.abs().max() / d.max() < 1e-4
    assert torch.all(d[:-1] >= d[1:] - 1e-6)
    rms = (d / m.num_vertices).sqrt()
    assert 1.5 < rms[0] < 4.5  # a real 3DMM: ~3 mm for the first mode
    assert rms[99] < 0.1


def test_mesh_is_clean_manifold_and_consistently_oriented(demo_model):
    m = demo_model
    v, f = m.mean.double(), m.faces
    area = 0.5 * torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]).norm(dim=1)
    assert area.min() > 1e-3  # no degenerate triangle (mm²)
    fn = f.numpy()
    directed = np.concatenate([fn[:, [0, 1]], fn[:, [1, 2]], fn[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)  # consistent winding
    undirected, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert counts.max() == 2  # manifold edges
    euler = m.num_vertices - len(undirected) + len(fn)
    assert euler == 1  # one disk: the mouth slit is closed by the pocket
    assert len(np.unique(fn)) == m.num_vertices  # no stray vertex


def test_normals_point_outward(demo_model):
    m = demo_model
    n = m.vertex_normals(m.mean)
    lm = m.landmarks68
    assert n[lm[30], 2] > 0.5  # nose tip faces forward
    assert n[lm[27], 2] > 0.8 and n[lm[8], 2] > 0.3
    assert n[lm[0], 0] < -0.5 and n[lm[16], 0] > 0.5  # cheeks at the ears face sideways
    fnorm = face_normals(m.mean, m.faces)
    centre = m.mean[m.faces].mean(1)
    pocket = torch.zeros(m.num_vertices, dtype=torch.bool)
    pocket[m.regions["mouth_interior"]] = True
    front = (centre[:, 0].abs() < 40) & (centre[:, 1] > -45) & ~pocket[m.faces].any(1)
    assert (fnorm[front, 2] < 0).float().mean() < 0.01


def test_mean_proportions_match_the_reference(demo_model):
    m = demo_model
    ours = proportions.measure(m.mean[m.landmarks68].numpy())
    z = (ours - proportions.reference_mean()) / proportions.reference_std()
    assert np.abs(z).max() < 1.5, dict(zip(proportions.REFERENCE, z.round(2)))


def test_identity_spread_of_proportions_is_human(demo_model):
    m = demo_model
    c = m.sample(400, torch.Generator().manual_seed(0), exp_std=0.0)
    lm = m.shape(c.alpha_id)[:, m.landmarks68].numpy()
    ratio = proportions.measure(lm).std(0) / proportions.reference_std()
    assert ratio.min() > 0.6 and ratio.max() < 1.7, dict(zip(proportions.REFERENCE, ratio.round(2)))


def test_canonical_origin_is_at_zero(demo_model):
    m = demo_model
    assert np.allclose(canonical_origin(m.mean.numpy(), m.landmarks68.numpy()), 0.0, atol=1e-3)
    # Identity modes do not move the origin either (pose owns translation).
    s = m.shape(torch.randn(3, m.n_id, generator=torch.Generator().manual_seed(0)))
    for shape in s:
        assert np.allclose(canonical_origin(shape.numpy(), m.landmarks68.numpy()), 0.0, atol=1e-2)


def test_jaw_open_separates_the_lips(demo_model):
    m = demo_model
    lm = m.landmarks68
    neutral = m.mean
    assert torch.allclose(neutral[lm[62]], neutral[lm[66]])  # closed at rest
    opened = _exp(m, "jawOpen")
    assert (opened[lm[62]] - opened[lm[66]]).norm() > 20.0
    move = (opened - neutral).norm(dim=1)
    assert 30.0 < move[lm[57]] < 50.0  # lower lip travels ~40 mm
    assert move[lm[51]] < 1.0 and move[lm[27]] < 1e-3  # upper lip and nose stay
    half = _exp(m, "jawOpen", 0.5)
    assert torch.allclose(half - neutral, 0.5 * (opened - neutral), atol=1e-4)


def test_eyes_close_one_at_a_time(demo_model):
    m = demo_model
    lm = m.landmarks68
    closed = _exp(m, "eyeBlinkLeft")
    for up, lo in ((43, 47), (44, 46)):
        assert m.mean[lm[up], 1] - m.mean[lm[lo], 1] > 5.0
        assert abs(closed[lm[up], 1] - closed[lm[lo], 1]) < 1.5
    for up, lo in ((37, 41), (38, 40)):  # the right eye stays open
        assert torch.allclose(closed[lm[up]], m.mean[lm[up]]) and torch.allclose(closed[lm[lo]], m.mean[lm[lo]])
    both = m.shape(None, torch.zeros(1, m.n_exp).index_fill(1, torch.tensor(
        [m.exp_names.index("eyeBlinkLeft"), m.exp_names.index("eyeBlinkRight")]), 1.0))[0]
    assert abs(both[lm[37], 1] - both[lm[41], 1]) < 1.5


def test_every_expression_moves_something_and_stays_local(demo_model):
    m = demo_model
    mag = m.exp_basis.norm(dim=2).amax(dim=1)
    assert mag.min() > 1.5 and mag.max() < 60.0
    idx = m.exp_names.index("browInnerUp")
    assert m.exp_basis[idx][m.regions["chin"]].norm(dim=1).max() < 0.5


def test_albedo_range_and_skin_tone_axis(demo_model):
    m = demo_model
    mu, b = m.tex_mean, m.tex_basis
    assert mu.min() >= 0.0 and mu.max() <= 1.0
    assert (mu[None] + 3 * b).min() >= -1e-4 and (mu[None] + 3 * b).max() <= 1 + 1e-4
    assert (mu[None] - 3 * b).min() >= -1e-4 and (mu[None] - 3 * b).max() <= 1 + 1e-4
    cheeks = m.regions["cheeks"]
    lum = lambda a: a[cheeks].mean()  # noqa: E731
    spread = abs(lum(mu + 3 * b[0]) - lum(mu - 3 * b[0]))
    assert spread > 0.4  # the first mode spans very light to very dark skin
    eyes = m.regions["eyes"]
    lips = m.regions["lips"]
    assert mu[lips, 0].mean() > mu[lips, 1].mean() + 0.15  # red lips
    assert mu[eyes].max() > 0.65 and mu[eyes].min() < 0.1  # eye white (greyish, not painted white) and pupil


def test_regions_are_named_nonempty_and_sensible(demo_model):
    r = demo_model.regions
    for name in ("eyes", "nose", "mouth", "cheeks", "forehead", "jaw", "eyelid_left", "eyelid_right", "brows"):
        assert len(r[name]) > 10, name
    lm = demo_model.landmarks68
    assert {int(lm[30]), int(lm[33])} <= set(r["nose"].tolist())
    assert set(lm[42:48].tolist()) <= set(r["eye_left"].tolist())
    assert set(r["eyelid_left"].tolist()) <= set(r["eye_left"].tolist())
    x = demo_model.mean[:, 0]
    assert (x[r["eye_left"]] > 0).all() and (x[r["eyelid_right"]] < 0).all()
    mirror = demo_model.mirror
    for name, idx in r.items():  # symmetric: left <-> right, the others onto themselves
        twin = name.replace("left", "right") if "left" in name else name.replace("right", "left")
        assert set(mirror[idx].tolist()) == set(r[twin].tolist()), name


def test_built_from_the_seed_deterministically(demo_model):
    again = build_procedural_model("demo", seed=0)
    assert model_hash(again) == model_hash(demo_model)
    other = build_procedural_model("demo", seed=1)
    assert torch.equal(other.mean, demo_model.mean)
    assert not torch.allclose(other.id_basis, demo_model.id_basis)


def test_builtin_model_is_cached_on_disk(tmp_path, monkeypatch, demo_model):
    from photoface.facemodel.procedural import build

    calls = []

    def fake_build(resolution, seed):
        calls.append((resolution, seed))
        return demo_model

    monkeypatch.setattr(build, "build_procedural_model", fake_build)
    monkeypatch.setenv("PHOTOFACE_CACHE", str(tmp_path))
    first = builtin_model("demo")
    files = list(tmp_path.glob("procedural-demo-seed0-b*-*.npz"))
    assert len(files) == 1 and calls == [("demo", 0)]
    second = builtin_model("demo")
    assert calls == [("demo", 0)]  # served from the cache
    assert model_hash(first) == model_hash(second) == model_hash(demo_model)
    assert second is not first and second.exp_names == demo_model.exp_names
    files[0].write_bytes(b"corrupt")  # an unreadable cache entry is rebuilt
    builtin_model("demo")
    assert len(calls) == 2


@pytest.mark.slow
def test_paper_resolution_has_the_expected_size_proportions_and_bits():
    m = build_procedural_model("paper")
    assert model_hash(m) == EXPECTED_HASHES["builtin:paper"]  # the same bits on every machine
    assert 33_000 < m.num_vertices < 40_000
    z = (proportions.measure(m.mean[m.landmarks68].numpy()) - proportions.reference_mean())
    assert np.abs(z / proportions.reference_std()).max() < 1.5
