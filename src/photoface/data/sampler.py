"""Hybrid identity-grouped batch sampling for semi-supervised training.

Every batch has two parts, always in this order (row indices into the dataset):

1. **grouped part** — P identities × K photos taken from the *unlabeled* rows, identity-contiguous
   (positions ``[i*K, (i+1)*K)`` share one identity, and the P identities are distinct). The center
   loss needs several photos of the same person in one batch to pull their identity codes together.
2. **pair part** — Q labeled pairs laid out ``A0, B0, A1, B1, ...``. The pairwise shape loss decodes
   the identity code of A with the expression code of B and compares with the face-model shape built
   from A's ``alpha_id`` and B's ``alpha_exp``.

The ratio P·K : 2Q is set in ``config.data`` (``identities_per_batch``, ``photos_per_identity``,
``labeled_pairs``).

An *epoch* is one pass over the unlabeled photos: each identity's photos are shuffled and cut into
chunks of K (the last chunk is topped up with other photos of the same person, drawn again, so a
person with fewer than K photos still forms a group); chunks are shuffled and packed P at a time into
batches of distinct identities. The number of batches per epoch is fixed,
``floor(#chunks / P)``. Labeled pairs come from consecutive rows of repeatedly reshuffled labeled rows.

Determinism and resume: an epoch's batch list is a pure function of ``(seed, epoch)`` (its own
``torch.Generator``; the global RNG is never touched), so the whole state is ``(epoch, position)``.
Distributed training: every rank builds the same global list and takes batches ``rank, rank + W,
...`` (W = world size), like ``torch.utils.data.DistributedSampler`` but per batch; each rank's batch
keeps the full grouping. Torch's samplers are not used because they know nothing of identities.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

import torch

from photoface.errors import PhotofaceError


class HybridBatchSampler:
    """Yields lists of row indices: ``P*K`` grouped unlabeled rows, then ``2*Q`` labeled pair rows.

    Args:
        identities: identity string of every dataset row (length N).
        labeled: whether each row carries 3DMM labels (length N).
        identities_per_batch: P. 0 drops the grouped part.
        photos_per_identity: K.
        labeled_pairs: Q. 0 drops the pair part.
        seed: base seed; the batch order of epoch e depends only on (seed, e).
        rank, world_size: this process's shard for distributed training.

    Usable directly as ``batch_sampler`` of a ``torch.utils.data.DataLoader``. Iterating continues
    from the current ``(epoch, position)`` and advances it; when an epoch is exhausted the sampler
    moves to the next one, so ``iter()`` again starts the next epoch.
    """

    def __init__(
        self,
        identities: Sequence[str],
        labeled: Sequence[bool],
        *,
        identities_per_batch: int,
        photos_per_identity: int,
        labeled_pairs: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if len(identities) != len(labeled):
            raise PhotofaceError("sampler: identities and labeled flags differ in length")
        if identities_per_batch < 0 or photos_per_identity < 1 or labeled_pairs < 0:
            raise PhotofaceError(
                "sampler: need identities_per_batch >= 0, photos_per_identity >= 1, labeled_pairs >= 0"
            )
        if not 0 <= rank < world_size:
            raise PhotofaceError(f"sampler: rank {rank} outside world size {world_size}")
        self.P, self.K, self.Q = identities_per_batch, photos_per_identity, labeled_pairs
        self.seed, self.rank, self.world_size = int(seed), rank, world_size

        groups: dict[str, list[int]] = {}
        for i, (ident, lab) in enumerate(zip(identities, labeled)):
            if not lab:
                groups.setdefault(str(ident), []).append(i)
        self._groups = [torch.tensor(rows) for rows in groups.values()]
        self._labeled_rows = torch.tensor([i for i, lab in enumerate(labeled) if lab], dtype=torch.long)

        if self.P > 0 and len(self._groups) < self.P:
            raise PhotofaceError(
                f"sampler: {len(self._groups)} identities have unlabeled photos, but a batch needs "
                f"{self.P} (data.identities_per_batch); lower it or add data"
            )
        if self.Q > 0 and len(self._labeled_rows) < 2:
            raise PhotofaceError(
                f"sampler: {len(self._labeled_rows)} labeled photos, a pair needs 2 "
                "(set data.labeled_pairs=0 for data without labels)"
            )
        if self.P == 0 and self.Q == 0:
            raise PhotofaceError("sampler: a batch needs identities_per_batch > 0 or labeled_pairs > 0")

        if self.P > 0:
            n_chunks = sum(-(-len(g) // self.K) for g in self._groups)
            global_batches = n_chunks // self.P
        else:
            global_batches = len(self._labeled_rows) // (2 * self.Q)
        self._batches_per_rank = global_batches // world_size
        if self._batches_per_rank == 0:
            raise PhotofaceError(
                f"sampler: the data make {global_batches} batches per epoch, fewer than the "
                f"{world_size} processes; use a smaller batch or more data"
            )
        self.epoch = 0
        self.position = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    # -- layout -------------------------------------------------------------------------------
    @property
    def grouped_size(self) -> int:
        """Rows of the grouped part at the start of each batch (P*K)."""
        return self.P * self.K

    @property
    def pair_count(self) -> int:
        """Labeled pairs at the end of each batch (Q)."""
        return self.Q

    @property
    def batch_size(self) -> int:
        return self.P * self.K + 2 * self.Q

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return self._batches_per_rank

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, position = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= position <= len(self):
            raise PhotofaceError(f"sampler state {state} does not fit this data ({len(self)} batches per epoch)")
        self.epoch, self.position = epoch, position
        if self.position == len(self):
            self.epoch, self.position = self.epoch + 1, 0

    # -- iteration ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[int]]:
        batches = self.epoch_batches(self.epoch)
        while self.position < len(batches):
            batch = batches[self.position]
            self.position += 1
            yield batch
        self.epoch, self.position = self.epoch + 1, 0

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch`` (a pure function of seed, epoch, rank, world size)."""
        if self._cache is None or self._cache[0] != epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch * 7_919 + 17) % (2**63))
            n_global = self._batches_per_rank * self.world_size
            grouped = self._grouped(g, n_global) if self.P > 0 else [[] for _ in range(n_global)]
            pairs = self._pairs(g, n_global) if self.Q > 0 else [[] for _ in range(n_global)]
            full = [a + b for a, b in zip(grouped, pairs)]
            self._cache = (epoch, full[self.rank :: self.world_size][: self._batches_per_rank])
        return self._cache[1]

    def _chunks_of(self, rows: torch.Tensor, g: torch.Generator) -> list[list[int]]:
        perm = rows[torch.randperm(len(rows), generator=g)]
        n_chunks = -(-len(rows) // self.K)
        extra = n_chunks * self.K - len(rows)
        if extra:
            perm = torch.cat([perm, rows[torch.randint(len(rows), (extra,), generator=g)]])
        return perm.view(n_chunks, self.K).tolist()

    def _grouped(self, g: torch.Generator, n_batches: int) -> list[list[int]]:
        chunks = [(gi, c) for gi, rows in enumerate(self._groups) for c in self._chunks_of(rows, g)]
        order = torch.randperm(len(chunks), generator=g).tolist()
        batches: list[list[int]] = []
        pending: deque[tuple[int, list[int]]] = deque()
        current: list[tuple[int, list[int]]] = []

        def place(item: tuple[int, list[int]]) -> bool:
            if any(item[0] == other[0] for other in current):
                return False
            current.append(item)
            return True

        def emit_if_full() -> None:
            nonlocal current
            if len(current) == self.P:
                batches.append([r for _, c in current for r in c])
                current = []

        for k in order:
            for _ in range(len(pending)):
                item = pending.popleft()
                if not place(item):
                    pending.append(item)
                emit_if_full()
            if not place(chunks[k]):
                pending.append(chunks[k])
            emit_if_full()
            if len(batches) >= n_batches:
                break
        # Leftover chunks may all belong to identities already in the batch being packed; top the
        # last batches up with fresh chunks of other people so every epoch has the same length.
        while len(batches) < n_batches:
            while pending and len(current) < self.P:
                item = pending.popleft()
                place(item)
            while len(current) < self.P:
                gi = int(torch.randint(len(self._groups), (1,), generator=g))
                place((gi, self._chunks_of(self._groups[gi], g)[0]))
            emit_if_full()
        return batches[:n_batches]

    def _pairs(self, g: torch.Generator, n_batches: int) -> list[list[int]]:
        need = 2 * self.Q * n_batches
        rows = self._labeled_rows
        parts, have = [], 0
        while have < need:
            parts.append(rows[torch.randperm(len(rows), generator=g)])
            have += len(rows)
        flat = torch.cat(parts)[:need].view(n_batches, 2 * self.Q)
        return flat.tolist()
