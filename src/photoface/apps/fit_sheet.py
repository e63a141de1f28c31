"""Contact sheets of ``photoface fit``: what it produces, person by person.

Each row is one person, captioned with the person's folder name: for each photo (up to
``max_photos``), the photo and the fitted face rendered over it (``NAME_overlay.png`` as ``fit``
writes it: the albedo read off the person's other photos × the photo's fitted SH shading, with the
photo's fitted expression
and pose, the whole mesh, faded out over its last ``figures.FEATHER_MM`` of open border), cut to a
square around the face; then the person's ONE shared identity mesh (neutral, ``identity.ply``) in grey
from three sides (with ambient occlusion), and once more from the front in the albedo read off all
its photos under a key light, so the face can be judged without the photo's lighting.

Every row goes through ``photoface fit``'s library function (``photoface.apps.fit.fit_photos``,
MediaPipe detector, its default settings; empty folders, faceless photos and the other faces of
group photos are left out as ``fit`` leaves them out, ``photoface.apps.fit_inputs``). Only the
single-photo fits are switched off: the sheet shows the shared fit.

* ``docs/fit_contact_sheet.png`` (no ``--photos``): rows 1-3 are synthetic people (``photoface
  synth``, built-in demo model, seed 7); the last row is scikit-image's astronaut photo (NASA,
  public domain) in the five forms of ``make fit-example`` (PNG, greyscale JPEG, EXIF-rotated
  JPEG, large JPEG, mirrored). Regenerate (a few minutes on 2 cores; needs scikit-image)::

      python -m photoface.apps.fit_sheet docs/fit_contact_sheet.png

* Any folder of person folders (real photos)::

      python -m photoface.apps.fit_sheet OUT.png --photos PERSON_FOLDERS [--max-people N] [--max-photos M]

  or ``make fit-sheet PHOTOS=PERSON_FOLDERS`` (writes ``fit_sheet.png``). A sheet of photos you may
  not publish stays out of the repository.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.apps.preview import render_faces
from photoface.data.format import META_FILE
from photoface.errors import InputFileError

TILE = 96
"""px: the side of every tile."""
FACE_MARGIN = 1.8
"""The photo window's side over the larger side of the 68 landmarks' box: the face and some context."""
SHEET_OVERRIDES = ("single_photo_fits=false",)


def _tile(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB").resize((TILE, TILE), Image.Resampling.LANCZOS))


def photo_tiles(record: dict, overlay_path: Path, inputs: Path) -> tuple[np.ndarray, np.ndarray]:
    """(photo, overlay) tiles (TILE, TILE, 3) uint8 of one fitted photo, cut to the face.

    Args:
        record: the photo's ``NAME.json`` from ``fit``.
        overlay_path: its ``NAME_overlay.png`` (the render over the original photo, maybe scaled
            down, or over the crop when the row has no source photo).
        inputs: what ``fit`` was given; a crop's path in ``record["photo"]`` is relative to it.
    """
    from photoface.data.prepare.images import load_photo

    with Image.open(overlay_path) as im:
        over = im.convert("RGB")
    if record.get("crop_transform") is None or record.get("landmarks_photo_px") is None:
        # an aligned crop (synthetic data, prepared datasets): fit drew over the crop itself
        path = Path(record["photo"])
        path = path if path.is_absolute() else inputs / path
        with Image.open(path) as im:
            photo = im.convert("RGB").resize(over.size, Image.Resampling.LANCZOS)
        return _tile(photo), _tile(over)
    loaded = load_photo(record["photo"], max_side=2048)
    photo = Image.fromarray(loaded.rgb).resize(over.size, Image.Resampling.LANCZOS)
    per_original = over.width / loaded.original_size[0]  # overlay px per original photo px
    lm = np.asarray(record["landmarks_photo_px"], np.float64) * per_original
    centre = 0.5 * (lm.min(axis=0) + lm.max(axis=0))
    half = 0.5 * FACE_MARGIN * float((lm.max(axis=0) - lm.min(axis=0)).max())
    box = tuple(int(round(v)) for v in (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
    return _tile(photo.crop(box)), _tile(over.crop(box))


def identity_tiles(face_model, identity_path: Path) -> list[np.ndarray]:
    """The identity mesh (``identity.ply``, mm, the model's vertex order): grey from
    ``figures.MESH_YAWS``, then front in its albedo; (TILE, TILE, 3) uint8 each."""
    import trimesh

    mesh = trimesh.load(identity_path, process=False)
    verts = torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32)[None]
    if verts.shape[1] != face_model.mean.shape[0]:
        raise InputFileError(identity_path, f"has {verts.shape[1]} vertices, the face model "
                                            f"{face_model.mean.shape[0]}: fitted with another model")
    albedo = torch.as_tensor(np.asarray(mesh.visual.vertex_colors)[:, :3] / 255.0, dtype=torch.float32)[None]
    grey = list(figures.mesh_views(face_model, verts, TILE)[0])
    return grey + [render_faces(face_model, verts, albedo, 0.0, TILE)[0]]


def person_row(face_model, folder: Path, inputs: Path, max_photos: int) -> np.ndarray:
    """One person's row (module docstring) from ``fit``'s output folder of that person."""
    person = json.loads((folder / "person.json").read_text())
    tiles = []
    for name in person["photos"][:max_photos]:
        record = json.loads((folder / f"{name}.json").read_text())
        tiles += photo_tiles(record, folder / f"{name}_overlay.png", inputs)
    tiles += identity_tiles(face_model, folder / "identity.ply")
    return figures.label(figures.hstack(tiles), folder.name)


def fitted_rows(inputs: str | Path, work: Path, model: str = "builtin:demo", max_people: int | None = None,
                max_photos: int = 5, overrides: Sequence[str] = (), progress: bool = False) -> list[np.ndarray]:
    """Fit ``inputs`` (a folder of person folders, or a prepared dataset) with ``fit_photos`` into
    ``work`` and return one row per fitted person (module docstring), people in name order."""
    from photoface.apps.fit import fit_photos
    from photoface.facemodel import load_face_model

    inputs = Path(inputs)
    quiet = {} if progress else {"log": lambda _: None}
    res = fit_photos(inputs, work, model=model, overrides=[*SHEET_OVERRIDES, *overrides], progress=progress, **quiet)
    face_model = load_face_model(model)
    folders = sorted(p.parent for p in res.out_dir.glob("*/person.json"))[:max_people]
    return [person_row(face_model, f, inputs, max_photos) for f in folders]


def write_rows(rows: list[np.ndarray], path: str | Path) -> Path:
    """Stack the rows (padded to one width) into a small PNG at ``path``."""
    if not rows:
        raise InputFileError(Path(path), "no person was fitted: nothing to draw")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_small_png(Image.fromarray(figures.vstack(rows)), path)
    return path


def write_photos_sheet(photos: str | Path, path: str | Path, model: str = "builtin:demo",
                       max_people: int | None = None, max_photos: int = 5, overrides: Sequence[str] = (),
                       progress: bool = False) -> Path:
    """The sheet of a folder of person folders (module docstring), written to ``path`` (PNG)."""
    with tempfile.TemporaryDirectory() as tmp:
        photos, tmp = Path(photos), Path(tmp)
        if max_people is not None and photos.is_dir() and not (photos / META_FILE).is_file():
            # fit only the people shown: links to the first person folders (prepare follows them)
            (tmp / "photos").mkdir()
            for folder in sorted(d for d in photos.iterdir() if d.is_dir() and not d.name.startswith("."))[:max_people]:
                (tmp / "photos" / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
            photos = tmp / "photos"
        rows = fitted_rows(photos, tmp / "fit", model, max_people, max_photos, overrides, progress)
    return write_rows(rows, path)


def write_sheet(path: str | Path, overrides: Sequence[str] = (), progress: bool = False) -> Path:
    """``docs/fit_contact_sheet.png``: synthetic people and the astronaut (module docstring)."""
    from photoface.apps.fit_example import write_fixtures
    from photoface.data.synth.collection import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synthesize("builtin:demo", 3, 5, tmp / "synth", size=128, seed=7, test_fraction=0.0, workers=1,
                   progress=False)
        rows = fitted_rows(tmp / "synth", tmp / "fit_synth", overrides=overrides, progress=progress)
        write_fixtures(tmp / "photos" / "astronaut")
        rows += fitted_rows(tmp / "photos", tmp / "fit_photos", overrides=overrides, progress=progress)
    return write_rows(rows, path)


def save_small_png(image: Image.Image, path: Path) -> None:
    """A 256-colour PNG: a third of the size of the RGB one, no visible loss on these renders."""
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="a contact sheet of photoface fit (module docstring)")
    ap.add_argument("out", nargs="?", default="docs/fit_contact_sheet.png", help="PNG to write")
    ap.add_argument("--photos", help="a folder of person folders (default: synthetic people and the astronaut)")
    ap.add_argument("--model", default="builtin:demo", help="face model (with --photos)")
    ap.add_argument("--max-people", type=int, default=None, help="the first N person folders by name (only those are fitted)")
    ap.add_argument("--max-photos", type=int, default=5, help="photos shown per person (all are fitted)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="FitConfig override, as for photoface fit")
    args = ap.parse_args(argv)
    if args.photos is None:
        print(write_sheet(args.out, args.overrides, progress=True))
    else:
        print(write_photos_sheet(args.photos, args.out, args.model, args.max_people, args.max_photos,
                                 args.overrides, progress=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
