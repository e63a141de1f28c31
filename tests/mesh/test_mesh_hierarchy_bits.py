"""The hierarchy of a template has the same bits whatever the thread count or CPU kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoface.mesh.hierarchy import MeshHierarchy

SRC = Path(__file__).resolve().parents[2] / "src"
OTHER_CPU = {"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "default",
             "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512F AVX512_SKX"}
_BUILD = """
import sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from photoface.mesh.hierarchy import MeshHierarchy
z = np.load(sys.argv[1])
print(MeshHierarchy.build(z["vertices"], z["faces"], (4, 4, 4)).digest())
"""


@pytest.mark.slow
def test_thread_counts_and_cpu_kernels_give_the_same_hierarchy(tmp_path):
    from photoface.facemodel import builtin_model

    demo = builtin_model("demo")
    verts, faces = demo.mean.double().numpy(), demo.faces.numpy()
    np.savez(tmp_path / "t.npz", vertices=verts, faces=faces)
    procs = []
    for threads, extra in ((1, {}), (5, {}), (2, OTHER_CPU)):
        env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), **extra}
        procs.append(subprocess.Popen([sys.executable, "-c", _BUILD, str(tmp_path / "t.npz"), str(threads)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    digests = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        digests.append(out.strip())
    assert set(digests) == {MeshHierarchy.build(verts, faces, (4, 4, 4)).digest()}
