import pytest
import torch
import trimesh

from photoface.mesh.hierarchy import MeshHierarchy
from photoface.nn.chebconv import GraphSampling
from photoface.nn.decoders import AlbedoDecoder, GraphDecoder, ShapeDecoder


@pytest.fixture(scope="module")
def hier():
    ico = trimesh.creation.icosphere(4, radius=80.0)  # 2562 vertices, 5 levels down to 6
    return MeshHierarchy.build(ico.vertices, ico.faces, (4, 4, 4, 4, 2))


def test_decoder_follows_the_paper_layout(hier):
    dec = GraphDecoder(192, hier)
    sizes = hier.sizes
    assert dec.fc.out_features == sizes[5] * 256
    ups = [m for m in dec.up if isinstance(m, GraphSampling)]
    # US(2) first (level 5 → 4), then US(4) four times up to the template.
    assert [tuple(u.matrix.shape) for u in ups] == [(sizes[i], sizes[i + 1]) for i in (4, 3, 2, 1, 0)]
    assert [(c.in_channels, c.out_channels, c.K, c.num_vertices) for c in dec.convs] == [
        (256, 256, 6, sizes[4]), (256, 128, 6, sizes[3]), (128, 64, 6, sizes[2]),
        (64, 32, 6, sizes[1]), (32, 16, 6, sizes[0]),
    ]
    assert (dec.out_conv.in_channels, dec.out_conv.out_channels) == (16, 3)
    with pytest.raises(ValueError, match="hierarchy"):
        GraphDecoder(8, hier, channels=(8,) * 6)


def test_shape_decoder_starts_at_the_mean_and_adds_mm_offsets(hier):
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    dec = ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8))
    idc, exc = torch.randn(3, 8), torch.randn(3, 4)
    zero = dec(torch.zeros(3, 8), torch.zeros(3, 4))
    assert torch.equal(zero, mean.expand(3, -1, -1))  # the zero code: exactly the template
    out = dec(idc, exc)
    assert out.shape == (3, len(mean), 3)
    off = dec.offsets(idc, exc)
    assert torch.allclose(dec(idc, exc), mean + off)
    assert not torch.allclose(off[0], off[1])  # the code matters from the start
    dec.offset_scale *= 2
    assert torch.allclose(dec.offsets(idc, exc), 2 * off, atol=1e-5)


def test_albedo_decoder_is_template_albedo_at_init_and_stays_in_unit_range(hier):
    v = hier.levels[0].n_vertices
    tex = torch.rand(v, 3) * 0.9 + 0.05
    dec = AlbedoDecoder(hier, tex, id_dim=8, channels=(16, 16, 8, 8, 8))
    out = dec(torch.zeros(2, 8))
    assert torch.allclose(out, tex.expand(2, -1, -1), atol=1e-6)
    with torch.no_grad():
        dec.net.out_conv.bias.fill_(50.0)
    out = dec(torch.randn(2, 8))
    assert out.min() >= 0 and out.max() <= 1 and out.mean() > 0.99


def test_gradients_reach_every_decoder_parameter(hier):
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    dec = ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8))
    idc = torch.randn(2, 8, requires_grad=True)
    dec(idc, torch.randn(2, 4)).square().mean().backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert idc.grad.abs().sum() > 0


@pytest.mark.parametrize("which", ["id", "exp"])
def test_codes_get_gradients_at_the_zero_code(hier, which):
    """The encoder's heads start at zero, so training begins at the zero code; if the decoder's
    Jacobian were zero there too (a zero-initialised last layer), no code could learn until the
    decoder had, and the expression code stayed dead for hundreds of steps."""
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    dec = ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8))
    idc = torch.zeros(2, 8, requires_grad=True)
    exc = torch.zeros(2, 4, requires_grad=True)
    target = mean + torch.randn_like(mean)
    (dec(idc, exc) - target).abs().mean().backward()
    grad = idc.grad if which == "id" else exc.grad
    assert grad.abs().min() > 0


def test_linear_path_starts_at_the_given_basis_and_learns(hier):
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(12, len(mean), 3, generator=g)
    dec = ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8), linear_basis=basis)
    idc, exc = torch.randn(3, 8, generator=g), torch.randn(3, 4, generator=g)
    code = torch.cat([idc, exc], 1)
    gcn = dec.offset_scale * dec.net(code)
    expected = mean + torch.einsum("bj,jvc->bvc", code, basis) + gcn
    assert torch.allclose(dec(idc, exc), expected, atol=1e-4)
    assert torch.equal(dec(torch.zeros(1, 8), torch.zeros(1, 4)), mean[None])  # zero code: the template
    dec(idc, exc).sum().backward()
    assert dec.linear.weight.grad is not None and dec.linear.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="linear_basis"):
        ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8), linear_basis=basis[:5])
    assert ShapeDecoder(hier, mean, id_dim=8, exp_dim=4, channels=(16, 16, 8, 8, 8)).linear is None
