"""PCA of stacked generator fields whose bits do not depend on the machine or the thread count.

The procedural bases are the principal components of a few hundred generator fields (N ≲ 256
rows of length D = 3V). A BLAS product or a LAPACK eigensolver sums in an order that depends on
the thread count and on the CPU's kernels (AVX2 / AVX-512, MKL / OpenBLAS / Accelerate), and an
eigenvector amplifies a last-bit change of its input by 1 / (eigenvalue gap), so the float32
bases used to differ between machines. Three steps make every bit reproducible:

1. **Snap the generators to an integer grid** (``snap``): G = Q · 2^e with integer Q, |Q| ≤ 2^b
   and b = ⌊(53 − ⌈log2 D⌉) / 2⌋ (19 bits at demo resolution, 18 at paper). The grid step is
   2e-6 to 4e-6 of the largest generator entry: 15 nm for the identity fields (demo), twice the
   7.6e-6 mm float32 spacing of a 100 mm coordinate; 2.4e-7 for albedo. It also absorbs
   last-bit differences of the libm functions (exp, …) that computed G: a one-ulp change moves a
   snapped value only if it sits within one ulp of a grid midpoint. Summed over the demo's
   generators, a one-ulp change of every entry would flip about 3e-6 snapped values per basis,
   so such a difference survives in roughly one build in 10^5.
2. **Exact Gram matrix**: every product Q_i Q_j is an integer below 2^(2b) and every partial sum
   of D of them stays below 2^53, so ``Q @ Qᵀ`` in float64 is exact in any summation order, on
   any BLAS, with any number of threads.
3. **Cyclic Jacobi eigensolver in plain numpy** (``jacobi_eigh``): only +, −, ×, ÷ and √ on
   arrays, which IEEE 754 rounds identically everywhere, in a fixed order (round-robin pairs,
   each round's disjoint rotations applied at once). The eigenvectors are then split into two
   integer matrices on the grids 2^−c and 2^−2c, c = 53 − b − ⌈log2 N⌉ (26–27 bits), so that the
   projection onto the generators, ``Vᵀ @ Q``, is two exact integer products and one rounding.

The modes come out in float64 and are rounded once, to float32, by ``MorphableModel``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

MANTISSA = 53  # float64 significand bits


def grid_bits(d: int) -> int:
    """Bits b of a snapped entry such that D products of two of them sum exactly in float64."""
    return (MANTISSA - math.ceil(math.log2(max(d, 2)))) // 2


def snap(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Round ``x`` to integers Q with |Q| ≤ 2^bits on the grid 2^e; returns (Q as float64, e).

    The grid is a power of two so that scaling by it is exact; ``x == 0`` gives (0, 0).
    """
    x = np.asarray(x, dtype=np.float64)
    top = float(np.abs(x).max()) if x.size else 0.0
    if top == 0.0:
        return np.zeros_like(x), 0
    e = math.frexp(top)[1] - bits  # top < 2^frexp exponent, so |Q| ≤ 2^bits
    return np.rint(np.ldexp(x, -e)), e


def round_significand(x: np.ndarray, bits: int) -> np.ndarray:
    """``x`` rounded to ``bits`` significant bits (exactly, through frexp/ldexp)."""
    m, ex = np.frexp(np.asarray(x, dtype=np.float64))
    return np.ldexp(np.rint(np.ldexp(m, bits)), ex - bits)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 product through torch's BLAS; callers keep it exact, so its thread count is free."""
    return (torch.from_numpy(np.ascontiguousarray(a)) @ torch.from_numpy(np.ascontiguousarray(b))).numpy()


