"""The built-in procedural face model: the embedded default, made from code and a seed alone.

``build_procedural_model`` (``build``) assembles it from the modules of this package: ``mesh``
(topology), ``layout``/``surface``/``shapes`` (mean shape), ``landmarks`` (68 iBUG points,
mirror map, regions), ``identity``, ``expression`` and ``albedo`` (the bases; ``proportions`` is
the anthropometric reference the identity spread is calibrated to) and ``pca`` (the
machine-independent PCA). ``builtin_model`` (``cache``) serves it from an on-disk cache.
"""

from photoface.facemodel.procedural.build import RESOLUTIONS, build_procedural_model
from photoface.facemodel.procedural.cache import BUILDER_VERSION, builtin_model, cache_dir

__all__ = ["RESOLUTIONS", "build_procedural_model", "builtin_model", "cache_dir", "BUILDER_VERSION"]
