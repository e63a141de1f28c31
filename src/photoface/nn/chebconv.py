"""Chebyshev graph convolution and sparse graph sampling, vertex-major, on CPU and GPU.

Layout: graph activations are VERTEX-MAJOR, ``(V, B, C)``, through a whole graph network. A
(V, B, C) tensor viewed as (V, B·C) is what a CSR sparse × dense product takes, and viewed as
(V·B, C) what a dense channel-mixing ``addmm`` takes, so no layer permutes or re-lays out its
activations (the decoder permutes once, at its output).

Chebyshev convolution (Defferrard et al. 2016, as used by COMA)::

    y = Σ_{k<K} T_k(L̂) x W_k + b,   T_0 = x,  T_1 = L̂ x,  T_k = 2 L̂ T_{k-1} − T_{k-2}

with ``L̂`` the rescaled Laplacian of :func:`photoface.mesh.graph.chebyshev_laplacian`
(symmetric, spectrum in [-1, 1]). Each term costs one sparse × dense product for the whole batch
(``T_k`` and the ``−T_{k-2}`` come out of a single sparse ``addmm``) and is consumed at once by a
dense ``addmm`` into the output; the K terms are never stacked. The backward pass is written by
hand: it runs the same recursion backwards (Clenshaw), again one sparse product per term, and
reuses ``L̂`` itself because it is symmetric, so no transpose is ever formed. It is written with
differentiable operations, so second derivatives (the WGAN-div gradient penalty on the GCN
discriminator) work too.

Sparse matrices are ``torch.sparse_csr_tensor`` with 32-bit indices (MKL and cuSPARSE take 32-bit
indices; 64-bit ones are converted, i.e. copied, on every CPU product). They are deliberately NOT
module buffers: derived from the template, they must not enter state_dicts or checkpoints, and
DistributedDataParallel would try to broadcast sparse buffers (unsupported) every step. The
modules keep them on the CPU and copy them to another device on first use there, once. Graph
products run in the matrices' dtype (float32) even under autocast: sparse kernels lack
half-precision support on some backends and the Laplacian recursion amplifies rounding.

Why not torch_geometric's ChebConv: it works node-major, (B, V, C) with an edge list, gathering
and scattering per edge for every term, and a COMA decoder built on it must permute around each
sparse up-sampling. The same decoder with the same weights is 7× (5k vertices) to 12× (37k)
slower in forward + backward on this CPU (benchmarks/bench_nn.py, docs/benchmarks.md), and
torch_geometric would be a heavy dependency for one layer.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch


def to_torch_csr(matrix, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """A scipy sparse matrix (or torch CSR tensor) as a torch sparse CSR tensor."""
    if isinstance(matrix, torch.Tensor):
        if matrix.layout != torch.sparse_csr:
            raise ValueError(f"expected a sparse CSR tensor, got layout {matrix.layout}")
        return matrix.to(dtype=dtype, device=device)
    m = sp.csr_matrix(matrix)
    m.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int32)),
            torch.from_numpy(m.indices.astype(np.int32)),
            torch.from_numpy(m.data).to(dtype),
            size=m.shape,
            check_invariants=False,
            device=device,
        )


def _spmm(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``a @ x`` into a fresh tensor (no graph)."""
    if x.device.type == "cpu":
        # torch.sparse.mm zero-fills its result and then copies it through addmm; with beta=0
        # the result is written once (the empty input is ignored, NaNs included).
        return torch.addmm(x.new_empty(a.shape[0], x.shape[1]), a, x, beta=0.0)
    return torch.sparse.mm(a, x)


