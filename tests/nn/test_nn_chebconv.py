import numpy as np
import pytest
import scipy.sparse as sp
import torch
import trimesh

from photoface.mesh.graph import chebyshev_laplacian
from photoface.nn.chebconv import ChebConv, GraphSampling, _ChebConvFunction, to_torch_csr

ICO = trimesh.creation.icosphere(1)  # 42 vertices
V = len(ICO.vertices)
LHAT = chebyshev_laplacian(ICO.faces, V)


def dense_cheb(x, lhat, weight, bias):
    """Explicit T_k recursion with a dense L̂; x (V, B, C)."""
    terms = [x]
    if weight.shape[0] > 1:
        terms.append(torch.einsum("ij,jbc->ibc", lhat, x))
    for _ in range(2, weight.shape[0]):
        terms.append(2 * torch.einsum("ij,jbc->ibc", lhat, terms[-1]) - terms[-2])
    return sum(t @ w for t, w in zip(terms, weight)) + bias


def conv64(cin, cout, k):
    torch.manual_seed(0)
    conv = ChebConv(cin, cout, LHAT, K=k).double()
    conv.laplacian = to_torch_csr(LHAT, torch.float64)
    torch.nn.init.normal_(conv.bias)
    return conv


@pytest.mark.parametrize("k", [1, 2, 6])
def test_chebconv_forward_and_gradient_match_dense_reference(k):
    conv = conv64(3, 5, k)
    lhat = torch.from_numpy(LHAT.toarray())
    x = torch.randn(V, 4, 3, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    w = conv.weight.detach().clone().requires_grad_()
    b = conv.bias.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y_ref = dense_cheb(x_ref, lhat, w, b)
    assert y.shape == (V, 4, 5)
    assert torch.allclose(y, y_ref, atol=1e-12)
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-12)
    assert torch.allclose(conv.weight.grad, w.grad, atol=1e-12)
    assert torch.allclose(conv.bias.grad, b.grad, atol=1e-12)


def test_chebconv_second_derivatives_for_gradient_penalty():
    small = trimesh.creation.icosphere(0)  # 12 vertices keep the numerical Hessian cheap
    lap = to_torch_csr(chebyshev_laplacian(small.faces, 12), torch.float64)
    torch.manual_seed(0)
    x = torch.randn(12, 1, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)

    def fn(x, w, b):
        return torch.tanh(_ChebConvFunction.apply(x, lap, w, b))

    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b), fast_mode=True)


def test_chebconv_float32_matches_and_rejects_wrong_layout():
    conv = ChebConv(3, 4, LHAT, K=6)
    x = torch.randn(V, 2, 3)
    ref = dense_cheb(x.double(), torch.from_numpy(LHAT.toarray()), conv.weight.double(), conv.bias.double())
    assert torch.allclose(conv(x).double(), ref, atol=1e-5)
    with pytest.raises(ValueError, match="expects"):
        conv(torch.randn(2, V, 3))  # batch-major input is a bug, not a silent reshape
    assert conv.laplacian.crow_indices().dtype == torch.int32


def test_graph_sampling_matches_dense_both_ways():
    rng = np.random.default_rng(0)
    m = sp.random(7, V, density=0.1, random_state=1, format="csr")
    samp = GraphSampling(to_torch_csr(m, torch.float64))
    x = torch.from_numpy(rng.normal(size=(V, 3, 2))).requires_grad_()
    y = samp(x)
    dense = torch.from_numpy(m.toarray())
    assert torch.allclose(y, torch.einsum("ij,jbc->ibc", dense, x))
    g = torch.randn_like(y)
    y.backward(g)
    assert torch.allclose(x.grad, torch.einsum("ji,jbc->ibc", dense, g))
    x_small = x.detach()[:, :1, :1].clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: samp(t).square(), (x_small,), fast_mode=True)


def test_graph_sampling_default_matrices_are_float32_transposes():
    m = sp.random(7, V, density=0.1, random_state=2, format="csr")
    samp = GraphSampling(m)
    assert samp.matrix.dtype == torch.float32
    assert np.allclose(samp._mats.cpu[1].to_dense().numpy(), m.T.toarray(), atol=1e-7)


def test_sparse_matrices_stay_out_of_state_dict_and_buffers():
    conv = ChebConv(3, 4, LHAT, K=6)
    samp = GraphSampling(LHAT)
    assert set(conv.state_dict()) == {"weight", "bias"}
    assert not list(conv.buffers()) and not list(samp.buffers()) and not samp.state_dict()
