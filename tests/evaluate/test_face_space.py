"""``evaluate face-space``: known answers on the tiny face model and derived copies of it."""

import json

import numpy as np
import pytest

from photoface.cli import main
from photoface.evaluate.face_space import evaluate_face_space, sample_identities
from photoface.facemodel.io import save_model
from support.runs import tiny_face_model
from support.transformed_models import offset_model, similar_model

QUICK = dict(identities=2, iterations=4, protocol_options={"max_iterations": 20})


@pytest.fixture(scope="module")
def tiny():
    return tiny_face_model()


def _sym(res, method):
    return res[method]["symmetric_mm"]["mean"]


def test_the_draw_is_seeded(tiny):
    a, faces = sample_identities(tiny, 3, seed=4)
    assert np.array_equal(a, sample_identities(tiny, 3, seed=4)[0]) and not np.array_equal(
        a, sample_identities(tiny, 3, seed=5)[0])
    assert faces.shape == (3, tiny.num_vertices, 3)
    assert np.allclose(faces[1], tiny.mean.double().numpy() + np.tensordot(a[1], tiny.id_basis.double().numpy(), 1))


@pytest.mark.slow
def test_a_model_against_itself(tiny, tmp_path):
    res = evaluate_face_space(tiny, tiny, out_dir=tmp_path, **QUICK)
    # the same mean face, so the same numbers; its own faces lie in its span, so the floor is ~0
    assert _sym(res, "model_mean") == _sym(res, "reference_mean") > 1.0
    assert _sym(res, "registration_floor") < 0.15 * _sym(res, "reference_mean")
    assert res["registration_floor"]["max_abs_coefficient"]["max"] > 0
    assert {"nose", "cheeks", "forehead", "jaw"} <= set(res["model_mean"]["regions"])
    saved = json.loads((tmp_path / "face_space.json").read_text())
    assert saved["meta"]["benchmark"] == "face_space" and len(saved["identities"]) == 2
    assert "the floor" in (tmp_path / "face_space.md").read_text()
    assert (tmp_path / "face_space_errors.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_moved_and_scaled_copy_scores_like_the_model(tiny):
    moved = similar_model(tiny, 1.1, [0.08, 0.12, -0.05], [10.0, -5.0, 3.0])
    res = evaluate_face_space(tiny, moved, **QUICK)
    assert _sym(res, "model_mean") == pytest.approx(_sym(res, "reference_mean"), abs=0.03)
    assert _sym(res, "registration_floor") < 0.15 * _sym(res, "reference_mean")


@pytest.mark.slow
def test_an_offset_nose_shows_in_the_nose_region(tiny):
    from photoface.evaluate.face_space import reference_regions

    nose = reference_regions(tiny)["nose"]
    res = evaluate_face_space(tiny, offset_model(tiny, nose, [0.0, 0.0, 3.0]), **QUICK)

    def shift(region):
        return (res["model_mean"]["regions"][region]["signed_mm"]["mean"]
                - res["reference_mean"]["regions"][region]["signed_mm"]["mean"])
    assert shift("nose") > 1.5
    assert abs(shift("forehead")) < 0.5 and abs(shift("jaw")) < 0.5


@pytest.mark.slow
def test_the_command_takes_files_and_builtin_names(tiny, tmp_path, monkeypatch, capsys):
    import photoface.evaluate.face_space as face_space
    from photoface.facemodel import procedural

    path = save_model(tiny, tmp_path / "ref.npz")
    monkeypatch.setattr(procedural, "builtin_model", lambda resolution: tiny)
    calls = []
    real = face_space.evaluate_face_space
    monkeypatch.setattr(face_space, "evaluate_face_space",
                        lambda *a, **k: calls.append((a, k)) or real(*a, **{**k, **QUICK}))
    out = tmp_path / "fs"
    assert main(["evaluate", "face-space", "--reference", str(path), "--model", "builtin:demo", "--identities", "2",
                 "--seed", "3", "--out", str(out), "--quiet"]) == 0
    assert calls[0][0] == (str(path), "builtin:demo") and calls[0][1]["seed"] == 3
    assert "face_space.json" in capsys.readouterr().out
    meta = json.loads((out / "face_space.json").read_text())["meta"]
    assert meta["model"]["spec"] == "builtin:demo" and meta["reference"]["name"] == "ref.npz"
    assert main(["evaluate", "face-space", "--reference", str(tmp_path / "none.npz"), "--out", str(out)]) == 1
    assert "none.npz" in capsys.readouterr().err
