import math

import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.render.sh import (
    LIGHT_PRESETS,
    default_light,
    directional_light,
    light_preset,
    parse_light,
    sh_basis,
    sh_shading,
    sh_shading_grouped,
)


def fibonacci_sphere(n):
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    phi = i * math.pi * (3 - math.sqrt(5))
    r = torch.sqrt(1 - z * z)
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], -1)


def normal(x, y, z):
    return torch.nn.functional.normalize(torch.tensor([x, y, z], dtype=torch.float64), dim=0)


def test_basis_is_orthonormal_on_the_sphere():
    n = fibonacci_sphere(40000)
    y = sh_basis(n)
    gram = y.T @ y * (4 * math.pi / n.shape[0])
    assert torch.allclose(gram, torch.eye(9, dtype=torch.float64), atol=1e-3)


def test_basis_order_and_values_at_axes():
    ex, ey, ez = sh_basis(torch.eye(3, dtype=torch.float64))
    c1 = math.sqrt(3 / (4 * math.pi))
    assert torch.isclose(ez[0], torch.tensor(0.5 / math.sqrt(math.pi), dtype=torch.float64))
    assert torch.allclose(ey[1:4], torch.tensor([c1, 0, 0], dtype=torch.float64))  # Y1,-1 ∝ y
    assert torch.allclose(ez[1:4], torch.tensor([0, c1, 0], dtype=torch.float64))  # Y1,0 ∝ z
    assert torch.allclose(ex[1:4], torch.tensor([0, 0, c1], dtype=torch.float64))  # Y1,1 ∝ x
    assert torch.isclose(ez[6], torch.tensor(2 * 0.25 * math.sqrt(5 / math.pi), dtype=torch.float64))
    assert torch.isclose(ex[8], torch.tensor(0.25 * math.sqrt(15 / math.pi), dtype=torch.float64))


def test_zero_code_default_light_is_ambient_plus_frontal():
    total = default_light(dtype=torch.float64)
    n = torch.stack([normal(0, 0, 1), normal(1, 0, 0), normal(0, -1, 0), normal(0, 0, -1), normal(1, 1, 1)])
    shading = sh_shading(n, total)
    expected = 0.6 + 0.4 * n[:, 2]
    assert torch.allclose(shading, expected[:, None].expand(5, 3))


def test_directional_light_approximates_clamped_cosine():
    d = normal(0.3, 0.5, 0.8)
    coeffs = directional_light(d, intensity=2.0, dtype=torch.float64)
    n = fibonacci_sphere(2000)
    e = sh_shading(n, coeffs)[:, 0]
    cos = (n @ d).clamp_min(0)
    # Three bands reproduce the clamped cosine to within ~10% of the peak (Ramamoorthi & Hanrahan).
    assert (e - 2.0 * cos).abs().max() < 0.25
    assert torch.isclose(sh_shading(d[None], coeffs)[0, 0], torch.tensor(2.0 * 1.0625, dtype=torch.float64))


def test_light_code_is_channel_major():
    code = torch.zeros(27, dtype=torch.float64)
    code[9] = 1.0  # green DC
    shading = sh_shading(normal(0, 0, 1)[None], code)[0]
    assert shading[0] == 0 and shading[2] == 0 and shading[1] > 0


def test_gradcheck_shading_wrt_normals_and_light():
    n = torch.randn(5, 3, dtype=torch.float64).requires_grad_()
    light = torch.randn(5, 27, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(sh_shading, (n, light))


def test_presets_and_parsing():
    assert torch.allclose(light_preset("front"), torch.zeros(27), atol=1e-6)
    left = default_light() + light_preset("left")
    on_left, on_right = sh_shading(torch.tensor([[-1.0, 0, 0], [1.0, 0, 0]]), left)[:, 0]
    assert on_left > on_right + 0.3  # "left" lights the side on the image's left
    for name in LIGHT_PRESETS:
        assert light_preset(name).shape == (27,)
    assert torch.equal(parse_light("warm"), light_preset("warm"))
    assert torch.equal(parse_light(",".join(["0.5"] * 27)), torch.full((27,), 0.5))
    with pytest.raises(PhotofaceError, match="preset"):
        parse_light("sunset")
    with pytest.raises(PhotofaceError, match="27"):
        parse_light("1,2,3")


def test_grouped_shading_equals_per_point_shading():
    n = torch.nn.functional.normalize(torch.randn(10, 3, dtype=torch.float64), dim=-1)
    coeffs = torch.randn(3, 27, dtype=torch.float64)
    sizes = [4, 0, 6]
    item = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    assert torch.allclose(sh_shading_grouped(n, coeffs, sizes), sh_shading(n, coeffs[item]))


def test_gradcheck_grouped_shading():
    n = torch.randn(6, 3, dtype=torch.float64).requires_grad_()
    light = torch.randn(2, 27, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: sh_shading_grouped(a, b, [2, 4]), (n, light))
