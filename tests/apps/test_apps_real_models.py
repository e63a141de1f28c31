"""README's "A real face model" and "FLAME" commands, run as written on small files in the real formats.

The commands are read from README.md itself, so the README cannot drift from what works. Each
runs through ``photoface.cli.main`` in a folder holding an ICT-FaceKit ``FaceXModel`` folder,
BFM 2009 + 3DDFA expression files (``tests/support/model_files.py``) or FLAME's pickle, landmark
embedding and masks (``tests/support/flame_files.py``), all written from the tests' tiny face
model. Only sizes change (identities, photos, image size, the test identity's folder) and flags
are appended that keep the run small: the tiny network of ``tiny_overrides``, 20 training steps,
one synth worker, 20 fitting iterations, one photo per identity and setting in the evaluation.
``transfer`` and ``verify`` then run on the same trained run.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from photoface.cli import main
from photoface.facemodel.io import load_model
from support.flame_files import write_flame_files
from support.model_files import write_bfm_files, write_ict_folder
from support.runs import tiny_face_model, tiny_overrides

README = Path(__file__).resolve().parents[2] / "README.md"
IDENTITIES, PHOTOS, SIZE, STEPS = 8, 4, 32, 20  # 8: two test identities, which verify's threshold needs


def readme_commands(model: str, block_title: str = "A real face model") -> list[list[str]]:
    """The argv lists of README's ``block_title`` block that concern ``model`` (bfm / ict / flame)."""
    text = README.read_text()
    block = re.search(r"\*\*" + re.escape(block_title) + r"\.\*\*.*?```\n(.*?)```", text, re.DOTALL)
    assert block, f"README.md lost its '{block_title}' commands"
    lines = [ln for ln in block.group(1).splitlines() if ln.startswith("photoface ")]
    return [shlex.split(ln)[1:] for ln in lines if model in ln]


RESIZED = ("--identities", "--photos-per-identity", "--size")
TEST_ID = re.compile(r"id\d{5}")


def _resized(argv: list[str]) -> list[str]:
    """README's argv with only sizes changed: the values of ``RESIZED`` and the test identity."""
    value_of = {"--identities": str(IDENTITIES), "--photos-per-identity": str(PHOTOS), "--size": str(SIZE)}
    out = [TEST_ID.sub(f"id{IDENTITIES - 1:05d}", a) for a in argv]
    for i, a in enumerate(argv[:-1]):
        if a in value_of:
            out[i + 1] = value_of[a]
    return out


def _appended(cmd: str, model_file: str) -> list[str]:
    """Flags added after README's arguments to keep the run small (module docstring)."""
    if cmd == "synth":
        return ["--workers", "1", "--quiet"]
    if cmd == "train":
        sets = [o for o in tiny_overrides(model_file) if not o.startswith("model.face_model=")]
        sets += ["model.encoder=resnet18", "data.workers=0", "schedule.stage1_steps=10", "schedule.stage2_steps=10"]
        return [x for o in sets for x in ("--set", o)] + ["--max-steps", str(STEPS), "--no-progress"]
    if cmd == "evaluate":
        return ["--max-photos", "1"]
    if cmd == "reconstruct":
        return ["--quiet"]
    if cmd == "fit":
        return ["--quiet", "--iterations", "20"]
    return []


def _run_chain(model: str, tmp_path: Path, monkeypatch, capsys, block_title: str = "A real face model",
               steps: tuple = ("model", "synth", "train", "evaluate", "reconstruct")) -> dict:
    monkeypatch.chdir(tmp_path)
    commands = readme_commands(model, block_title)
    assert [c[0] for c in commands] == list(steps)
    printed = {}
    for argv in commands:
        base = _resized(argv)
        for i, (a, b) in enumerate(zip(argv, base)):
            assert a == b or argv[i - 1] in RESIZED or TEST_ID.search(a), (argv, i)
        assert main(base + _appended(argv[0], f"models/{model}.npz")) == 0, argv
        printed[argv[0]] = capsys.readouterr().out
    assert main(["model", "info", f"models/{model}.npz"]) == 0
    printed["info"] = capsys.readouterr().out
    # the other apps on the same run: expression transfer and identity verification
    images = f"data/{model}224/images"
    a, b = f"{images}/id{IDENTITIES - 1:05d}", f"{images}/id{IDENTITIES - 2:05d}"
    source = sorted(Path(a).glob("*.png"))[0]
    assert main(["transfer", str(source), b, "--checkpoint", f"runs/{model}", "--out", f"transfer/{model}",
                 "--meshes", "--aligned"]) == 0
    assert Path(f"transfer/{model}/transfer.png").is_file()
    assert main(["verify", a, b, "--checkpoint", f"runs/{model}", "--aligned"]) == 0  # the calibrated threshold
    printed["verify"] = capsys.readouterr().out
    assert re.search(r"\d\.\d", printed["verify"])
    return printed


