"""docs/viewer.png: the viewer of ``photoface fit`` on a small synthetic collection of the built-in
demo model, as headless Chromium draws it (``make docs``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from PIL import Image

from photoface.apps.viewer.browser import Browser, file_url, find_chromium

WINDOW = (1120, 700)  # CSS px


def write_viewer_figure(out_png: str | Path, log=print) -> Path | None:
    """Fit 2 synthetic people × 3 photos, open the fit's view.html at the most frontal photo, turn
    the meshes as in the photo, save the page as a 256-colour PNG; None (with a note to ``log``)
    where no Chromium is installed."""
    from photoface.apps.fit import fit_photos
    from photoface.data.synth.collection import synthesize

    if find_chromium() is None:
        log(f"skipped {out_png}: no Chromium on this machine (apt-get install chromium)")
        return None
    out_png = Path(out_png)
    with tempfile.TemporaryDirectory() as tmp:
        synthesize("builtin:demo", 2, 3, Path(tmp) / "synth", size=128, seed=5, test_fraction=0.0, progress=False)
        res = fit_photos(Path(tmp) / "synth", Path(tmp) / "fit", progress=False, log=lambda m: None)
        # the page lists the photos in the order fit wrote them
        yaws = [abs(json.loads(p.read_text())["pose"]["yaw_deg"]) for p in res.written]
        frontal = yaws.index(min(yaws))
        with Browser(*WINDOW) as b:
            b.open(file_url(res.view))
            b.evaluate(f"window.photofaceReady.then(() => window.photofaceViewer.select({frontal}))")
            b.evaluate("window.photofaceViewer.setPosed(true)")
            b.evaluate("window.photofaceViewer.setMode('albedo')")
            shot = b.screenshot()
            errors = b.console_errors()
        if errors:
            raise RuntimeError(f"the viewer logged errors: {errors}")
    Image.fromarray(shot).quantize(256, dither=Image.Dither.NONE).save(out_png, optimize=True)
    return out_png
