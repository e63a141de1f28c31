"""``synth``'s promise, same arguments → same bytes, across thread counts, worker counts and x86
CPU kernels, checked in fresh processes (the thread settings only take effect at start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_SCRIPT = """
import hashlib, json, sys
from pathlib import Path


def main():
    import torch
    torch.set_num_threads(int(sys.argv[2]))
    from photoface.data.synth import synthesize
    from support.runs import tiny_face_model
    root = Path(sys.argv[1])
    model = tiny_face_model()
    if sys.argv[4] == "no-albedo":  # the procedural skin's landmark transfer is part of the bytes then
        from photoface.facemodel import MorphableModel
        model = MorphableModel(model.mean, model.id_basis, model.exp_basis, model.tex_mean, model.tex_basis[:0],
                               model.faces, model.landmarks68, model.mirror)
    model.save(root.parent / "tiny.npz")
    synthesize(str(root.parent / "tiny.npz"), 3, 3, root, labeled_fraction=0.5, size=64, seed=7,
               test_fraction=0.34, workers=int(sys.argv[3]), progress=False)
    print(json.dumps({str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(root.rglob("*")) if p.is_file() and p.name != "progress.jsonl"}))


if __name__ == "__main__":
    main()
"""
# An AVX2 machine instead of this AVX-512 one, as far as one machine can pretend.
AVX2_CPU = {"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
            "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512F AVX512_SKX"}


@pytest.mark.slow
@pytest.mark.parametrize("albedo", ["modes", "no-albedo"])
def test_same_bytes_for_any_thread_and_worker_count_and_avx2_kernels(tmp_path, albedo):
    script = tmp_path / "run_synth.py"  # a file: worker processes re-import the main module
    script.write_text(_SCRIPT)
    runs = []
    for i, (threads, workers, extra) in enumerate(((1, 1, {}), (5, 2, {}), (2, 1, AVX2_CPU))):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "OPENBLAS_NUM_THREADS": str(threads), **extra}
        out = tmp_path / f"run{i}" / "ds"
        out.parent.mkdir()
        runs.append(subprocess.Popen([sys.executable, str(script), str(out), str(threads), str(workers), albedo], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    files = []
    for p in runs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr
        files.append(json.loads(stdout.strip().splitlines()[-1]))
    assert len(files[0]) > 3 * 3 * 3  # images, masks, meshes, identities, scans, index, meta
    assert files[1] == files[0] and files[2] == files[0]
