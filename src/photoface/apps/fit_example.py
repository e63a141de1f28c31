"""``make fit-example``: ``photoface fit`` on real-format fixture photos, end to end.

The fixtures are written from scikit-image's astronaut photo (Eileen Collins, NASA, public
domain; the picture the prepare tests use) in the forms a user's folder holds: a PNG, a
greyscale JPEG, a JPEG stored sideways with an EXIF orientation tag, a large (2×) JPEG, and a
mirrored copy as a second view. They go to ``OUT/photos/astronaut/``; the fit to ``OUT/fit``.

Run: ``python -m photoface.apps.fit_example OUT [--iterations N]`` (needs scikit-image, a dev extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from photoface.errors import PhotofaceError


def write_fixtures(folder: Path) -> list[Path]:
    """The fixture photos of the module docstring in ``folder``; returns their paths."""
    try:
        from skimage import data
    except ImportError:
        raise PhotofaceError("the fit example needs scikit-image (pip install -e '.[dev]')") from None
    rgb = data.astronaut()
    folder.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(rgb)
    paths = []

    def save(name: str, image: Image.Image, **kw) -> None:
        image.save(folder / name, **kw)
        paths.append(folder / name)

    save("astronaut.png", im)
    save("astronaut_grey.jpg", im.convert("L"), quality=90)
    stored = im.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways stores it
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    save("astronaut_exif.jpg", stored, quality=90, exif=exif)
    save("astronaut_large.jpg", im.resize((2 * im.width, 2 * im.height), Image.Resampling.BICUBIC), quality=92)
    save("astronaut_mirrored.png", Image.fromarray(np.ascontiguousarray(rgb[:, ::-1])))
    return paths


def main(argv: list[str] | None = None) -> int:
    from photoface.apps.fit import fit_photos

    ap = argparse.ArgumentParser(description="fit the real-format fixture photos (module docstring)")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--iterations", type=int, default=None)
    args = ap.parse_args(argv)
    out = Path(args.out)
    write_fixtures(out / "photos" / "astronaut")
    res = fit_photos(out / "photos", out / "fit", iterations=args.iterations)
    print(f"fitted {res.people} person(s), {len(res.written)} photo(s) into {res.out_dir}")
    for key, why in sorted(res.failures.items()):
        print(f"failed: {key}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
