"""Checkpoint files: atomic writes, retention, validated loading, RNG capture.

Where they lie in a run folder: :mod:`photoface.run.layout`. A training checkpoint is a dict
(``torch.save``), loadable with ``weights_only=True`` (no pickled code):
``format`` ("photoface-checkpoint"), ``version``, ``step``, ``stage``, ``config`` (the config as a
dict), ``face_model`` (name) and ``face_model_hash``, ``dataset`` (per data folder: path, hash of its
meta.json + index.jsonl, meta), ``identities`` (the recognition head's classes), ``model``,
``head``, ``centers``, ``discriminator`` state dicts, ``opt_g`` / ``opt_d`` / ``sched_g`` /
``sched_d`` state dicts, ``selection`` (the validations so far and the one selected, see
``photoface.train.validation``; runs without validation: absent), ``sampler`` ({epoch, position}), ``rng`` (one entry per rank: python,
numpy, torch, cuda), ``log_window``, ``counters``, ``mesh_hierarchy`` (the digest of the graphs
the networks ran on, checked by ``check_hierarchy``) and ``compute`` ({threads, device}: what a
bit-for-bit resume needs again, see ``compute_note``).

Every file is written to a temporary name in the same folder, flushed to disk and renamed with
``os.replace``, so a crash leaves either the old or the new file, never a torn one. A checkpoint
whose tensors are not all finite is refused (the NaN guard's last line of defence).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from photoface.atomic import write_atomic
from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel import hash_mismatch_advice
from photoface.run.layout import BEST_CHECKPOINT, LAST_CHECKPOINT, checkpoint_dir, last_checkpoint

FORMAT = "photoface-checkpoint"
VERSION = 1
_STEP_FILE = re.compile(r"^step_(\d{7,})\.pt$")


def _atomic_link(source: Path, target: Path) -> None:
    """Make ``target`` a hard link of ``source`` (no second write of a large file), atomically;
    copies where the file system has no hard links."""
    tmp = target.with_name(f".{target.name}.link-{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        with open(source, "rb") as src:
            write_atomic(target, lambda fh: shutil.copyfileobj(src, fh, 1 << 20))


def _nonfinite_keys(obj: Any, prefix: str = "") -> list[str]:
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and not bool(torch.isfinite(obj).all()):
            return [prefix or "<tensor>"]
        return []
    if isinstance(obj, dict):
        return [k for key, v in obj.items() for k in _nonfinite_keys(v, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(obj, (list, tuple)):
        return [k for i, v in enumerate(obj) for k in _nonfinite_keys(v, f"{prefix}[{i}]")]
    return []


def save_checkpoint(run_dir: str | Path, state: dict[str, Any], keep: int = 3, best: bool = False) -> Path:
    """Write ``state`` as ``step_XXXXXXX.pt`` and ``last.pt`` atomically; prune old step files.

    ``best``: the run's validation selected these weights; ``best.pt`` becomes a link to the step
    file too (before ``last.pt`` does, so ``best.pt`` never lags the checkpoint a resume reads),
    and pruning never removes it.

    Raises PhotofaceError (writing nothing) if a tensor in the model or optimiser state is not finite.
    """
    bad = _nonfinite_keys({k: state[k] for k in ("model", "head", "centers", "discriminator", "opt_g", "opt_d") if k in state})
    if bad:
        raise PhotofaceError(f"refusing to write a checkpoint with non-finite values in {', '.join(bad[:5])}")
    folder = checkpoint_dir(run_dir)
    path = folder / f"step_{int(state['step']):07d}.pt"
    write_atomic(path, lambda fh: torch.save({"format": FORMAT, "version": VERSION, **state}, fh))
    if best:
        _atomic_link(path, folder / BEST_CHECKPOINT)
    _atomic_link(path, folder / LAST_CHECKPOINT)
    steps = sorted(p for p in folder.iterdir() if _STEP_FILE.match(p.name))
    for old in steps[: max(0, len(steps) - max(keep, 1))]:
        old.unlink()
    return path


def load_checkpoint(path: str | Path, face_model_hash: str | None = None) -> dict[str, Any]:
    """Read and validate a checkpoint (a file, or a run folder: its ``last.pt``).

    Args:
        path: checkpoint file or run folder.
        face_model_hash: if given, the checkpoint must have been trained with this face model.

    Raises:
        InputFileError: missing, unreadable or corrupt file; not a photoface checkpoint; another
            face model.
    """
    path = Path(path)
    if path.is_dir():
        found = last_checkpoint(path)
        if found is None:
            raise InputFileError(path, "no checkpoints/last.pt in this run folder")
        path = found
    if not path.is_file():
        raise InputFileError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a torn or foreign file
        raise InputFileError(path, f"not a readable photoface checkpoint ({type(exc).__name__}: {exc})") from None
    return check_checkpoint(state, path, face_model_hash)


def check_checkpoint(state: Any, path: Path, face_model_hash: str | None = None) -> dict[str, Any]:
    """``state`` (an already loaded file) as a training checkpoint of ``path``; the checks and
    errors of :func:`load_checkpoint`, for readers that loaded the file themselves."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputFileError(path, "not a photoface checkpoint")
    if state.get("version") != VERSION:
        raise InputFileError(path, f"checkpoint version {state.get('version')} is not supported (expected {VERSION})")
    if face_model_hash is not None and state.get("face_model_hash") != face_model_hash:
        raise InputFileError(
            path,
            f"trained with face model {state.get('face_model')!r} (hash {str(state.get('face_model_hash'))[:12]}), "
            f"but the configured face model has hash {face_model_hash[:12]}; use the same face model."
            + hash_mismatch_advice(state.get("face_model"), state.get("face_model_hash")),
        )
    return state


