import numpy as np
import pytest
import trimesh
from PIL import Image

from photoface.apps.render_face import render_model_image
from photoface.cli import main
from photoface.facemodel import MorphableModel


@pytest.fixture()
def egg_model():
    """A tiny 'face': an egg with a nose on +z and one identity mode that widens it."""
    m = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    v = m.vertices * np.array([70.0, 90.0, 50.0])
    bump = np.exp(-((v[:, 0] / 15.0) ** 2 + (v[:, 1] / 25.0) ** 2)) * (v[:, 2] > 0)
    v[:, 2] += 30.0 * bump
    n = len(v)
    widen = np.zeros((1, n, 3))
    widen[0, :, 0] = v[:, 0] * 0.2
    albedo = np.full((n, 3), 0.7)
    albedo[bump > 0.5] = (0.9, 0.1, 0.1)  # a red nose, to find it in pictures
    return MorphableModel(
        v, widen, np.zeros((0, n, 3)), albedo, np.zeros((0, n, 3)), m.faces,
        np.arange(68), np.arange(n), name="egg",
    )


def _face_columns(img, background):
    face = np.abs(img.astype(int) - np.array(background)).sum(-1) > 10
    return np.nonzero(face.any(0))[0], face


def test_default_render_is_frontal_centred_and_lit(egg_model):
    img = render_model_image(egg_model, size=64, background=(0.0, 0.0, 0.0))
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    cols, face = _face_columns(img, (0, 0, 0))
    assert abs((cols.min() + cols.max() + 1) / 2 - 32) <= 1  # centred
    assert img[face].max(-1).min() > 0.7 * 0.55 * 255  # lit everywhere by the default light
    wider = render_model_image(egg_model, alpha_id=[2.0], size=64, background=(0.0, 0.0, 0.0))
    assert _face_columns(wider, (0, 0, 0))[0].size > cols.size + 6


def test_yaw_moves_the_nose_to_the_image_right(egg_model):
    def nose_column(img):
        red = (img[..., 0] > 2 * img[..., 1].astype(int) + 20)
        assert red.sum() > 5
        return np.nonzero(red)[1].mean() + 0.5

    assert abs(nose_column(render_model_image(egg_model, size=64)) - 32) < 1
    assert nose_column(render_model_image(egg_model, yaw=40, size=64)) > 32 + 10
    assert nose_column(render_model_image(egg_model, yaw=-40, size=64)) < 32 - 10


def test_cli_renders_a_model_file(tmp_path, egg_model, capsys):
    path = tmp_path / "egg.npz"
    egg_model.save(path)
    out = tmp_path / "out" / "egg.png"
    assert main(["render", str(path), "--yaw", "20", "--light", "left", "--size", "48", "-o", str(out)]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (48, 48, 3)
    assert main(["render", str(path), "--light", ",".join(["0"] * 27), "--size", "32", "-o", str(out)]) == 0


def test_cli_renders_a_builtin_model_by_name(tmp_path, egg_model, monkeypatch):
    from photoface.facemodel import procedural

    asked = []
    monkeypatch.setattr(procedural, "builtin_model", lambda resolution: asked.append(resolution) or egg_model)
    out = tmp_path / "demo.png"
    assert main(["render", "builtin:demo", "--size", "32", "-o", str(out)]) == 0
    assert asked == ["demo"] and np.asarray(Image.open(out)).shape == (32, 32, 3)
    assert main(["render", "builtin:huge", "-o", str(out)]) == 1


def test_cli_reports_bad_input(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert main(["render", str(missing), "-o", str(tmp_path / "x.png")]) == 1
    assert "nope.npz" in capsys.readouterr().err
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"not a zip")
    assert main(["render", str(bad), "--light", "1,2", "-o", str(tmp_path / "x.png")]) == 1
