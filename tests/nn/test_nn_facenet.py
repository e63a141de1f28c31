from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from photoface.mesh.hierarchy import MeshHierarchy
from photoface.nn.chebconv import ChebConv
from photoface.nn.facenet import FaceNet, FaceNetOutput, build_facenet
from photoface.render import pose_from_code, project


def stand_in_model(subdivisions=4):
    """A sphere (radius 80 mm) with the attributes FaceNet reads from a MorphableModel."""
    ico = trimesh.creation.icosphere(subdivisions, radius=80.0)
    v = np.asarray(ico.vertices, dtype=np.float32)
    front = np.flatnonzero(v[:, 2] > 40)
    mirror = cKDTree(v).query(v * np.array([-1, 1, 1], dtype=np.float32))[1]
    rng = np.random.default_rng(0)
    return SimpleNamespace(
        mean=torch.from_numpy(v),
        faces=torch.from_numpy(np.asarray(ico.faces)).long(),
        landmarks68=torch.from_numpy(front[:68]).long(),
        tex_mean=torch.from_numpy(rng.uniform(0.3, 0.8, (len(v), 3)).astype(np.float32)),
        mirror=torch.from_numpy(mirror).long(),
    )


@pytest.fixture(scope="module")
def model():
    return stand_in_model()


@pytest.fixture(scope="module")
def hier(model):
    return MeshHierarchy.build(model.mean.numpy(), model.faces.numpy(), (4, 4, 4, 4, 2))


def small_net(model, hier, **kw):
    torch.manual_seed(0)
    return FaceNet(model, hier, encoder="resnet18", image_size=64, decoder_channels=(32, 32, 16, 16, 8), **kw)


def perturb_zero_layers(net):
    """Give the zero-initialised output layers values, as the first training step would."""
    torch.manual_seed(1)
    for m in net.modules():
        zero_conv = isinstance(m, (ChebConv, torch.nn.Conv2d)) and torch.count_nonzero(m.weight) == 0
        zero_lin = isinstance(m, torch.nn.Linear) and torch.count_nonzero(m.weight) == 0
        if zero_conv or zero_lin:
            torch.nn.init.normal_(m.weight, std=0.01)
            torch.nn.init.normal_(m.bias, std=0.01)


def test_untrained_net_renders_the_mean_face_frontal_and_centred(model, hier):
    net = small_net(model, hier).eval()
    out = net(torch.rand(2, 3, 64, 64))
    assert isinstance(out, FaceNetOutput)
    v = model.mean.shape[0]
    assert out.shape.shape == (2, v, 3) and out.albedo.shape == (2, v, 3) and out.albedo_map is None
    assert out.id_code.shape == (2, 128) and out.exp_code.shape == (2, 64)
    assert out.pose_code.shape == (2, 6) and out.light.shape == (2, 27)
    assert out.image.shape == (2, 3, 64, 64) and out.mask.shape == (2, 1, 64, 64)
    assert out.landmarks2d.shape == (2, 68, 2)
    assert torch.equal(out.shape, model.mean.expand(2, -1, -1))
    assert torch.allclose(out.albedo, model.tex_mean.expand(2, -1, -1), atol=1e-6)
    assert torch.allclose(out.pose, pose_from_code(torch.zeros(2, 6), 64))
    expected_lmk = project(model.mean[model.landmarks68].expand(2, -1, -1), out.pose)[..., :2]
    assert torch.allclose(out.landmarks2d, expected_lmk)
    assert out.mask.sum() > 0.3 * 2 * 64 * 64  # the face is in the picture


def test_untrained_heads_get_gradients_from_the_landmark_loss(model, hier):
    """At step 0 every code is 0; the identity and expression heads must still learn from the
    geometry (here: landmarks), not only once the decoder has moved away from its start."""
    net = small_net(model, hier).eval()
    out = net(torch.rand(2, 3, 64, 64), render=False)
    out.landmarks2d.sub(20.0).square().mean().backward()
    for head in ("id", "exp", "pose"):
        assert net.encoder.heads[head][-1].weight.grad.abs().sum() > 0, head


