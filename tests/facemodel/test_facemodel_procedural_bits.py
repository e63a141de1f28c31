"""The built-in model's bits: exact products and a deterministic eigensolver in ``procedural.pca``,
and the same ``model_hash`` whatever the thread count or the CPU kernels (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from photoface.facemodel.io import model_hash
from photoface.facemodel.procedural import pca
from photoface.facemodel.procedural.cache import EXPECTED_HASHES

SRC = Path(__file__).resolve().parents[2] / "src"


def _generators(n=40, d=3000, seed=0):
    """Rows of very different sizes (like the procedural fields) with a decaying spectrum."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.exp(-np.arange(n) / 8.0)[:, None] * 3.7


def test_snapped_gram_is_exact_in_any_summation_order():
    g = _generators()
    b = pca.grid_bits(g.shape[1])
    q, e = pca.snap(g, b)
    assert np.abs(q).max() <= 2**b and np.array_equal(q, np.rint(q))
    assert np.abs(np.ldexp(q, e) - g).max() <= 2.0 ** (e - 1)  # rounded to the nearest grid point
    exact = q.astype(np.int64) @ q.astype(np.int64).T  # integer arithmetic: the true value
    assert np.array_equal(q @ q.T, exact.astype(np.float64))
    rev = q[:, ::-1].copy()  # another summation order, and torch's BLAS
    assert np.array_equal(rev @ rev.T, q @ q.T)
    assert np.array_equal(pca._matmul(q, q.T), q @ q.T)


def test_jacobi_agrees_with_lapack_also_on_close_and_zero_eigenvalues():
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(31, 31)))
    lam = np.concatenate([np.geomspace(1e6, 1e-3, 28), [5.0, 5.0 + 1e-9, 0.0]])  # odd size, a near tie, a zero
    a = (u * lam) @ u.T
    a = 0.5 * (a + a.T)
    w, v = pca.jacobi_eigh(a)
    ref = np.linalg.eigvalsh(a)
    assert np.abs(np.sort(w) - ref).max() < 1e-12 * lam.max()
    assert np.abs(v.T @ v - np.eye(31)).max() < 1e-12
    assert np.abs(a @ v - v * w).max() < 1e-12 * lam.max()


def test_pca_modes_reproduce_the_covariance_with_a_fixed_sign():
    g = _generators(n=30, d=900)
    modes, s = pca.pca_modes(g, 30)
    assert np.all(np.diff(s) <= 0)
    cov, ours = g.T @ g, modes.T @ modes
    assert np.abs(ours - cov).max() < 1e-5 * np.abs(cov).max()  # the grid snap is ~2^-19 of the largest entry
    big = np.abs(modes).argmax(1)
    assert np.all(modes[np.arange(30), big] > 0)
    assert np.allclose(np.linalg.norm(modes, axis=1), s, rtol=1e-9)


def test_pca_bits_do_not_depend_on_torch_threads():
    g = _generators(n=64, d=20000, seed=3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = pca.pca_modes(g, 20)[0]
        torch.set_num_threads(3)
        three = pca.pca_modes(g, 20)[0]
    finally:
        torch.set_num_threads(threads)
    assert one.tobytes() == three.tobytes()


def test_builtin_demo_has_the_expected_bits(demo_model):
    assert model_hash(demo_model) == EXPECTED_HASHES["builtin:demo"]


_BUILD = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from photoface.facemodel.io import model_hash
from photoface.facemodel.procedural import build_procedural_model
print(json.dumps({"threads": torch.get_num_threads(), "hash": model_hash(build_procedural_model("demo"))}))
"""
# Another x86 CPU's kernels, as far as one machine can pretend: OpenBLAS's Haswell kernels (scipy's
# nnls, numpy's products), MKL limited to AVX2, torch's scalar kernels, numpy's SIMD loops at the
# x86-64-v2 baseline (the names of numpy 2.4 and of older numpy; unknown ones are ignored).
OTHER_CPU = {"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "default",
             "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512F AVX512_SKX"}


@pytest.mark.slow
def test_thread_counts_and_cpu_kernels_give_the_same_model(demo_model):
    procs = []
    for threads, extra in ((1, {}), (2, {}), (5, {}), (2, OTHER_CPU)):
        env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), **extra}
        procs.append(subprocess.Popen([sys.executable, "-c", _BUILD, str(threads)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["threads"] for r in results] == [1, 2, 5, 2]
    assert {r["hash"] for r in results} == {model_hash(demo_model)}