def _spaddmm_(y: torch.Tensor, a: torch.Tensor, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``y + alpha · a @ x``, in place into ``y`` where the backend allows it (no graph)."""
    if y.device.type == "cpu":
        return torch.addmm(y, a, x, alpha=alpha, out=y)
    return torch.addmm(y, a, x, alpha=alpha)


def _transpose_csr(a: torch.Tensor) -> torch.Tensor:
    """Transpose of a torch CSR matrix, as CSR (computed once, at construction, via scipy)."""
    crow, col, val = (t.cpu().numpy() for t in (a.crow_indices(), a.col_indices(), a.values()))
    m = sp.csr_matrix((val, col, crow), shape=tuple(a.shape))
    return to_torch_csr(m.T.tocsr(), dtype=a.dtype, device=a.device)


class _SparseOnDevices:
    """CPU sparse matrices plus lazily made copies on other devices (see the module docstring)."""

    def __init__(self, *mats: torch.Tensor):
        self.cpu = mats
        self._copies: dict[str, tuple[torch.Tensor, ...]] = {}

    def on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        if device.type == "cpu":
            return self.cpu
        key = str(device)
        if key not in self._copies:
            self._copies[key] = tuple(m.to(device) for m in self.cpu)
        return self._copies[key]


class _SpMM(torch.autograd.Function):
    """``y = A x`` for CSR ``A`` (N, M) and dense ``x`` (M, D); backward uses the given ``Aᵀ``."""

    @staticmethod
    def forward(ctx, a, a_t, x):
        ctx.mats = (a, a_t)
        return _spmm(a, x)

    @staticmethod
    def backward(ctx, g):
        a, a_t = ctx.mats
        return None, None, _SpMM.apply(a_t, a, g.contiguous())


def sparse_mm(a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Differentiable (to any order in ``x``) product of CSR ``a`` (N, M) with dense (M, D)."""
    return _SpMM.apply(a, a_t, x)


class _ChebConvFunction(torch.autograd.Function):
    """Fused Chebyshev convolution; see the module docstring. x: (V, B, Cin) → (V, B, Cout)."""

    @staticmethod
    def forward(ctx, x, lap, weight, bias):
        v, b, cin = x.shape
        k_terms, _, cout = weight.shape
        t_prev2 = x.view(v, b * cin)
        rows = lambda t: t.view(v * b, cin)  # noqa: E731  (same memory, channel-mixing view)
        out = torch.mm(rows(t_prev2), weight[0]) if bias is None else torch.addmm(bias, rows(t_prev2), weight[0])
        terms = [t_prev2]
        if k_terms > 1:
            t_prev = _spmm(lap, t_prev2)
            out.addmm_(rows(t_prev), weight[1])
            terms.append(t_prev)
            for k in range(2, k_terms):
                t_k = torch.addmm(t_prev2, lap, t_prev, beta=-1.0, alpha=2.0)
                out.addmm_(rows(t_k), weight[k])
                terms.append(t_k)
                t_prev2, t_prev = t_prev, t_k
        ctx.lap = lap
        ctx.shape = (v, b, cin, cout)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight, *terms[1:])
        return out.view(v, b, cout)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, *higher = ctx.saved_tensors
        lap = ctx.lap
        v, b, cin, cout = ctx.shape
        k_terms = weight.shape[0]
        g = grad_out.contiguous().view(v * b, cout)
        differentiable = torch.is_grad_enabled()

        def spaddmm(y, t, alpha):
            """``y + alpha · L̂ t`` on (V, B·Cin) views; may overwrite ``y`` when not differentiable."""
            if differentiable:
                return y + alpha * sparse_mm(lap, lap, t)
            return _spaddmm_(y, lap, t, alpha)

        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # Clenshaw: a_k = G_k + 2 L̂ a_{k+1} − a_{k+2},  dx = G_0 + L̂ a_1 − a_2,  G_k = g W_kᵀ.
            a1 = a2 = None
            for k in range(k_terms - 1, -1, -1):
                if a2 is None:
                    ak = torch.mm(g, weight[k].t())
                elif differentiable:
                    ak = torch.addmm(a2.view(v * b, cin), g, weight[k].t(), beta=-1.0)
                else:  # a_{k+2} is a temporary of this loop: reuse its memory
                    a2v = a2.view(v * b, cin)
                    ak = torch.addmm(a2v, g, weight[k].t(), beta=-1.0, out=a2v)
                ak = ak.view(v, b * cin)
                if a1 is not None:
                    ak = spaddmm(ak, a1, 1.0 if k == 0 else 2.0)
                a1, a2 = ak, a1
            grad_x = a1.view(v, b, cin)
        if ctx.needs_input_grad[2]:
            terms = [x.view(v, b * cin), *higher]
            if differentiable:
                # The saved terms carry no graph; rebuild them so d(grad_w)/dx is tracked too.
                terms = terms[:1]
                for k in range(1, k_terms):
                    if k == 1:
                        terms.append(sparse_mm(lap, lap, terms[0]))
                    else:
                        terms.append(spaddmm(-terms[k - 2], terms[k - 1], 2.0))
                grad_w = torch.stack([torch.mm(t.view(v * b, cin).t(), g) for t in terms])
            else:
                grad_w = torch.empty_like(weight)
                for k, t in enumerate(terms):
                    torch.mm(t.view(v * b, cin).t(), g, out=grad_w[k])
        if ctx.has_bias and ctx.needs_input_grad[3]:
            grad_b = g.sum(0)
        return grad_x, None, grad_w, grad_b