def test_render_false_skips_rasterisation_but_keeps_landmarks(model, hier):
    net = small_net(model, hier).eval()
    perturb_zero_layers(net)
    x = torch.rand(1, 3, 64, 64)
    full, light = net(x), net(x, render=False)
    assert light.render is None and light.image is None
    assert torch.allclose(full.landmarks2d, light.landmarks2d, atol=1e-5)
    with pytest.raises(ValueError, match="64×64"):
        net(torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize("stage", [1, 2])
def test_decode_then_render_output_is_the_forward_pass(model, hier, stage):
    """Training renders ``decode``'s output itself (outside autocast); it must be exactly the
    forward pass that inference runs, and the float32 copy must not change float32 tensors."""
    net = small_net(model, hier, stage=stage).eval()
    perturb_zero_layers(net)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = net(x)
        split = net.render_output(net.decode(x).float())
    assert split.render is not None and torch.equal(full.image, split.image)
    assert torch.equal(full.landmarks2d, split.landmarks2d) and torch.equal(full.render.tri_id, split.render.tri_id)
    assert (full.albedo_any.dim() == 3) == (stage == 1)


@pytest.mark.parametrize("stage, unused", [(1, "albedo_cnn."), (2, "albedo_decoder.")])
def test_gradients_reach_every_parameter_of_the_stage(model, hier, stage, unused):
    net = small_net(model, hier, stage=stage)
    perturb_zero_layers(net)
    out = net(torch.rand(2, 3, 64, 64))
    assert (out.albedo is None) == (stage == 2) and (out.albedo_map is None) == (stage == 1)
    loss = out.image.square().mean() + 1e-3 * out.landmarks2d.square().mean() + out.id_code.square().mean()
    loss.backward()
    for name, p in net.named_parameters():
        if name.startswith(unused):
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_stage_two_exports_per_vertex_albedo_from_the_map(model, hier):
    net = small_net(model, hier, stage=2).eval()
    out = net(torch.rand(2, 3, 64, 64))
    assert out.albedo_map.shape == (2, 3, 64, 64)
    albedo = net.vertex_albedo(out)
    assert albedo.shape == (2, model.mean.shape[0], 3)
    # Untrained: the map is the mean colour, the fallback (GCN) the template albedo.
    front = model.mean[:, 2] > 60  # visible from the frontal camera
    base = model.tex_mean.mean(0)
    assert torch.allclose(albedo[:, front], base.expand(2, int(front.sum()), 3), atol=1e-5)
    back = model.mean[:, 2] < -60
    assert torch.allclose(albedo[:, back], model.tex_mean[back].expand(2, -1, -1), atol=1e-5)
    with pytest.raises(ValueError):
        net.stage = 3


@pytest.mark.slow
def test_paper_preset_shapes_resnet50_224(model, hier):
    net = FaceNet(model, hier, encoder="resnet50", image_size=224, channels_last=True).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 224, 224))
    assert out.image.shape == (2, 3, 224, 224) and out.landmarks2d.shape == (2, 68, 2)
    assert [f.shape[1] for f in out.features] == [64, 256, 512, 1024, 2048]
    net.stage = 2
    with torch.no_grad():
        assert net(torch.rand(1, 3, 224, 224)).albedo_map.shape == (1, 3, 224, 224)


@pytest.mark.slow
def test_demo_preset_with_builtin_model(tmp_path):
    from photoface.facemodel import builtin_model

    face = builtin_model("demo")
    net = build_facenet(face, encoder="resnet18", image_size=128, cache_dir=tmp_path).eval()
    assert list(tmp_path.glob("mesh_hierarchy-*.npz"))
    assert net.hierarchy.sizes[0] == face.num_vertices and len(net.hierarchy.factors) == 5
    with torch.no_grad():
        out = net(torch.rand(2, 3, 128, 128))
    assert out.shape.shape == (2, face.num_vertices, 3)
    assert torch.equal(out.shape, face.mean.expand(2, -1, -1))
    assert out.image.shape == (2, 3, 128, 128) and out.landmarks2d.shape == (2, 68, 2)
    assert out.mask.mean() > 0.2
