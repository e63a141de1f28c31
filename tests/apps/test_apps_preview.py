import numpy as np
import pytest
import torch

from photoface.apps.preview import expressions_image, render_faces, views_image, write_previews
from photoface.facemodel.procedural import build_procedural_model


@pytest.fixture(scope="module")
def model():
    return build_procedural_model("demo")


def test_render_faces_frames_the_face_in_the_middle(model):
    img = render_faces(model, model.mean[None].expand(2, -1, -1), model.tex_mean[None].expand(2, -1, -1),
                       torch.tensor([0.0, 90.0]), 64)
    assert img.shape == (2, 64, 64, 3) and img.dtype == np.uint8
    bg = round(0.16 * 255)
    for im in img:
        covered = np.abs(im.astype(int) - bg).sum(-1) > 6
        assert covered[32, 32]  # the face is in the centre
        assert not covered[0, 0] and not covered[-1, -1]  # with margins
        assert 0.15 < covered.mean() < 0.8


def test_sheets_have_one_tile_per_item(model, monkeypatch):
    import photoface.apps.preview as preview

    calls = []

    def fake_render(m, verts, albedo, yaw, size, pitch_deg=0.0, frame="mask"):
        calls.append(verts.shape[0])
        return np.zeros((verts.shape[0], size, size, 3), np.uint8)

    monkeypatch.setattr(preview, "render_faces", fake_render)
    assert views_image(model, size=32).shape == (64, 96, 3)
    sheet = expressions_image(model, size=24, cols=7)
    assert sheet.shape == (24 * 5, 24 * 7, 3)  # 35 expressions
    assert sum(calls) == 3 + 3 + 35


def test_write_previews_writes_three_pngs(model, tmp_path, monkeypatch):
    import photoface.apps.preview as preview

    tile = preview._grid([np.zeros((8, 8, 3), np.uint8)], 1)  # the pictures are tested above
    for name in ("views_image", "identities_image", "expressions_image"):
        monkeypatch.setattr(preview, name, lambda m: tile)
    paths = write_previews(model, tmp_path, prefix="x")
    assert [p.name for p in paths] == ["x_views.png", "x_identities.png", "x_expressions.png"]
    assert all(p.stat().st_size > 0 for p in paths)