def dataset_fingerprint(root: Path) -> str:
    """sha256 of a prepared dataset's meta.json and index.jsonl (what the sampler's state refers to)."""
    h = hashlib.sha256()
    for name in ("meta.json", "index.jsonl"):
        h.update((root / name).read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------ RNG states


def capture_rng() -> dict[str, Any]:
    """The process's python, numpy, torch and CUDA RNG states, as weights_only-loadable values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(x) for x in internal.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_hierarchy(path: str | Path, state: dict[str, Any], digest: str) -> None:
    """Refuse a checkpoint whose networks ran on another mesh hierarchy than ``digest``.

    The hierarchy (which vertices each level keeps, the up-sampling weights) is rebuilt from the
    template on every machine and is not in the weights; it is thread-count-independent, but a
    machine of another architecture could round the decimation differently (photoface.mesh.
    hierarchy). Checkpoints from before the digest was recorded are not checked.
    """
    recorded = state.get("mesh_hierarchy")
    if recorded is not None and recorded != digest:
        raise InputFileError(
            path,
            f"its networks ran on mesh hierarchy {str(recorded)[:12]}, but this machine builds {digest[:12]} "
            "from the same face model (the decimation rounded differently here); copy the run's "
            "mesh_hierarchy-*.npz from the machine that trained it into $PHOTOFACE_CACHE (default "
            "~/.cache/photoface) to use it here",
        )


def compute_note(state: dict[str, Any], threads: int, device: str) -> str | None:
    """Why a resumed run will not repeat an uninterrupted one bit for bit, or None.

    Floating-point reductions split differently across thread counts and devices, so losses drift
    apart in the last bits from the first resumed step on (measured on the tiny test run: equal
    losses at 1 and 2 threads for 3 steps, then relative differences of 1e-7 to 5e-5).
    """
    old = state.get("compute")
    if not isinstance(old, dict) or (old.get("threads"), old.get("device")) == (threads, device):
        return None
    return (f"resuming with {threads} threads on {device}, the checkpoint was written with {old.get('threads')} "
            f"on {old.get('device')}: training continues correctly but not bit for bit like an uninterrupted "
            "run (set schedule.threads and the device as before for that)")

