"""``photoface now-predict`` in both modes on a NoW-layout folder of real photos, then scored by
``photoface evaluate now``: the submission's layout is what the protocol reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from photoface.cli import main
from photoface.evaluate.now_files import LANDMARKS7_FROM_68, read_mesh, write_pp
from photoface.facemodel.io import save_model
from support.model_files import write_obj
from support.runs import tiny_face_model

QUICK = ["--set", "light_iterations=2", "--set", "photo_iterations=2", "--set", "landmark_iterations=5"]


@pytest.fixture(scope="module")
def now_root(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("now")
    m = tiny_face_model()
    save_model(m, root / "tiny.npz")
    rgb = data.astronaut()
    lines = []
    pictures = root / "NoW_Dataset/final_release_version/iphone_pictures"
    for subject in ("S1", "S2"):
        for challenge, name, img in (("multiview_neutral", "IMG_1", rgb), ("selfie", "IMG_2", rgb[:, ::-1])):
            (pictures / subject / challenge).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(img)).save(pictures / subject / challenge / f"{name}.jpg")
            lines.append(f"{subject}/{challenge}/{name}.jpg")
        v, f = m.mean.double().numpy(), m.faces.numpy()
        (root / "scans" / subject).mkdir(parents=True)
        (root / "scans_lmks_onlypp" / subject).mkdir(parents=True)
        write_obj(root / "scans" / subject / "scan.obj", v, faces=f)
        write_pp(root / "scans_lmks_onlypp" / subject / "scan.pp", v[m.landmarks68.numpy()[LANDMARKS7_FROM_68]])
    (root / "imagepathsvalidation.txt").write_text("\n".join(lines) + "\n")
    return root, lines, m


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single-image", "multi-image"])
def test_now_predict_writes_the_challenge_layout_and_scores(now_root, tmp_path, mode, capsys):
    root, lines, m = now_root
    out = tmp_path / "pred"
    assert main(["now-predict", str(root), "--out", str(out), "--mode", mode, "--model", str(root / "tiny.npz"),
                 "--size", "64", "--quiet"] + QUICK) == 0
    summary = json.loads((out / "now_predictions.json").read_text())
    assert summary["mode"] == mode and summary["predicted"] == 4 and summary["missing"] == []
    assert summary["people_fitted"] == (2 if mode == "multi-image" else 4)
    meshes = {}
    for line in lines:
        stem = out / line[:-4]
        verts, _ = read_mesh(stem.with_suffix(".obj"))
        np.testing.assert_allclose(np.load(stem.with_suffix(".npy")),
                                   verts[m.landmarks68.numpy()[LANDMARKS7_FROM_68]], atol=1e-5)
        meshes[line] = verts
    same = np.allclose(meshes[lines[0]], meshes[lines[1]])
    assert same == (mode == "multi-image")  # one identity per subject, or one per image
    capsys.readouterr()
    assert main(["evaluate", "now", str(out), "--data", str(root), "--mode", mode, "--quiet"]) == 0
    assert f"NoW ({mode})" in capsys.readouterr().out
    result = json.loads((out / "eval_now.json").read_text())
    assert result["meta"]["n_scored"] == 4 and result["meta"]["mode"] == mode
    assert ("Multi-image" in (out / "eval_now.md").read_text()) == (mode == "multi-image")
