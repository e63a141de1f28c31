"""What every benchmark runner sets up alike: the runs, the methods, the scorer, the results header.

The synthetic, MICC Florence and AFLW2000-3D runners (and the Figure-3 error maps) all

* load the model's run and, if given, a shape-supervised run of the same face model, checked by
  the face model's content hash (``load_run``);
* score a list of methods: the model, the named baselines (``BASELINES``), the shape-supervised
  run, in that order (``benchmark_methods``, after ``check_methods`` has vetted the names);
* score meshes with the protocol on the model's topology (``mesh_scorer``);
* head their JSON results with the same ``meta`` fields (``results_meta``): benchmark, dataset,
  checkpoint, run folder and step first, the runner's own fields, the seconds taken last.

Writing the results (JSON and Markdown) is ``photoface.evaluate.results_files.write_results``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from photoface.errors import PhotofaceError
from photoface.evaluate.runner import MODES, MeshScorer, NetworkMethod

BASELINES = ("mean_face", "landmark_fit")
FIT_METHODS = ("fit", "fit_single")
"""Optimisation-based fits (``photoface.fit``): the synthetic benchmark offers them as baselines
(they need each photo's identity); not run by default (minutes)."""
NETWORK_FIT_METHODS = ("refine",)
"""Fits on top of the model's run (``photoface.evaluate.refine_method``): scored right after ``model``;
they need a checkpoint and each photo's identity."""


def check_methods(baselines: Sequence[str], modes: Sequence[str], extra: Sequence[str] = ()) -> None:
    """PhotofaceError for unknown baseline or mode names; ``extra`` are further allowed baselines."""
    known = tuple(BASELINES) + tuple(extra)
    bad = [b for b in baselines if b not in known]
    if bad:
        raise PhotofaceError(f"unknown baseline(s) {', '.join(bad)}; choose from {', '.join(known)}")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise PhotofaceError(f"unknown or no mode(s) {', '.join(bad)}; choose from {', '.join(MODES)}")


def baseline_methods(names: Sequence[str], face_model, image_size: int, fit_config=None) -> list:
    """The named baselines (``mean_face``, ``landmark_fit``, ``fit``, ``fit_single``) for ``face_model``.

    The fits keep the jaw landmarks on fixed vertices: the benchmarks' landmarks are projections of
    the model's landmark vertices (``photoface.fit.collection.landmarks_are_fixed_vertices``)."""
    from photoface.evaluate.baselines import CollectionFit, LandmarkFit, MeanFace

    make = {"mean_face": lambda: MeanFace(face_model, image_size),
            "landmark_fit": lambda: LandmarkFit(face_model, image_size),
            "fit": lambda: CollectionFit(face_model, image_size, fit_config),
            "fit_single": lambda: CollectionFit(face_model, image_size, fit_config, single=True)}
    return [make[n]() for n in names]


def load_run(path, device, name: str, expected_hash: str | None = None):
    """A trained run (``photoface.run.inference.load_trained``) checked against a face-model hash."""
    from photoface.run.inference import load_trained

    trained = load_trained(path, device)
    if expected_hash is not None and trained.face_model_hash != expected_hash:
        raise PhotofaceError(f"{path}: the {name} run uses another face model than the evaluated model "
                             f"(hash {trained.face_model_hash[:12]} vs {expected_hash[:12]})")
    return trained


def benchmark_methods(trained, *, batch_size: int = 32, baselines: Sequence[str] = (), image_size: int | None = None,
                      shape_supervised: str | Path | None = None, device: str = "cpu",
                      neutral: str = "zero", fit_config=None) -> list:
    """The model (``trained``) as ``"model"``, ``refine`` if among ``baselines``, the other baselines,
    then the shape-supervised run.

    Args:
        image_size: the crops' size the baselines work at (default the run's).
        shape_supervised: a run folder or checkpoint, loaded on ``device`` and checked to share
            the model's face model.
        neutral: the networks' neutral expression code, "zero" or "mean" (``runner``).
        fit_config: ``FitConfig`` of ``refine`` (default: the fit defaults).
    """
    size = trained.image_size if image_size is None else image_size
    methods = [NetworkMethod(trained, "model", batch_size, neutral)]
    if "refine" in baselines:
        from photoface.evaluate.refine_method import RefineMethod

        methods.append(RefineMethod(trained, fit_config, batch_size, neutral))
    methods += baseline_methods([b for b in baselines if b not in NETWORK_FIT_METHODS], trained.face_model, size)
    if shape_supervised is not None:
        methods.append(NetworkMethod(load_run(shape_supervised, device, "shape_supervised", trained.face_model_hash),
                                     "shape_supervised", batch_size, neutral))
    return methods


def mesh_scorer(face_model, protocol_options: dict | None = None) -> MeshScorer:
    """The protocol scorer for meshes of ``face_model``'s topology (``protocol.evaluate_mesh`` options)."""
    return MeshScorer(face_model.faces.cpu().numpy(), face_model.landmarks68.cpu().numpy(), **(protocol_options or {}))


def run_folder(trained) -> Path:
    """The run's folder, or the checkpoint's folder for a checkpoint outside a run."""
    return (Path(trained.run_dir) if trained.run_dir is not None else Path(trained.checkpoint).parent).resolve()


def results_meta(benchmark: str, data, trained, started: float, **fields) -> dict:
    """The results' ``meta``: the shared fields around the runner's own ``fields``.

    ``started`` is the runner's ``time.perf_counter()`` at its start; ``trained`` None (baselines
    scored without a run) gives None for checkpoint, run and step.
    """
    return {
        "benchmark": benchmark, "dataset": str(Path(data).resolve()),
        "checkpoint": None if trained is None else str(Path(trained.checkpoint).resolve()),
        "run": None if trained is None else str(run_folder(trained)),
        "step": None if trained is None else trained.step, **fields,
        "seconds": round(time.perf_counter() - started, 1),
    }
