"""Regenerate every picture in docs/ that does not need a trained run: ``make docs``.

Pictures from a trained run (the demo report, evaluation error maps of a model) are written by
``photoface demo`` (``python -m photoface.apps.demo DEMO_OUT docs``) and ``photoface evaluate``;
this module covers the face model, the renderer, synthetic collections, real-photo preparation,
``photoface fit``'s contact sheet, the evaluation protocol's example error map and the 3D viewer (a screenshot in headless Chromium,
skipped with a note where none is installed).
Each figure's own function stays with the package that owns it; this only calls them in turn.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def write_static_figures(out_dir: str | Path = "docs") -> list[Path]:
    """Write all data-independent docs figures into ``out_dir``; returns the paths written."""
    from photoface.apps.fit_sheet import write_sheet
    from photoface.apps.preview import write_model_figures
    from photoface.apps.render_face import write_render_figures
    from photoface.apps.viewer.screenshot import write_viewer_figure
    from photoface.data.prepare.sheet import astronaut_contact_sheet
    from photoface.data.synth.collection import synthesize
    from photoface.data.synth.sheet import write_contact_sheet
    from photoface.evaluate.error_maps import write_example_error_map

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = list(write_model_figures(out)) + list(write_render_figures(out))
    with tempfile.TemporaryDirectory() as tmp:
        # The documented contact-sheet collection: 8 identities, 2 of them held out.
        synthesize("builtin:demo", 8, 8, Path(tmp) / "synth", size=128, seed=1,
                   test_fraction=0.25, progress=False)
        written.append(write_contact_sheet(Path(tmp) / "synth", out / "synth_contact_sheet.png"))
    written.append(astronaut_contact_sheet(out / "prepare_contact_sheet.png"))
    written.append(write_sheet(out / "fit_contact_sheet.png"))
    write_example_error_map(out / "evaluate_error_map.png")
    written.append(out / "evaluate_error_map.png")
    viewer = write_viewer_figure(out / "viewer.png")
    if viewer is not None:
        written.append(viewer)
    return written


if __name__ == "__main__":
    for path in write_static_figures(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(path)