def _check_results(model: str, printed: dict, tmp_path: Path) -> None:
    m = load_model(tmp_path / f"models/{model}.npz")
    for name in ("eyes", "nose", "mouth", "cheeks"):
        assert name in m.regions and len(m.regions[name]) > 0, name
    assert "regions:     none" not in printed["info"] and "cheeks (" in printed["info"]
    assert ("procedural skin" in printed["info"]) == (m.n_tex == 0)
    data = tmp_path / f"data/{model}224"
    meta = json.loads((data / "meta.json").read_text())
    assert meta["image_size"] == SIZE
    info = json.loads((data / "identities/id00000.json").read_text())
    expect = "face model" if m.n_tex > 0 else "procedural"
    assert info["albedo_source"].startswith(expect)
    log = [json.loads(ln) for ln in (tmp_path / f"runs/{model}/metrics.jsonl").read_text().splitlines() if ln.strip()]
    assert max(r["step"] for r in log) == STEPS
    assert all(np.isfinite(r["total"]) and np.isfinite(r["critic"]) for r in log)
    result = json.loads((tmp_path / f"runs/{model}/eval_synthetic.json").read_text())
    for method in ("model", "mean_face", "landmark_fit"):  # the network and both baselines scored
        score = result[method]["shape_mm"]["identity"]["cooperative"]
        assert score["n"] >= 1 and score["failed"] == 0 and np.isfinite(score["mean"]), method
    recon = tmp_path / f"recon/{model}"
    objs = sorted(recon.glob("*.obj"))
    assert len(objs) == PHOTOS and all(o.stem.startswith(f"id{IDENTITIES - 1:05d}") for o in objs)
    assert (recon / f"{objs[0].stem}_panel.png").is_file() and objs[0].with_suffix(".json").is_file()


@pytest.mark.slow
def test_readme_ict_chain(tmp_path, monkeypatch, capsys):
    """ICT-FaceKit layout, 0 albedo modes, blendshape expressions: import → synth → train →
    evaluate synthetic → reconstruct, the README's commands."""
    m = tiny_face_model()
    write_ict_folder(m, tmp_path / "ICT-FaceKit" / "FaceXModel")
    printed = _run_chain("ict", tmp_path, monkeypatch, capsys)
    imported = load_model(tmp_path / "models/ict.npz")
    assert imported.n_tex == 0 and imported.exp_kind == "blendshape" and imported.n_exp == m.n_exp
    _check_results("ict", printed, tmp_path)


@pytest.mark.slow
def test_readme_bfm_chain(tmp_path, monkeypatch, capsys):
    """BFM 2009 with Guo et al.'s Exp_Pca.bin (3DDFA trim list and keypoints next to it): the
    README's commands."""
    m = tiny_face_model()
    write_bfm_files(m, tmp_path)
    printed = _run_chain("bfm", tmp_path, monkeypatch, capsys)
    imported = load_model(tmp_path / "models/bfm.npz")
    assert imported.n_tex == m.n_tex and imported.exp_kind == "pca" and imported.n_exp == m.n_exp
    _check_results("bfm", printed, tmp_path)


@pytest.mark.slow
def test_readme_flame_chain(tmp_path, monkeypatch, capsys):
    """FLAME 2020 pickle (chumpy objects, sparse regressor), DECA's embedding, FLAME_masks.pkl:
    import → synth → fit → train on synthetic + fitted labels → evaluate → reconstruct, the
    README's commands."""
    write_flame_files(tmp_path / "FLAME2020")
    printed = _run_chain("flame", tmp_path, monkeypatch, capsys, "FLAME",
                         ("model", "synth", "fit", "train", "evaluate", "reconstruct"))
    imported = load_model(tmp_path / "models/flame.npz")
    assert imported.n_id == 100 and imported.n_exp == 52 and imported.exp_names[-1] == "jaw_open_2"
    assert "fitted 8 person(s)" in printed["fit"]
    assert (tmp_path / "fitted/flame/labels/meta.json").is_file()
    _check_results("flame", printed, tmp_path)
