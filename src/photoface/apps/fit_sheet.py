"""``docs/fit_contact_sheet.png``: what ``photoface fit`` produces, person by person.

Each row is one person: for each photo, the photo and the fitted face rendered over it (with the
photo's fitted expression, pose and light), then the person's ONE shared identity mesh (neutral,
grey, three views). Rows 1-3 are synthetic people (``photoface synth``, built-in demo model,
seed 7); the last row is scikit-image's astronaut photo (NASA, public domain) in the five forms of
``make fit-example`` (PNG, greyscale JPEG, EXIF-rotated JPEG, large JPEG, mirrored).

Regenerate: ``python -m photoface.apps.fit_sheet docs/fit_contact_sheet.png`` (a few minutes on
2 cores; needs scikit-image for the astronaut row).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.fit import FitConfig, fit_collection
from photoface.render.renderer import Renderer

TILE = 96


def person_row(ds, face_model, rows, fit, renderer, max_photos: int) -> np.ndarray:
    """photo | overlay pairs for up to ``max_photos`` photos, then three views of the identity mesh."""
    with torch.no_grad():
        d = fit.params.decode()
        out = renderer.render(d.shape, d.albedo, d.pose, d.light)
    tiles = []
    for i, row in enumerate(rows[:max_photos]):
        crop = ds.load_image(row)
        over = out.image[i].clamp(0, 1) * out.mask[i] + crop * (1 - out.mask[i])
        for t in (crop, over):
            tiles.append(np.asarray(Image.fromarray(figures.to_uint8(t)).resize((TILE, TILE), Image.Resampling.LANCZOS)))
    views = figures.mesh_views(face_model, fit.params.neutral_shape(), TILE)[0]
    tiles += list(views)
    return figures.hstack(tiles)


def fitted_rows(ds, face_model, cfg, max_photos: int) -> list[np.ndarray]:
    renderer = Renderer(face_model.faces, ds.meta.image_size)
    cfg = dataclasses.replace(cfg, single_photo_fits=False)  # the sheet shows the shared fit only
    return [person_row(ds, face_model, rows, fit, renderer, max_photos)
            for _, rows, fit in fit_collection(ds, face_model, cfg)]


def write_sheet(path: str | Path, cfg: FitConfig | None = None) -> Path:
    """Build the sheet of the module docstring and write it to ``path`` (PNG)."""
    from photoface.apps.fit_example import write_fixtures
    from photoface.data.prepare import PrepareOptions, prepare_photos
    from photoface.data.synth.collection import synthesize
    from photoface.facemodel import load_face_model

    cfg = cfg or FitConfig()
    model = load_face_model("builtin:demo")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth = synthesize("builtin:demo", 3, 5, tmp / "synth", size=128, seed=7, test_fraction=0.0, workers=1,
                           progress=False)
        rows = fitted_rows(synth, model, cfg, 5)
        write_fixtures(tmp / "photos" / "astronaut")
        real = prepare_photos(tmp / "photos", tmp / "prepared", PrepareOptions(image_size=128), progress=False)
        rows += fitted_rows(real, model, cfg, 5)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = figures.vstack(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_small_png(Image.fromarray(sheet), path)
    return path


def save_small_png(image: Image.Image, path: Path) -> None:
    """A 256-colour PNG: a third of the size of the RGB one, no visible loss on these renders."""
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="the fit contact sheet (module docstring)")
    ap.add_argument("out", nargs="?", default="docs/fit_contact_sheet.png")
    args = ap.parse_args(argv)
    print(write_sheet(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
