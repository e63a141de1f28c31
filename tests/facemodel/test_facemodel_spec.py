"""``load_face_model`` specs and the "built-in model changed" advice of hash-mismatch errors."""

from __future__ import annotations

import pytest

from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import face_model_name, hash_mismatch_advice, load_face_model, model_hash
from photoface.facemodel.io import save_model
from photoface.facemodel.procedural import BUILDER_VERSION, cache
from photoface.facemodel.procedural.cache import PREVIOUS_HASHES, cache_path


@pytest.fixture
def cached_demo(tmp_path, monkeypatch, demo_model):
    """A cache folder that already holds the current demo model (so nothing is rebuilt)."""
    monkeypatch.setenv("PHOTOFACE_CACHE", str(tmp_path / "cache"))
    save_model(demo_model, cache_path("demo", 0))
    return demo_model


def test_specs(tmp_path, tiny_model, cached_demo):
    path = tmp_path / "m.npz"
    save_model(tiny_model, path)
    assert model_hash(load_face_model(path)) == model_hash(tiny_model)
    assert model_hash(load_face_model("builtin:demo")) == model_hash(cached_demo)
    assert face_model_name(path) == "m.npz" and face_model_name("builtin:paper") == "builtin:paper"
    with pytest.raises(PhotofaceError, match="builtin:demo and builtin:paper"):
        load_face_model("builtin:huge")
    with pytest.raises(InputFileError, match="missing.npz"):
        load_face_model(tmp_path / "missing.npz")


def test_cache_files_of_other_builders_are_not_served(cached_demo, tiny_model, monkeypatch):
    from photoface.facemodel.procedural import build

    path = cache_path("demo", 0)
    assert f"-b{BUILDER_VERSION}-" in path.name
    path.rename(path.with_name(f"procedural-demo-seed0-{cache.code_version()}.npz"))  # builder 1's naming
    calls = []
    monkeypatch.setattr(build, "build_procedural_model", lambda *a: calls.append(a) or tiny_model)
    assert model_hash(cache.builtin_model("demo")) == model_hash(tiny_model) and calls == [("demo", 0)]


def test_advice_names_both_hashes_and_the_way_out(cached_demo, tiny_model):
    now = model_hash(cached_demo)
    olds = [(h, b) for h, (spec, b) in PREVIOUS_HASHES.items() if spec == "builtin:demo"]
    assert {b for _, b in olds} == {1, 2, 3, 4}  # builder 1 (machine-dependent), 2 (before issue 20), 3, 4
    for old, builder in olds:
        for name in ("builtin:demo", "demo.npz"):  # a file written by build-procedural is recognised by its hash
            text = hash_mismatch_advice(name, old)
            assert "builtin:demo changed" in text and old[:12] in text and now[:12] in text
            assert "photoface synth" in text and f"builder {builder}" in text
        assert "still cached" not in hash_mismatch_advice("builtin:demo", old)

    save_model(tiny_model, cache_path("demo", 0).with_name("procedural-demo-seed0-oldcode.npz"))
    kept = hash_mismatch_advice("builtin:demo", model_hash(tiny_model))
    assert "earlier (or machine-dependent) builder" in kept and "procedural-demo-seed0-oldcode.npz" in kept

    assert hash_mismatch_advice("builtin:demo", now) == ""  # unchanged: the mismatch lies elsewhere
    assert hash_mismatch_advice("other.npz", "0" * 64) == ""  # no built-in model involved
    assert hash_mismatch_advice(None, None) == ""
