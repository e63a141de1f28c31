"""Synthetic photo collections with ground truth (``photoface synth``).

The rooms of this wing, from a whole collection down to one pixel:

* :mod:`.collection` — ``synthesize``: identities × photos → a prepared dataset, splits, workers,
  resume, the files written;
* :mod:`.photo` — one photo: what goes into it and in which order;
* :mod:`.identity` — identities (shape, albedo, the nonlinear detail the linear model cannot
  explain); :mod:`.head` — hair, ears, neck around the face mesh;
* :mod:`.scene` — the three settings (cooperative / indoor / outdoor): pose, light, camera;
  :mod:`.background`, :mod:`.occluders`, :mod:`.degrade` — what surrounds, hides and degrades it;
* :mod:`.raster` — the small depth-aware rasteriser for the head and occluder primitives;
* :mod:`.fit` — the regularised linear-model fit that labels the labeled rows (never the truth);
* :mod:`.sheet` — the contact sheet in docs/.
"""

from photoface.data.synth.collection import synthesize
from photoface.data.synth.sheet import write_contact_sheet

__all__ = ["synthesize", "write_contact_sheet"]
