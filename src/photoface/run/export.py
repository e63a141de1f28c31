"""``photoface export RUN -o model.pt``: the file people share, for inference only.

A training checkpoint of the demo preset weighs about 190 MB: it carries the optimiser moments, the
critic, the identity head and centers and RNG states, all of which only training needs. The export
keeps what :func:`photoface.run.inference.load_trained` needs to rebuild the network and nothing
else:

``format`` ("photoface-model"), ``version``, ``network`` (FaceNet constructor arguments),
``stage``, ``step``, ``config`` (the training config, for provenance and the input size),
``face_model`` (its name: ``builtin:demo`` or the file the run used) and ``face_model_hash``,
``mesh_hierarchy`` (the digest of the graphs the network ran on, checked when loading),
``identities``, ``calibration`` (the run's ``verification.json`` as text, when it exists), and
``model`` (the FaceNet state dict, float32 or, with ``half``, float16: half the size; the loader
converts back to float32, so results differ from the checkpoint's by float16 rounding only).

The face model itself is not embedded: the built-in models are rebuilt bit for bit on any machine,
and real models (BFM, ICT-FaceKit) come with licences that forbid redistributing them inside
someone else's file. Give ``load_trained(..., face_model=FILE)`` where the file has moved.
"""

from __future__ import annotations

from pathlib import Path

import torch

from photoface.atomic import write_atomic
from photoface.errors import PhotofaceError
from photoface.run.build import network_args
from photoface.run.inference import EXPORT_FORMAT, EXPORT_VERSION, config_of, read_weights_file, resolve_source
from photoface.run.layout import verification_path


def export_model(source: str | Path, out: str | Path, half: bool = False) -> Path:
    """Write the inference file of a run folder or checkpoint to ``out`` (atomically).

    Args:
        source: a run folder or a training checkpoint.
        out: the model file to write (conventionally ``.pt``).
        half: store floating-point weights as float16.

    Returns:
        ``out`` as a Path.
    """
    path, run_dir = resolve_source(source)
    state = read_weights_file(path)
    if state.get("format") == EXPORT_FORMAT:
        raise PhotofaceError(f"{path} is already an exported model; export a run folder or a checkpoint")
    weights = state["model"]
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    calibration = None
    if run_dir is not None and verification_path(run_dir).is_file():
        calibration = verification_path(run_dir).read_text()
    cfg = config_of(state, path, run_dir)
    exported = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "network": state.get("network") or network_args(cfg),
        "stage": int(state.get("stage", 1)),
        "step": int(state.get("step", 0)),
        "config": cfg.to_dict(),
        "face_model": state.get("face_model"),
        "face_model_hash": state["face_model_hash"],
        "mesh_hierarchy": state.get("mesh_hierarchy"),
        "identities": list(state.get("identities") or []),
        "calibration": calibration,
        "model": weights,
    }
    return write_atomic(out, lambda fh: torch.save(exported, fh))
