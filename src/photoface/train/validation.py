"""Validation on held-out training people, and the choice of a run's weights by it.

Why: the demo preset's codes start at a closed-form regression from the landmarks
(:mod:`photoface.train.landmark_start`) whose identity codes verify new people better than the
trained ones do (held-out EER 0.13 at the start, 0.17 after 10 minutes, 0.22 after 1,600 steps;
docs/training.md, "The learning ladder", rung 4: the recognition and center losses learn the
160-240 training people). No loss weight guarantees that a run ends no worse than it starts; the
choice of the weights does. So a validated run

1. holds ``schedule.validation_identities`` people of the training split out of training
   (:func:`validation_people`: at most an eighth of them, never a person of the test split,
   chosen by a seeded hash of the name, so the same people on every machine and on resume),
2. measures its network on their photos at the start (step 0, after the landmark start) and at
   every checkpoint (:class:`Validator`: the verification EER of the identity codes over all
   pairs of their photos, and, where the photos have true meshes or labels, the mean per-vertex
   shape error after a similarity alignment),
3. keeps the best (:class:`Selection`): a checkpoint is *admissible* when none of its numbers is
   worse than the start's, and among the admissible ones (the start always is) the one with the
   lowest mean ratio to the start's numbers is selected, the earliest on ties.

The selected checkpoint is ``RUN/checkpoints/best.pt``, what the apps, ``export`` and the
evaluation read from a run folder; ``RUN/validation.json`` lists every validation. So whatever
training does to the held-out people's numbers, the run's weights are never worse on them than
the start's: by construction, at any length of training.

The selection state travels in every checkpoint, and validation runs the network in eval mode
without gradients or random draws (the torch RNG is forked around it), so a resumed run repeats an
uninterrupted one bit for bit, validations and selection included.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import torch

from photoface.data.format import PreparedDataset
from photoface.data.torch_dataset import PhotoDataset, identity_name
from photoface.errors import PhotofaceError
from photoface.mesh.similarity import aligned_distances
from photoface.nn import FaceNet
from photoface.run.verification import all_pairs, equal_error_rate, pair_scores

METRICS = ("eer", "shape_mm")
"""What a validation measures, in the order reported: the identity codes' verification EER
(fraction), the mean per-vertex shape error after a similarity alignment (mm)."""


def validation_people(datasets: Sequence[PreparedDataset], count: int, seed: int) -> list[str]:
    """The training people held out for validation, sorted, named as
    :class:`~photoface.data.torch_dataset.PhotoDataset` names them.

    ``count`` people, at most an eighth of the training people (so validation never takes more
    than 12.5 % of them; the demo's 160 give 20); none when that leaves fewer than 2, the least a
    verification needs. Candidates are people with at least two training photos (a genuine pair)
    who have no photo in the test split; among them, those with the lowest sha256 of
    ``"{seed}:{name}"``, so the choice depends on neither the order of the rows nor the machine.

    Raises PhotofaceError for ``count`` 1 (no impostor pair).
    """
    if count == 1:
        raise PhotofaceError("schedule.validation_identities=1: verification needs at least 2 people (or 0 = off)")
    photos: dict[str, int] = {}
    test: set[str] = set()
    for k, d in enumerate(datasets):
        for row in d.rows:
            name = identity_name(row, k, len(datasets))
            if row.split == "test":
                test.add(name)
            else:
                photos[name] = photos.get(name, 0) + 1
    candidates = [n for n, c in photos.items() if c >= 2 and n not in test]
    count = min(count, len(photos) // 8, len(candidates))
    if count < 2:
        return []
    ranked = sorted(candidates, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest())
    return sorted(ranked[:count])


class Validator:
    """The validation people's photos, loaded once, and the numbers a network gets on them.

    Args:
        dataset: the validation rows (:func:`photoface.train.feed.load_training_data`).
        face_model: the run's face model; labeled rows without a true mesh are compared with its
            shape of their labels.
        batch: photos per forward pass.
    """

    def __init__(self, dataset: PhotoDataset, face_model, batch: int = 32):
        self.batch = batch
        items = [dataset[i] for i in range(len(dataset))]
        self.images = torch.stack([it["image"] for it in items])  # (N, 3, S, S)
        self.landmarks = torch.stack([it["landmarks"] for it in items])  # (N, 68, 2) px
        self.labels = np.array([int(it["identity"]) for it in items])
        self.people = list(dataset.identities)
        truth: list[np.ndarray | None] = []
        n_vertices = face_model.mean.shape[0]
        for i, it in enumerate(items):
            row, d = dataset.row(i), dataset.dataset_of(i)
            if row.true_mesh is not None:
                mesh = d.load_true_mesh(row).double().numpy()
                if mesh.shape[0] != n_vertices:
                    raise PhotofaceError(f"{d.root / row.true_mesh}: true mesh has {mesh.shape[0]} vertices, the "
                                         f"face model {n_vertices}; it cannot validate this run")
                truth.append(mesh)
            elif row.labeled:
                with torch.no_grad():
                    truth.append(face_model.shape(it["alpha_id"][None], it["alpha_exp"][None])[0].double().numpy())
            else:
                truth.append(None)
        self.truth = truth
        self.metrics = ("eer", "shape_mm") if any(t is not None for t in truth) else ("eer",)

    def __len__(self) -> int:
        return len(self.labels)

    @torch.no_grad()
    def __call__(self, net: FaceNet) -> dict[str, float]:
        """{metric: value} of ``net`` on the validation photos (:data:`METRICS`, those this data
        allow). Leaves ``net``'s mode, weights, buffers and every RNG state as they were."""
        modes = [(m, m.training) for m in net.modules()]
        device = next(net.parameters()).device
        codes, shapes = [], []
        net.eval()
        try:
            cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
                if device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                for start in range(0, len(self), self.batch):
                    sl = slice(start, start + self.batch)
                    lm = self.landmarks[sl].to(device) if net.uses_landmarks else None
                    enc = net.encoder(self.images[sl].to(device), lm)  # what FaceNet.decode runs, less the albedo
                    codes.append(enc.id_code.double().cpu())
                    shapes.append(net.decode_shape(enc.id_code, enc.exp_code).double().cpu())
        finally:
            for m, training in modes:
                m.training = training
        values = {"eer": verification_eer(torch.cat(codes).numpy(), self.labels)}
        if "shape_mm" in self.metrics:
            pred = torch.cat(shapes).numpy()
            errors = [float(aligned_distances(p, t).mean()) for p, t in zip(pred, self.truth) if t is not None]
            values["shape_mm"] = float(np.mean(errors))
        return values


def verification_eer(codes: np.ndarray, labels: np.ndarray) -> float:
    """EER of the cosine similarity over every pair of (N, D) ``codes`` with (N,) identity labels."""
    pairs = all_pairs(len(codes))
    return equal_error_rate(pair_scores(codes, pairs), labels[pairs[:, 0]] == labels[pairs[:, 1]])


class Selection:
    """The validations of a run and the one selected (module docstring, point 3).

    ``records``: one dict per validation, in step order: ``step``, ``stage``, the metrics, and the
    ``score`` (mean ratio to the start's metrics; None where not admissible). The first record is
    the start, the reference of every later one.
    """

    def __init__(self, records: list[dict] | None = None, best: int | None = None):
        self.records: list[dict] = list(records or [])
        self.best = best

    def add(self, step: int, stage: int, values: dict[str, float]) -> bool:
        """Record a validation; True when it becomes the selected one."""
        start = self.records[0] if self.records else None
        score = 1.0 if start is None else selection_score(values, start)
        self.records.append({"step": int(step), "stage": int(stage), **values, "score": score})
        if score is not None and (self.best is None or score < self.records[self.best]["score"]):
            self.best = len(self.records) - 1
            return True
        return False

    @property
    def selected(self) -> dict | None:
        return None if self.best is None else self.records[self.best]

    def state_dict(self) -> dict:
        return {"records": [dict(r) for r in self.records], "best": self.best}

    @classmethod
    def from_state(cls, state: dict | None) -> "Selection":
        return cls() if state is None else cls(state["records"], state["best"])

    def describe_last(self, people: int) -> str:
        """One line for the log: the latest validation, and whether it was selected."""
        last = self.records[-1]
        numbers = ", ".join(f"{m} {last[m]:.4f}" for m in METRICS if m in last)
        return (f"validation on {people} held-out training people: {numbers}"
                + (", selected" if self.selected is last else ""))

    def report(self, validator: Validator) -> dict:
        """What ``RUN/validation.json`` holds: the people, the metrics, the rule, every
        validation and the selected one."""
        return {
            "people": validator.people,
            "metrics": list(validator.metrics),
            "rule": "admissible: no metric worse than the start's (the first record); selected: the "
                    "admissible validation with the lowest mean ratio to the start's metrics, the earliest on ties",
            "selected": self.selected,
            "records": self.records,
        }


def selection_score(values: dict[str, float], start: dict[str, float]) -> float | None:
    """Mean over the metrics of ``values[m] / start[m]``; None (not admissible) when any metric is
    worse than the start's or not finite."""
    ratios = []
    for m in METRICS:
        if m not in start:
            continue
        v = values[m]
        if not math.isfinite(v) or v > start[m]:
            return None
        ratios.append(v / start[m] if start[m] > 0 else 0.0)
    return float(np.mean(ratios))
