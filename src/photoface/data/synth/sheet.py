"""Contact sheet of a prepared dataset: one row per identity showing its photo collection.

Meant for a person to look at. docs/synth_contact_sheet.png is made by ``write_contact_sheet``
through ``photoface synth --model builtin:demo --identities 8 --photos-per-identity 8 --size 128
--seed 1 --test-fraction 0.25 --out DIR --contact-sheet docs/synth_contact_sheet.png``.
Rows are labelled with the identity, its split and, under each photo, the setting's initial
(c/i/o) and L for labeled photos. The sheet is saved as a palette PNG when the full-colour one
would exceed ``max_bytes``, so it stays small enough for a repository.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from photoface.data.format import load_dataset
from photoface.errors import PhotofaceError
from photoface.pixels import to_uint8

LABEL_WIDTH = 64
CAPTION = 11


def write_contact_sheet(dataset_dir, out_png, identities: int = 6, photos: int = 8,
                        tile: int = 96, landmarks: bool = False,
                        max_bytes: int = 300_000) -> Path:
    """Write a PNG grid: one row per identity (train identities first, then test ones).

    Args:
        dataset_dir: a prepared-dataset folder.
        out_png: where to write the sheet.
        identities: at most this many rows (split between train and test identities when both
            exist).
        photos: at most this many photos per row.
        tile: side of each thumbnail in pixels.
        landmarks: draw the row's landmarks (green = visible, red = hidden).
        max_bytes: quantise to a 256-colour palette if the PNG would be larger.

    Returns:
        The written path.
    """
    ds = load_dataset(dataset_dir, check_files=True)
    groups: "OrderedDict[str, list]" = OrderedDict()
    for row in ds.rows:
        groups.setdefault(row.identity, []).append(row)
    if not groups:
        raise PhotofaceError(f"{dataset_dir}: the dataset has no photos")
    train = [k for k, v in groups.items() if v[0].split == "train"]
    test = [k for k, v in groups.items() if v[0].split == "test"]
    n_test = min(len(test), identities // 3 if train else identities)
    chosen = train[: identities - n_test] + test[:n_test]
    width = LABEL_WIDTH + photos * tile
    height = len(chosen) * (tile + CAPTION)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, name in enumerate(chosen):
        y0 = r * (tile + CAPTION)
        rows = groups[name][:photos]
        draw.text((4, y0 + tile // 2 - 10), name, fill=(0, 0, 0))
        draw.text((4, y0 + tile // 2 + 2), rows[0].split, fill=(90, 90, 90))
        for c, row in enumerate(rows):
            img = to_uint8(ds.load_image(row))
            thumb = Image.fromarray(img).resize((tile, tile), Image.Resampling.BILINEAR)
            x0 = LABEL_WIDTH + c * tile
            sheet.paste(thumb, (x0, y0))
            if landmarks:
                k = tile / ds.meta.image_size
                vis = row.visible if row.visible is not None else np.ones(68, bool)
                for (x, y), v in zip(row.landmarks, vis):
                    col = (0, 255, 0) if v else (255, 0, 0)
                    draw.point((x0 + x * k, y0 + y * k), fill=col)
            tag = (row.setting or "?")[0] + (" L" if row.labeled else "")
            draw.text((x0 + 2, y0 + tile), tag, fill=(60, 60, 60))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    if buf.tell() > max_bytes:
        buf = io.BytesIO()
        sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, format="PNG", optimize=True)
    out.write_bytes(buf.getvalue())
    return out
