"""Contact sheets of prepared datasets: crops with their landmarks and masks drawn on them.

``write_contact_sheet(DIR, PNG)`` shows the first faces of any prepared dataset: each tile is the
crop with pixels outside the mask dimmed and outlined in yellow and the 68 landmarks as green dots
(contour 0–16 in cyan). ``astronaut_contact_sheet(PNG)`` regenerates
docs/prepare_contact_sheet.png: it runs the whole ``prepare`` pipeline on scikit-image's
astronaut photo (public domain, NASA) in the forms users' photos come in (as is, EXIF-rotated,
tilted, small, grayscale, CMYK, with a coloured occluder, with a hand-sized skin-coloured block),
so the sheet shows what the pipeline does with each.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from photoface.data.format import load_dataset
from photoface.pixels import to_uint8


def _tile(image: np.ndarray, mask: np.ndarray, landmarks: np.ndarray, zoom: int, label: str) -> Image.Image:
    img = image.astype(np.float32)
    img[~mask] *= 0.35
    edge = mask & ~ndimage.binary_erosion(mask)
    img[edge] = (255, 220, 0)
    tile = Image.fromarray(img.astype(np.uint8)).resize(
        (image.shape[1] * zoom, image.shape[0] * zoom), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(tile)
    r = max(1.0, zoom * 0.8)
    for i, (x, y) in enumerate(landmarks * zoom):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(0, 255, 255) if i < 17 else (0, 255, 0))
    if label:
        draw.rectangle([0, 0, 7 * len(label) + 4, 12], fill=(0, 0, 0))
        draw.text((2, 0), label, fill=(255, 255, 255))
    return tile


def write_contact_sheet(dataset_dir: str | Path, png: str | Path, columns: int = 4, max_faces: int = 16,
                        zoom: int = 1, labels: dict[str, str] | None = None) -> Path:
    """Write a grid of the first ``max_faces`` faces of a prepared dataset to ``png``.

    ``labels`` maps a row's source file name to a caption (default: the file name)."""
    ds = load_dataset(dataset_dir)
    rows = ds.rows[:max_faces]
    if not rows:
        raise ValueError(f"{dataset_dir}: the dataset is empty")
    size = ds.meta.image_size * zoom
    n_rows = (len(rows) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * size, n_rows * size), (40, 40, 40))
    for k, row in enumerate(rows):
        image = to_uint8(ds.load_image(row))
        mask = ds.load_mask(row)[0].numpy() > 0.5
        name = Path(row.source or row.image).name
        caption = (labels or {}).get(name, Path(name).stem)
        sheet.paste(_tile(image, mask, row.landmarks, zoom, caption), ((k % columns) * size, (k // columns) * size))
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(png, optimize=True)
    return png


def _astronaut_variants(folder: Path) -> None:
    from skimage import data

    rgb = data.astronaut()
    im = Image.fromarray(rgb)
    im.save(folder / "1_original.png")
    stored = im.transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "2_exif_rotated.jpg", exif=exif, quality=92)
    im.rotate(25, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90)).save(folder / "3_tilted_25deg.png")
    im.resize((260, 260), Image.Resampling.LANCZOS).save(folder / "4_small_260px.png")
    im.convert("L").save(folder / "5_grayscale.jpg", quality=92)
    im.convert("CMYK").save(folder / "6_cmyk.jpg", quality=92)
    occluded = rgb.copy()
    occluded[115:150, 225:262] = (40, 70, 200)  # a blue card over her left cheek
    Image.fromarray(occluded).save(folder / "7_blue_occluder.png")
    hand = rgb.copy()
    hand[135:175, 185:215] = rgb[105:145, 205:235].mean(axis=(0, 1)).astype(np.uint8)  # skin-coloured block
    Image.fromarray(hand).save(folder / "8_skin_block.png")


def astronaut_contact_sheet(png: str | Path = "docs/prepare_contact_sheet.png", image_size: int = 128,
                            zoom: int = 2) -> Path:
    """Regenerate the docs contact sheet from scikit-image's astronaut (see module docstring)."""
    from photoface.data.prepare.pipeline import PrepareOptions, prepare_photos

    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos" / "astronaut"
        photos.mkdir(parents=True)
        _astronaut_variants(photos)
        out = Path(tmp) / "prepared"
        prepare_photos(photos.parent, out, PrepareOptions(image_size=image_size), progress=False)
        return write_contact_sheet(out, png, columns=4, max_faces=8, zoom=zoom)
