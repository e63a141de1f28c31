"""A human-readable description of a face model (the ``photoface model info`` text)."""

from __future__ import annotations

from photoface.facemodel.io import model_hash
from photoface.facemodel.model import MorphableModel


def describe(model: MorphableModel) -> str:
    """Sizes, metadata, bounding box (mm) and regions of ``model``, one fact per line."""
    lo = model.mean.min(dim=0).values.tolist()
    hi = model.mean.max(dim=0).values.tolist()
    exp_unit = "weights in [0, 1]" if model.exp_kind == "blendshape" else "standard-normal coefficients"
    lines = [
        f"name:        {model.name}",
        f"source:      {model.source}",
        f"license:     {model.license}",
        f"vertices:    {model.num_vertices}",
        f"triangles:   {model.num_faces}",
        f"identity:    {model.n_id} modes (standard-normal coefficients)",
        f"expression:  {model.n_exp} {model.exp_kind} modes ({exp_unit})",
        f"albedo:      {model.n_tex} modes (standard-normal coefficients)" if model.n_tex else
        "albedo:      0 modes (one flat albedo; synth gives identities the procedural skin)",
        "bounding box (mm): "
        + ", ".join(f"{a} [{low:.1f}, {high:.1f}] ({high - low:.1f})" for a, low, high in zip("xyz", lo, hi)),
        "regions:     " + (", ".join(f"{k} ({len(v)})" for k, v in model.regions.items()) or "none"),
        f"hash:        {model_hash(model)}",
    ]
    if model.n_exp and model.exp_names and not model.exp_names[0].startswith("exp00"):
        lines.insert(7, "expressions: " + ", ".join(model.exp_names))
    if model.own_exp_bounds is not None:
        b = model.exp_bounds.tolist()
        stated = [f"{model.exp_names[i]} [{lo:g}, {hi:g}]" for i, (lo, hi) in enumerate(b)
                  if (lo, hi) != (float("-inf"), float("inf"))]
        lines.insert(7, "bounded:     " + (", ".join(stated) or "none"))
    return "\n".join(lines)