class ChebConv(torch.nn.Module):
    """Chebyshev graph convolution on a fixed graph, vertex-major.

    Args:
        in_channels, out_channels: feature sizes.
        laplacian: (V, V) rescaled Laplacian L̂ (scipy sparse or torch CSR); must be symmetric.
        K: number of Chebyshev terms (the paper's 6).
        bias: add a learned bias per output channel.

    Shapes: ``forward(x (V, B, Cin)) -> (V, B, Cout)``.
    """

    def __init__(self, in_channels: int, out_channels: int, laplacian, K: int = 6, bias: bool = True):
        super().__init__()
        if K < 1:
            raise ValueError(f"K must be ≥ 1, got {K}")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.laplacian = laplacian
        self.weight = torch.nn.Parameter(torch.empty(K, in_channels, out_channels))
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Glorot over the K terms taken together as one (K·Cin)-wide input.
        bound = math.sqrt(6.0 / (self.K * self.in_channels + self.out_channels))
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    @property
    def laplacian(self) -> torch.Tensor:
        """(V, V) CSR L̂ on the CPU; its dtype is the dtype the convolution computes in."""
        return self._lap.cpu[0]

    @laplacian.setter
    def laplacian(self, value) -> None:
        dtype = value.dtype if isinstance(value, torch.Tensor) else torch.float32
        self._lap = _SparseOnDevices(to_torch_csr(value, dtype=dtype, device="cpu"))

    @property
    def num_vertices(self) -> int:
        return self.laplacian.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.num_vertices or x.shape[2] != self.in_channels:
            raise ValueError(
                f"ChebConv expects (V={self.num_vertices}, B, C={self.in_channels}), got {tuple(x.shape)}"
            )
        (lap,) = self._lap.on(x.device)
        dtype = lap.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            bias = None if self.bias is None else self.bias.to(dtype)
            return _ChebConvFunction.apply(x.to(dtype).contiguous(), lap, self.weight.to(dtype), bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, K={self.K}, V={self.num_vertices}"


class GraphSampling(torch.nn.Module):
    """Applies a fixed sparse sampling matrix (COMA down- or up-sampling), vertex-major.

    Args:
        matrix: (V_out, V_in) scipy sparse or torch CSR.

    Shapes: ``forward(x (V_in, B, C)) -> (V_out, B, C)``.
    """

    def __init__(self, matrix):
        super().__init__()
        self.matrix = matrix

    @property
    def matrix(self) -> torch.Tensor:
        """(V_out, V_in) CSR on the CPU; its dtype is the dtype the product computes in."""
        return self._mats.cpu[0]

    @matrix.setter
    def matrix(self, value) -> None:
        dtype = value.dtype if isinstance(value, torch.Tensor) else torch.float32
        m = to_torch_csr(value, dtype=dtype, device="cpu")
        self._mats = _SparseOnDevices(m, _transpose_csr(m))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v_out, v_in = self.matrix.shape
        if x.dim() != 3 or x.shape[0] != v_in:
            raise ValueError(f"GraphSampling expects (V={v_in}, B, C), got {tuple(x.shape)}")
        _, b, c = x.shape
        m, m_t = self._mats.on(x.device)
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = sparse_mm(m, m_t, x.to(m.dtype).contiguous().view(v_in, b * c))
        return y.view(v_out, b, c)

    def extra_repr(self) -> str:
        return f"{self.matrix.shape[1]} -> {self.matrix.shape[0]} vertices"
