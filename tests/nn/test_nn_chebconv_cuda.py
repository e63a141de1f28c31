"""ChebConv and GraphSampling on CUDA against the CPU: values, gradients, second derivatives and
autocast. The GPU paths differ from the CPU ones (cuSPARSE products, out-of-place sparse addmm,
device copies of the CSR matrices), so each is compared on the same weights and inputs.

The graph is the tiny test face model's (support.runs), so these tests need no mesh library:
the benchmark machine's image may lack trimesh (benchmarks/gpu/run.sh runs this file there).
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from photoface.mesh.graph import chebyshev_laplacian
from photoface.nn.chebconv import ChebConv, GraphSampling
from support.runs import tiny_face_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FACES = tiny_face_model().faces.numpy()
V = int(FACES.max()) + 1
LHAT = chebyshev_laplacian(FACES, V)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ / ‖b‖ with ``a`` brought to ``b``'s device and dtype."""
    a, b = a.detach().to(b.device, b.dtype), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def pair(cin=3, cout=4, k=6):
    torch.manual_seed(0)
    cpu = ChebConv(cin, cout, LHAT, K=k)
    torch.nn.init.normal_(cpu.bias)
    gpu = ChebConv(cin, cout, LHAT, K=k).cuda()
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu


def test_chebconv_on_cuda_matches_cpu_values_and_gradients():
    cpu, gpu = pair()
    x = torch.randn(V, 5, 3, requires_grad=True)
    xg = x.detach().cuda().requires_grad_()
    w = torch.randn(V, 5, 4)
    (cpu(x) * w).sum().backward()
    (gpu(xg) * w.cuda()).sum().backward()
    assert rel(gpu(xg).detach(), cpu(x).detach()) < 1e-5
    assert rel(xg.grad, x.grad) < 1e-5
    assert rel(gpu.weight.grad, cpu.weight.grad) < 1e-5
    assert rel(gpu.bias.grad, cpu.bias.grad) < 1e-5


def test_chebconv_on_cuda_second_derivative_matches_cpu():
    # the WGAN-div penalty differentiates the critic's input gradient again
    grads = []
    cpu, gpu = pair()
    for conv, dev in ((cpu, "cpu"), (gpu, "cuda")):
        x = torch.randn(V, 2, 3, generator=torch.Generator().manual_seed(1)).to(dev).requires_grad_()
        (gx,) = torch.autograd.grad(conv(x).tanh().sum(), x, create_graph=True)
        gx.square().sum().backward()
        grads.append((gx.detach(), x.grad, conv.weight.grad))
    for g_gpu, g_cpu in zip(grads[1], grads[0]):
        assert rel(g_gpu, g_cpu) < 1e-4


def test_graph_sampling_on_cuda_matches_cpu():
    rng = np.random.default_rng(0)
    m = sp.random(40, V, density=0.05, random_state=rng, format="csr")
    samp = GraphSampling(m)
    x = torch.randn(V, 3, 2, dtype=torch.float32, requires_grad=True)
    xg = x.detach().cuda().requires_grad_()
    y, yg = samp(x), samp(xg)
    y.square().sum().backward()
    yg.square().sum().backward()
    assert rel(yg.detach(), y.detach()) < 1e-5
    assert rel(xg.grad, x.grad) < 1e-5


def test_chebconv_on_cuda_under_bf16_autocast_computes_in_float32():
    cpu, gpu = pair()
    x = torch.randn(V, 2, 3)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = gpu(x.cuda().bfloat16())
    assert y.dtype == torch.float32
    # only the input was rounded to bf16: the graph products ran in float32
    assert rel(y, cpu(x.bfloat16().float())) < 1e-5
