"""Face-model specs as users write them (``builtin:demo``, ``builtin:paper`` or a ``.npz`` path),
and the wording of "this was made with another face model" errors.

``load_face_model(spec)`` is the one parser of such specs (``synth --model``, the config's
``model.face_model``, ``load_trained(face_model=...)``); ``face_model_name(spec)`` is the name
recorded in ``meta.json`` and checkpoints. ``hash_mismatch_advice`` completes the errors raised
where a dataset's or checkpoint's recorded model hash differs from the model at hand: when the
recorded side is a built-in model (by name, or by a hash an earlier builder produced, see
``procedural.cache.PREVIOUS_HASHES``) it says that the built-in model changed, names both hashes,
and how to continue.
"""

from __future__ import annotations

from pathlib import Path

from photoface.errors import PhotofaceError
from photoface.facemodel.model import MorphableModel

BUILTIN_PREFIX = "builtin:"


def _builtin_resolution(spec: str) -> str | None:
    from photoface.facemodel.procedural import RESOLUTIONS

    if not spec.startswith(BUILTIN_PREFIX):
        return None
    resolution = spec[len(BUILTIN_PREFIX):]
    if resolution not in RESOLUTIONS:
        names = " and ".join(BUILTIN_PREFIX + r for r in RESOLUTIONS)
        raise PhotofaceError(f"unknown built-in face model {spec!r}; the built-in models are {names}")
    return resolution


def load_face_model(spec: str | Path) -> MorphableModel:
    """``builtin:demo`` / ``builtin:paper`` (the cached procedural model) or a face-model file.

    Raises PhotofaceError for an unknown ``builtin:`` name and InputFileError for a bad file.
    """
    spec = str(spec)
    resolution = _builtin_resolution(spec)
    if resolution is not None:
        from photoface.facemodel.procedural import builtin_model

        return builtin_model(resolution)
    from photoface.facemodel.io import load_model

    return load_model(spec)


def face_model_name(spec: str | Path) -> str:
    """The name a spec is recorded under: ``builtin:demo`` as is, a file by its base name."""
    spec = str(spec)
    return spec if _builtin_resolution(spec) is not None else Path(spec).name


def hash_mismatch_advice(recorded_name: str | None, recorded_hash: str | None) -> str:
    """Sentences to append to a hash-mismatch error; "" unless a built-in model changed.

    ``recorded_name``/``recorded_hash``: the face model a dataset or checkpoint says it was made
    with. When that was a built-in model (by name, or by a hash an earlier builder gave one) and
    the built-in model now has another hash, says so, naming both hashes, and how to continue.
    Builds (or loads from the cache) the current built-in model to compare.
    """
    from photoface.facemodel.io import model_hash
    from photoface.facemodel.procedural.cache import previous_builtin

    previous = previous_builtin(recorded_hash)
    if str(recorded_name or "").startswith(BUILTIN_PREFIX):
        name = str(recorded_name)
    elif previous is not None:
        name = previous[0]
    else:
        return ""
    try:
        now = model_hash(load_face_model(name))
    except PhotofaceError:
        return ""
    if not recorded_hash or now == recorded_hash:
        return ""
    when = f"photoface's builder {previous[1]}" if previous else "an earlier (or machine-dependent) builder"
    kept = _cached_with_hash(name, recorded_hash)
    keep = (f"; or continue with the old model, still cached as {kept}: give that file as the face model "
            f"(train --set model.face_model={kept})" if kept else "")
    return (
        f" The built-in face model {name} changed since then: {when} gave it hash {recorded_hash[:12]}, "
        f"this photoface gives it {now[:12]} (the same on every machine and thread count since builder 2). "
        f"To continue: regenerate the dataset with `photoface synth` and train a new run on it{keep}; or "
        f"keep using the photoface version that made the data and the run."
    )


def _cached_with_hash(spec: str, digest: str) -> Path | None:
    """A built-in-model cache file of ``spec``'s resolution whose model has hash ``digest``."""
    from photoface.facemodel.io import load_model, model_hash
    from photoface.facemodel.procedural import cache_dir

    for path in sorted(cache_dir().glob(f"procedural-{spec[len(BUILTIN_PREFIX):]}-seed0-*.npz")):
        try:
            if model_hash(load_model(path)) == digest:
                return path
        except PhotofaceError:
            continue
    return None