@functools.lru_cache(maxsize=8)
def _round_robin(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n − 1 rounds of n/2 disjoint pairs (p < q) covering every pair once (n even)."""
    players = list(range(n))
    rounds = []
    for _ in range(n - 1):
        p = np.array([min(players[i], players[n - 1 - i]) for i in range(n // 2)])
        q = np.array([max(players[i], players[n - 1 - i]) for i in range(n // 2)])
        rounds.append((p, q))
        players = [players[0], players[-1]] + players[1:-1]
    return rounds


def jacobi_eigh(a: np.ndarray, max_sweeps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of a symmetric (N, N) float64 matrix by cyclic Jacobi rotations.

    Returns (eigenvalues (N,), eigenvectors (N, N) as columns), unsorted. Deterministic to the bit
    for a given input (see the module docstring). Sweeps stop once every off-diagonal entry is
    below max(1e-15·sqrt(|a_pp a_qq|), eps·max|a_ii|) (high relative accuracy down to the
    rounding noise); at most ``max_sweeps`` sweeps, 8–10 in practice for N ≈ 200.

    Each round rotates N/2 disjoint pairs at once. ``Jᵀ A J`` is computed as two row operations,
    ``Jᵀ (Jᵀ A)ᵀ``, which equals it for symmetric A; rounding leaves A symmetric only to the last
    bit, which the rotations (they read a_pp, a_qq and a_pq) do not mind.
    """
    a = np.array(a, dtype=np.float64)
    n0 = a.shape[0]
    n = n0 + (n0 % 2)
    if n != n0:  # an odd size gets a decoupled zero row and column, removed at the end
        a = np.pad(a, ((0, 1), (0, 1)))
    vt = np.eye(n)  # eigenvectors as rows, so that every update is a row operation
    rounds = _round_robin(n)
    # Below eps·max|a_ii| an off-diagonal entry is rounding noise; rotating it away would only
    # churn (a rank-deficient Gram matrix has eigenvalues at that noise level).
    floor = np.finfo(np.float64).eps * float(np.abs(np.diagonal(a)).max(initial=0.0)) + np.finfo(np.float64).tiny

    def rotate_rows(m, p, q, c, s):
        mp, mq = m[p], m[q]
        m[p] = c[:, None] * mp - s[:, None] * mq
        m[q] = s[:, None] * mp + c[:, None] * mq

    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_sweeps):
            d = np.abs(np.diagonal(a))
            off = np.abs(a - np.diag(np.diagonal(a)))
            if not np.any(off > np.maximum(1e-15 * np.sqrt(np.outer(d, d)), floor)):
                break
            for p, q in rounds:
                app, aqq, apq = a[p, p], a[q, q], a[p, q]
                rotate = np.abs(apq) > np.maximum(1e-15 * np.sqrt(np.abs(app * aqq)), floor)
                if not rotate.any():
                    continue
                p, q, app, aqq, apq = p[rotate], q[rotate], app[rotate], aqq[rotate], apq[rotate]
                theta = (aqq - app) / (2.0 * apq)
                t = np.sign(theta) / (np.abs(theta) + np.sqrt(theta * theta + 1.0))
                t = np.where(np.isfinite(t), np.where(theta == 0.0, 1.0, t), 0.0)
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                rotate_rows(a, p, q, c, s)
                a = np.ascontiguousarray(a.T)
                rotate_rows(a, p, q, c, s)
                a[p, q] = 0.0
                a[q, p] = 0.0
                rotate_rows(vt, p, q, c, s)
    return np.diagonal(a)[:n0].copy(), np.ascontiguousarray(vt[:n0, :n0].T)


def pca_modes(generators: np.ndarray, n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA of stacked generator fields: modes ``S_k U_k`` ordered by variance.

    ``generators`` (N, D) are the rows of G; the covariance of ``Σ_i c_i G_i`` with standard-normal
    ``c`` is ``GᵀG``, whose eigenvectors scaled by the root eigenvalues are the returned modes
    (n_modes, D) float64, so standard-normal coefficients on them reproduce the same distribution.
    Solved through the small N×N Gram matrix (N ≪ D). The sign of each mode is fixed so that its
    largest-magnitude entry is positive. Also returns the singular values (n_modes,).
    """
    g = np.asarray(generators, dtype=np.float64)
    n, d = g.shape
    b = grid_bits(d)
    q, e = snap(g, b)
    gram = _matmul(q, q.T)  # exact: integers below 2^53 (see grid_bits)
    evals, evecs = jacobi_eigh(gram)
    order = np.argsort(-evals, kind="stable")[:n_modes]
    c = MANTISSA - b - math.ceil(math.log2(max(n, 2)))
    # Eigenvectors as a sum of two integer matrices on the grids 2^-c and 2^-2c (|entries| ≤ 2^c,
    # products ≤ 2^(b+c)), so that both projections are exact integer products; their sum is
    # rounded once, giving the eigenvectors' full float64 precision.
    v = evecs[:, order]
    hi = np.rint(np.ldexp(v, c))
    lo = np.rint(np.ldexp(v - np.ldexp(hi, -c), 2 * c))
    modes = np.ldexp(_matmul(hi.T, q), e - c) + np.ldexp(_matmul(lo.T, q), e - 2 * c)
    big = np.abs(modes).argmax(axis=1)
    modes *= np.sign(modes[np.arange(order.size), big])[:, None]
    s = np.sqrt(np.maximum(np.ldexp(evals[order], 2 * e), 0.0))
    return modes, s
