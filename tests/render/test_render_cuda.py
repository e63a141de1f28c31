"""The renderer on CUDA against the CPU: rasterisation, shading, landmarks and the gradients the
training losses send back to vertices, albedo, pose code and light.

The mesh is the tiny test face model's (support.runs), a face-like open cap turned by a few
poses, so these tests need no mesh library (the benchmark machine's image may lack trimesh).
"""

import pytest
import torch

from photoface.render.camera import pose_from_code
from photoface.render.renderer import Renderer
from support.runs import tiny_face_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SIZE = 48


def scene(dtype, batch=3, seed=0):
    """(verts (B, V, 3), albedo (B, V, 3), pose code (B, 6), light (B, 27), faces, landmark ids)."""
    model = tiny_face_model()
    g = torch.Generator().manual_seed(seed)
    verts = (model.mean[None] + 2.0 * torch.randn(batch, *model.mean.shape, generator=g)).to(dtype)
    albedo = (model.tex_mean[None] + 0.05 * torch.randn(batch, *model.mean.shape, generator=g)).to(dtype)
    code = 0.3 * torch.randn(batch, 6, generator=g, dtype=torch.float64)
    code[0] = 0.0  # one frontal face
    light = 0.2 * torch.randn(batch, 27, generator=g, dtype=torch.float64)
    return verts, albedo, code.to(dtype), light.to(dtype), model.faces, model.landmarks68


def render(device, dtype, requires_grad=False):
    verts, albedo, code, light, faces, lms = scene(dtype)
    leaves = [t.to(device).requires_grad_(requires_grad) for t in (verts, albedo, code, light)]
    v, a, c, li = leaves
    out = Renderer(faces, SIZE).to(device).render(v, a, pose_from_code(c, SIZE), li, landmarks=lms.to(device))
    return out, leaves


def test_cuda_render_matches_cpu():
    cpu, _ = render("cpu", torch.float32)
    gpu, _ = render("cuda", torch.float32)
    assert cpu.mask.sum() > 0.2 * cpu.mask.numel()  # the faces fill the frame
    same = gpu.tri_id.cpu() == cpu.tri_id
    # float32 edge tests may flip a pixel on a shared triangle edge, nothing more
    assert same.float().mean() > 0.995
    keep = same[:, None].expand_as(cpu.image)
    assert torch.allclose(gpu.image.cpu()[keep], cpu.image[keep], atol=1e-4)
    assert torch.allclose(gpu.landmarks2d.cpu(), cpu.landmarks2d, atol=1e-3)
    assert torch.equal(gpu.mask.cpu()[same[:, None]], cpu.mask[same[:, None]])


def test_cuda_render_gradients_match_cpu():
    # float64 on both sides: no pixel changes triangle, so gradients agree to summation order
    grads, tri = [], []
    for device in ("cpu", "cuda"):
        out, leaves = render(device, torch.float64, requires_grad=True)
        tri.append(out.tri_id.cpu())
        target = torch.linspace(0, 1, out.image.numel(), dtype=torch.float64).view_as(out.image).to(device)
        loss = ((out.image - target) * out.mask).abs().sum() + out.landmarks2d.square().sum() * 1e-3
        loss.backward()
        grads.append([t.grad for t in leaves])
    assert torch.equal(tri[0], tri[1]), f"{int((tri[0] != tri[1]).sum())} pixels see another triangle on CUDA"
    for name, g_cpu, g_gpu in zip(("verts", "albedo", "pose code", "light"), *grads):
        assert g_cpu.abs().sum() > 0, name
        err = float((g_gpu.cpu() - g_cpu).norm() / g_cpu.norm())
        assert err < 1e-6, (name, err)
