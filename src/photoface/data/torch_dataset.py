"""Prepared datasets as a ``torch.utils.data.Dataset`` of tensors, for training and evaluation.

One item per photo (row), a dict of tensors that the default collate stacks into a batch:

- ``image`` (3, S, S) float32 in [0, 1], linear RGB; ``mask`` (1, S, S) float32, 1 = face pixel;
- ``landmarks`` (68, 2) float32 pixels (x right, y down, corner origin); ``visible`` (68,) bool
  (all True when the row has no visibility);
- ``labeled`` () bool; ``alpha_id`` (K,), ``alpha_exp`` (L,), ``pose`` (6,) float32 labels
  (zeros on unlabeled rows, which the losses never read);
- ``identity`` () long, index into :attr:`PhotoDataset.identities`; ``index`` () long, the item.

Several dataset folders can be combined; their identities are kept apart (a person in one folder
is never merged with a same-named person in another) by prefixing the folder number when more
than one folder is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from photoface.data.format import DatasetRow, PreparedDataset
from photoface.errors import PhotofaceError


class PhotoDataset(torch.utils.data.Dataset):
    """Rows of one split of one or more prepared datasets.

    Args:
        datasets: loaded prepared datasets (``photoface.data.format.load_dataset``).
        split: "train", "test", or None for every row.
        n_id, n_exp: coefficient counts K, L of the face model that the labels must refer to;
            labeled rows with other lengths raise PhotofaceError. Labels shorter than the model's
            are padded with zeros (the model's trailing coefficients are then 0).
        image_size: required side of the images in pixels (None: take the datasets' own,
            which must agree).
        keep_identity: if given, only rows whose identity name (as in :attr:`identities`, with
            the folder prefix when several datasets are given) it accepts (training holds
            validation people out with it).
    """

    def __init__(
        self,
        datasets: Sequence[PreparedDataset],
        split: str | None = "train",
        n_id: int = 0,
        n_exp: int = 0,
        image_size: int | None = None,
        keep_identity: Callable[[str], bool] | None = None,
    ) -> None:
        if not datasets:
            raise PhotofaceError("no dataset given")
        sizes = {d.meta.image_size for d in datasets}
        if image_size is None and len(sizes) > 1:
            raise PhotofaceError(f"datasets have different image sizes {sorted(sizes)}")
        self.image_size = int(image_size if image_size is not None else sizes.pop())
        for d in datasets:
            if d.meta.image_size != self.image_size:
                raise PhotofaceError(
                    f"{d.root}: images are {d.meta.image_size} px but {self.image_size} px are needed "
                    f"(set model.image_size={d.meta.image_size} or prepare the data at {self.image_size} px)"
                )
        self.n_id, self.n_exp = n_id, n_exp
        self._items: list[tuple[PreparedDataset, DatasetRow]] = []
        names: list[str] = []
        for k, d in enumerate(datasets):
            for row in d.rows:
                if split is not None and row.split != split:
                    continue
                name = identity_name(row, k, len(datasets))
                if keep_identity is not None and not keep_identity(name):
                    continue
                if row.labeled:
                    self._check_labels(d, row)
                self._items.append((d, row))
                names.append(name)
        if not self._items:
            where = ", ".join(str(d.root) for d in datasets)
            raise PhotofaceError(f"{where}: no rows in split {split!r}")
        self.identities: list[str] = sorted(set(names))
        lookup = {name: i for i, name in enumerate(self.identities)}
        self.identity_index: list[int] = [lookup[n] for n in names]
        self.row_identities: list[str] = names
        self.labeled: list[bool] = [row.labeled for _, row in self._items]

    def _check_labels(self, d: PreparedDataset, row: DatasetRow) -> None:
        for key, have, want in (("alpha_id", row.alpha_id, self.n_id), ("alpha_exp", row.alpha_exp, self.n_exp)):
            if have is not None and len(have) > want:
                raise PhotofaceError(
                    f"{d.root}: row {row.image} has {len(have)} {key} coefficients but the face model has "
                    f"{want}; the labels belong to another face model ({d.meta.face_model})"
                )

    def __len__(self) -> int:
        return len(self._items)

    def row(self, i: int) -> DatasetRow:
        return self._items[i][1]

    def dataset_of(self, i: int) -> PreparedDataset:
        return self._items[i][0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        d, row = self._items[i]
        visible = torch.ones(68, dtype=torch.bool) if row.visible is None else torch.from_numpy(row.visible.astype(bool))
        return {
            "image": d.load_image(row),
            "mask": d.load_mask(row),
            "landmarks": torch.from_numpy(row.landmarks).float(),
            "visible": visible,
            "labeled": torch.tensor(row.labeled),
            "alpha_id": _padded(row.alpha_id, self.n_id),
            "alpha_exp": _padded(row.alpha_exp, self.n_exp),
            "pose": _padded(row.pose, 6),
            "identity": torch.tensor(self.identity_index[i]),
            "index": torch.tensor(i),
        }


def identity_name(row: DatasetRow, folder: int, folders: int) -> str:
    """A row's identity as :class:`PhotoDataset` names it: prefixed by the folder number ``k:``
    when ``folders`` > 1, so same-named people of different folders stay apart."""
    return row.identity if folders == 1 else f"{folder}:{row.identity}"


def _padded(values, n: int) -> torch.Tensor:
    out = torch.zeros(n)
    if values is not None:
        v = torch.as_tensor(values, dtype=torch.float32)
        out[: len(v)] = v
    return out
