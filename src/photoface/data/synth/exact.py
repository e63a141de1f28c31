"""Linear algebra whose bits do not depend on the BLAS kernel, for synth's same-bytes promise.

A matrix product's summation order is the BLAS's choice: on the AVX-512 build machine MKL with
``MKL_ENABLE_INSTRUCTIONS=AVX2`` gave other last bits than MKL's own choice for the float32 linear
shape (``mean + A alpha``) and for the label fit's products, and that changed 15 of the 37 files
of tests/data/synth/test_synth_bits.py (details, meshes, scans, index.jsonl). Here every output is
a fixed sequence of elementwise IEEE operations (exactly rounded, so the same on every SIMD width)
and, for dot products, numpy's pairwise summation along a contiguous axis (a fixed order written
in numpy's C source). Everything is float64; callers round to float32 at the end, where a float64
difference of a few ulps, from a source not covered here (LAPACK's QR), would have to sit on a
float32 rounding boundary to show.

Cost (``benchmarks/bench_synth.py``, idle 2-core machine, one thread, medians; docs/benchmarks.md):
on the built-in demo model's 135 modes × 14,391 coordinates a combination takes 1.0 ms (torch's
float32 product 0.34 ms) and the 135 dot products 1.9 ms (0.33 ms); the label fit of one labeled
photo went from 2.8 to 11 ms, and synth's wall time per photo from 14.5 to 17.7 ms (10,000
photos: about 3.0 instead of 2.5 minutes). That is the price of the promise.
"""

from __future__ import annotations

import numpy as np


def combine(coeffs: np.ndarray, basis: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """``offset + coeffs @ basis``, mode by mode.

    Args:
        coeffs: (K,) or (B, K) coefficients. basis: (K, N). offset: (N,) or None (zeros).

    Returns:
        (N,) or (B, N) float64.
    """
    c = np.asarray(coeffs, np.float64)
    b = np.asarray(basis, np.float64)
    single = c.ndim == 1
    c = c[None] if single else c
    out = np.zeros((c.shape[0], b.shape[1]), np.float64)
    if offset is not None:
        out += np.asarray(offset, np.float64)[None]
    for k in range(b.shape[0]):
        out += c[:, k:k + 1] * b[k][None]
    return out[0] if single else out


def rows_dot(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``a @ x`` for (R, C) ``a`` and (C,) ``x``: each row's products summed pairwise. Returns (R,) float64."""
    prod = np.ascontiguousarray(np.asarray(a, np.float64) * np.asarray(x, np.float64)[None])
    return np.add.reduce(prod, axis=1)
