"""``builtin_model``: the procedural model, built once and then served from an on-disk cache.

Cache files live under ``$PHOTOFACE_CACHE`` (default ``~/.cache/photoface``) and are named
``procedural-<resolution>-seed<S>-b<BUILDER_VERSION>-<code hash>.npz``. The code hash covers
this package's sources and the face-model file format, so any edit rebuilds; ``BUILDER_VERSION``
is bumped by hand whenever the model's bits change on purpose, so that a cache written by an
older builder, e.g. the thread-dependent one before version 2, is never served even if the code
hash happened to survive (a checkout with edits reverted, a copied cache folder).

``PREVIOUS_HASHES`` lists the hashes that earlier builders gave the built-in models. A dataset
or checkpoint that records one of them was made with an older photoface; the hash checks in
``data``, ``train`` and ``evaluate`` use ``changed_builtin_note`` to say so instead of merely
reporting a mismatch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from photoface.errors import PhotofaceError
from photoface.facemodel.model import MorphableModel
from photoface.facemodel.procedural import build

BUILDER_VERSION = 5
_PACKAGE = Path(__file__).parent
_FORMAT_SOURCES = ("model.py", "io.py")  # in photoface/facemodel/

# What this builder gives (seed 0), on every machine and thread count; a test compares, so an
# unintended change of the bits fails instead of silently invalidating datasets and checkpoints.
# Changing the bits on purpose: bump BUILDER_VERSION, move these into PREVIOUS_HASHES.
EXPECTED_HASHES = {
    "builtin:demo": "2f0570da0984401f96a87d9be8955368d9aefb877148482d3f85631ac08bedd0",
    "builtin:paper": "59801beb68a81c3ef6f8629ffab23d3ece0e14611bcafae30d526a54c94078c0",
}

# hash -> (spec, builder) of models built before. Builder 1 depended on the machine and thread
# count, so it had more than one hash per model; these are the ones seen on the project's machines.
PREVIOUS_HASHES = {
    # Builder 4: nostril vestibules, with iBUG 31/32/34/35 inside them (``landmarks``).
    "783e441cd93ca0f841a75c876c30de6c7c3bb39ba8b2314941da551d04f52ad0": ("builtin:demo", 4),
    "898f1e64b4832333c89140a747502d7f0806f92a0d6b7e63dbb8809b422d7702": ("builtin:paper", 4),
    # Builder 3: issue 20's first human face, with shallow nostril cavities and a fuller chin.
    "775277dfe363617fe80a6eaed0841673e1ca7e988ee63235d9e4dc3acd213660": ("builtin:demo", 3),
    "761528ecf08f31208f1f962e6500f863e25ce40071112358da99625c5f4c492f": ("builtin:paper", 3),
    # Builder 2: the mannequin face before issue 20 (closed painted eyes, upturned pointed nose).
    "85680cc199fc202256695cb083bf307966798e4729d56ba5f95e1175c8778b22": ("builtin:demo", 2),
    "8db8b97da5205a6c1ff961a5cbc23d3ae2b8768350392cd76c1b5707f3d30043": ("builtin:paper", 2),
    "afaf657bacb0f7bd8fbd2928e7c0b44f7a3c24153981824469630ec9f3179755": ("builtin:demo", 1),
    "1a94a3a61118b2025c4673768361ba0b0521c2a7004915c02f80b70467ea53da": ("builtin:paper", 1),
}
# Only 12-digit prefixes of these are known (quoted in issue 15).
PREVIOUS_HASH_PREFIXES = {"0912fc7531e3": ("builtin:demo", 1), "f5eb5db26c4b": ("builtin:demo", 1)}


def code_version() -> str:
    """Hash of the source files that determine the procedural model's bits."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for name in _FORMAT_SOURCES:
        h.update((_PACKAGE.parent / name).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where built models are cached: ``$PHOTOFACE_CACHE`` or ``~/.cache/photoface``."""
    env = os.environ.get("PHOTOFACE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "photoface"


def cache_path(resolution: str, seed: int) -> Path:
    return cache_dir() / f"procedural-{resolution}-seed{int(seed)}-b{BUILDER_VERSION}-{code_version()}.npz"


def builtin_model(resolution: str = "demo", seed: int = 0) -> MorphableModel:
    """The procedural model, built once and then loaded from the on-disk cache.

    The cache file is written atomically, so concurrent processes at worst both build it.
    An unreadable cache file is rebuilt.
    """
    from photoface.facemodel.io import load_model, save_model

    if resolution not in build.RESOLUTIONS:
        raise PhotofaceError(f"unknown resolution {resolution!r}; choose one of {build.RESOLUTIONS}")
    path = cache_path(resolution, seed)
    if path.is_file():
        try:
            return load_model(path)
        except PhotofaceError:
            pass
    model = build.build_procedural_model(resolution, seed)
    try:
        save_model(model, path)
    except OSError:
        pass  # a read-only cache only costs a rebuild next time
    return model


def previous_builtin(digest: str | None) -> tuple[str, int] | None:
    """(spec, builder) if ``digest`` is a hash an earlier builder gave a built-in model, else None."""
    if not digest:
        return None
    if digest in PREVIOUS_HASHES:
        return PREVIOUS_HASHES[digest]
    return PREVIOUS_HASH_PREFIXES.get(digest[:12])
