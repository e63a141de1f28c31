"""What the training loop is fed: the training collections, checked, and each step's batch and draws.

* :func:`load_training_data` opens the prepared datasets (``photoface.data.format``), refuses
  labels that were made with another face model than the configured one, and returns their
  training split as one :class:`~photoface.data.torch_dataset.PhotoDataset` with the fingerprints a
  checkpoint records, less the validation people (``schedule.validation_identities``,
  :mod:`photoface.train.validation`), whose rows it returns apart.
* :func:`check_data_against_checkpoint` refuses to resume a run on other data or other people.
* :class:`BatchStream` counts the batches the loop has consumed, which is the sampler's resume
  state (a DataLoader with workers fetches further ahead than that).
* :func:`step_generator` seeds every random draw of a step from ``(seed, step, rank)``, which is what
  makes a resumed run repeat an uninterrupted one bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from photoface.data.format import load_dataset
from photoface.data.sampler import HybridBatchSampler
from photoface.data.torch_dataset import PhotoDataset
from photoface.errors import PhotofaceError
from photoface.facemodel import hash_mismatch_advice
from photoface.run import checkpoint as ckpt
from photoface.run.config import TrainConfig
from photoface.train.validation import validation_people


@dataclass
class TrainingData:
    """What :func:`load_training_data` returns.

    Attributes:
        dataset: the rows training learns from (the train split, less the validation people).
        meta: per dataset folder ``{"path", "hash", "meta"}``, what a checkpoint records.
        validation: the validation people's rows, or None without validation (switched off, or
            too few training people for it: :func:`photoface.train.validation.validation_people`).
    """

    dataset: PhotoDataset
    meta: list[dict]
    validation: PhotoDataset | None = None


def load_training_data(data_dirs: list[Path], cfg: TrainConfig, face_model,
                       face_model_hash: str) -> TrainingData:
    """The training split of the prepared datasets in ``data_dirs`` (:class:`TrainingData`).

    Raises PhotofaceError naming the dataset whose labels were made with another face model.
    """
    datasets = [load_dataset(d) for d in data_dirs]
    for d in datasets:
        if d.meta.counts.get("labeled", 0) and d.meta.face_model_hash not in (None, face_model_hash):
            raise PhotofaceError(
                f"{d.root}: its labels refer to face model {d.meta.face_model!r} (hash "
                f"{str(d.meta.face_model_hash)[:12]}), not the configured {cfg.model.face_model!r} "
                f"(hash {face_model_hash[:12]})." + hash_mismatch_advice(d.meta.face_model, d.meta.face_model_hash)
            )
    held_out = set(validation_people(datasets, cfg.schedule.validation_identities, cfg.schedule.seed)
                   if cfg.schedule.validation_identities else ())
    args = (datasets, "train", face_model.n_id, face_model.n_exp, cfg.model.image_size)
    dataset = PhotoDataset(*args, keep_identity=lambda name: name not in held_out)
    validation = PhotoDataset(*args, keep_identity=held_out.__contains__) if held_out else None
    meta = [{"path": str(d.root.resolve()), "hash": ckpt.dataset_fingerprint(d.root), "meta": d.meta.to_json()}
            for d in datasets]
    return TrainingData(dataset, meta, validation)


def check_data_against_checkpoint(run_dir: Path, state: dict | None, dataset: PhotoDataset,
                                  data_meta: list[dict]) -> None:
    """Refuse to resume the run in ``run_dir`` (checkpoint ``state``; None for a fresh run) on data
    other than those it was trained on, or with other training identities."""
    if state is None:
        return
    if [m["hash"] for m in state["dataset"]] != [m["hash"] for m in data_meta]:
        raise PhotofaceError(f"{run_dir}: the data differ from those the run was trained on")
    if state["identities"] != dataset.identities:
        raise PhotofaceError(f"{run_dir}: the training identities differ from the checkpoint's")


class BatchStream:
    """Batches from a DataLoader over the sampler, counting what was consumed (the resume state;
    the loader may have fetched further ahead)."""

    def __init__(self, loader: torch.utils.data.DataLoader, sampler: HybridBatchSampler):
        self.loader, self.sampler = loader, sampler
        self.epoch, self.position = sampler.epoch, sampler.position
        self._it = None

    def next(self) -> dict[str, torch.Tensor]:
        while True:
            if self._it is None:
                self.sampler.load_state_dict(self.state_dict())
                self.epoch, self.position = self.sampler.epoch, self.sampler.position
                self._it = iter(self.loader)
            try:
                batch = next(self._it)
            except StopIteration:
                self._it = None
                self.epoch, self.position = self.epoch + 1, 0
                continue
            self.position += 1
            return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The generator of every random draw of ``step`` on ``rank`` (augmentation, critic samples)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 8_191 + rank * 131 + 1) % (2**63))
