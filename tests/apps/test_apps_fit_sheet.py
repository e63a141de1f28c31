"""The fit contact sheet: one captioned row per person, photo | overlay tiles, identity views."""

import numpy as np
import pytest
from PIL import Image

from photoface.apps import figures
from photoface.apps.fit_sheet import TILE, fitted_rows, main, write_photos_sheet
from photoface.errors import InputFileError
from photoface.facemodel.io import save_model
from support.runs import tiny_face_model, write_tiny_dataset

QUICK = ["light_iterations=2", "photo_iterations=2", "landmark_iterations=5"]
GAP = 2


def tiles_of(row: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` tiles of a row, below its caption."""
    body = row[figures.LABEL_H:]
    return [body[:, k * (TILE + GAP):k * (TILE + GAP) + TILE] for k in range(count)]


def not_white(tile: np.ndarray) -> float:
    return float((tile.astype(int).sum(axis=2) < 3 * 250).mean())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit_sheet")
    model_path = root / "tiny_model.npz"
    model = tiny_face_model()
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path, n_ids=2, per_id=3, test_ids=0)
    return root, data, str(model_path)


def test_rows_are_people_with_photo_overlay_and_identity_tiles(tiny):
    root, data, model = tiny
    rows = fitted_rows(data, root / "fit", model=model, max_photos=2, overrides=QUICK)
    assert len(rows) == 2  # two people
    for row in rows:
        # caption, then 2 × (photo, overlay) + 3 grey views + 1 albedo view
        assert row.shape[0] == figures.LABEL_H + TILE
        assert row.shape[1] == 8 * TILE + 7 * GAP
        tiles = tiles_of(row, 8)
        for photo, over in (tiles[0:2], tiles[2:4]):
            changed = np.abs(photo.astype(int) - over.astype(int)).sum(axis=2) > 10
            assert 0.1 < changed.mean() < 0.95  # the face is drawn over the photo, not over all of it
        for view in tiles[4:]:
            assert not_white(view) > 0.05
        grey, albedo = tiles[5], tiles[7]  # front views: grey and in the fitted albedo
        assert not np.array_equal(grey, albedo)
    sheet_path = root / "sheet.png"
    assert main([str(sheet_path), "--photos", str(data), "--model", model, "--max-people", "1",
                 "--max-photos", "1", *[a for o in QUICK for a in ("--set", o)]]) == 0
    with Image.open(sheet_path) as im:
        assert im.size == (6 * TILE + 5 * GAP, figures.LABEL_H + TILE)


def test_no_person_fitted_is_a_clear_error(tmp_path, tiny):
    _, _, model = tiny
    (tmp_path / "photos" / "empty_person").mkdir(parents=True)
    with pytest.raises(InputFileError, match="no photos"):
        write_photos_sheet(tmp_path / "photos", tmp_path / "sheet.png", model=model, overrides=QUICK)


@pytest.mark.slow
def test_raw_photo_folders_through_fit(tmp_path):
    """Real-format photos (the astronaut fixtures) in person folders: an empty folder skipped, the
    folders past --max-people left out."""
    pytest.importorskip("skimage")
    import shutil

    from photoface.apps.fit_example import write_fixtures

    photos = tmp_path / "photos"
    paths = write_fixtures(photos / "astronaut")
    (photos / "mirrored").mkdir()
    paths[-1].rename(photos / "mirrored" / paths[-1].name)
    (photos / "a_nobody").mkdir()
    (photos / "zz_extra").mkdir()
    shutil.copy(paths[0], photos / "zz_extra")
    out = write_photos_sheet(photos, tmp_path / "sheet.png", max_people=3, max_photos=2, overrides=QUICK)
    with Image.open(out) as im:
        sheet = np.asarray(im.convert("RGB"))
    row_h = figures.LABEL_H + TILE
    assert sheet.shape[0] == 2 * row_h + GAP  # astronaut, mirrored; no row for the empty folder, zz_extra past N
    first = sheet[:row_h]
    photo, over = tiles_of(first, 2)
    assert np.abs(photo.astype(int) - over.astype(int)).sum(axis=2).mean() > 5
