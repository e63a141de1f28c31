"""``model build-procedural`` with default arguments writes the built-in model bit for bit, so
data and runs made with the file and with ``builtin:demo`` mix (issue 15), and data recorded with
an older builder's hash is refused with advice."""

from __future__ import annotations

import json

import pytest

from photoface.cli import main
from photoface.facemodel import builtin_model, load_model, model_hash
from photoface.facemodel.procedural.cache import PREVIOUS_HASHES
from support.runs import tiny_overrides

pytestmark = pytest.mark.slow


def _sets(face_model: str) -> list[str]:
    out = []
    for o in tiny_overrides(face_model):
        if not o.startswith("model.image_size="):
            out += ["--set", o]
    return out + ["--set", "model.image_size=128"]


def _synth(model: str, out) -> None:
    assert main(["synth", "--model", model, "--identities", "2", "--photos-per-identity", "4",
                 "--labeled-fraction", "0.5", "--test-fraction", "0", "--size", "128", "--seed", "3",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 0


def test_the_model_file_and_builtin_demo_are_interchangeable(tmp_path, capsys):
    path = tmp_path / "demo.npz"
    assert main(["model", "build-procedural", "-o", str(path)]) == 0
    assert model_hash(load_model(path)) == model_hash(builtin_model("demo"))

    _synth(str(path), tmp_path / "from_file")
    _synth("builtin:demo", tmp_path / "from_builtin")
    for data, face_model in ((tmp_path / "from_builtin", str(path)), (tmp_path / "from_file", "builtin:demo")):
        run = tmp_path / f"run_{data.name}"
        assert main(["train", "--preset", "demo", "--data", str(data), "--out", str(run), "--max-steps", "1",
                     "--no-progress", *_sets(face_model)]) == 0, capsys.readouterr().err
        assert (run / "checkpoints" / "last.pt").is_file()

    # The same data, as if made by builder 3 (the first PREVIOUS_HASHES entry): refused, saying what changed
    # and what to do.
    meta_path = tmp_path / "from_builtin" / "meta.json"
    meta = json.loads(meta_path.read_text())
    old = next(h for h, (spec, _) in PREVIOUS_HASHES.items() if spec == "builtin:demo")
    meta["face_model_hash"] = old
    meta_path.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["train", "--preset", "demo", "--data", str(tmp_path / "from_builtin"), "--out",
                 str(tmp_path / "refused"), "--max-steps", "1", "--no-progress", *_sets("builtin:demo")]) == 1
    err = capsys.readouterr().err
    assert "built-in face model builtin:demo changed" in err
    assert old[:12] in err and model_hash(builtin_model("demo"))[:12] in err
    assert "photoface synth" in err
