import pytest
import torch

from photoface.data.sampler import HybridBatchSampler
from photoface.errors import PhotofaceError


def _rows(n_ids=10, per_id=5, labeled_every=4):
    identities, labeled = [], []
    for i in range(n_ids):
        for j in range(per_id):
            identities.append(f"id{i}")
            labeled.append((i * per_id + j) % labeled_every == 0)
    return identities, labeled


def _sampler(identities, labeled, **kw):
    args = dict(identities_per_batch=3, photos_per_identity=2, labeled_pairs=2, seed=7)
    args.update(kw)
    return HybridBatchSampler(identities, labeled, **args)


def test_batches_are_identity_groups_then_labeled_pairs():
    identities, labeled = _rows()
    s = _sampler(identities, labeled)
    batches = list(s)
    assert len(batches) == len(s) > 3
    for b in batches:
        assert len(b) == 3 * 2 + 2 * 2 == s.batch_size
        grouped, pairs = b[: s.grouped_size], b[s.grouped_size :]
        groups = [grouped[i : i + 2] for i in range(0, 6, 2)]
        ids = [{identities[r] for r in g} for g in groups]
        assert all(len(x) == 1 for x in ids), "each group is one identity"
        assert len(set.union(*ids)) == 3, "the P groups are distinct identities"
        assert not any(labeled[r] for r in grouped)
        assert len(pairs) == 4 and all(labeled[r] for r in pairs)


def test_epoch_covers_every_unlabeled_photo():
    identities, labeled = _rows(n_ids=12, per_id=4)
    s = _sampler(identities, labeled)
    seen = {r for b in s.epoch_batches(0) for r in b[: s.grouped_size]}
    unlabeled = {i for i, lab in enumerate(labeled) if not lab}
    # the only rows an epoch may miss are those in chunks dropped at the end (< P chunks)
    assert len(unlabeled - seen) <= (s.P - 1) * s.K


def test_deterministic_and_epochs_differ():
    identities, labeled = _rows()
    a, b = _sampler(identities, labeled), _sampler(identities, labeled)
    assert a.epoch_batches(0) == b.epoch_batches(0)
    assert a.epoch_batches(0) != a.epoch_batches(1)
    assert _sampler(identities, labeled, seed=8).epoch_batches(0) != a.epoch_batches(0)


def test_resume_mid_epoch_continues_the_same_sequence():
    identities, labeled = _rows()
    full = _sampler(identities, labeled)
    reference = list(full) + list(full)  # two epochs
    first = _sampler(identities, labeled)
    got = []
    for batch in first:
        got.append(batch)
        if len(got) == 3:
            break
    state = first.state_dict()
    assert state == {"epoch": 0, "position": 3}
    resumed = _sampler(identities, labeled)
    resumed.load_state_dict(state)
    got += list(resumed) + list(resumed)
    assert got == reference[: len(got)] and len(got) == len(reference)
    assert resumed.state_dict() == {"epoch": 2, "position": 0}


def test_ranks_partition_the_global_batches():
    identities, labeled = _rows(n_ids=20, per_id=4)
    single = _sampler(identities, labeled)
    r0 = _sampler(identities, labeled, rank=0, world_size=2)
    r1 = _sampler(identities, labeled, rank=1, world_size=2)
    assert len(r0) == len(r1) == len(single) // 2
    b0, b1 = r0.epoch_batches(0), r1.epoch_batches(0)
    assert b0 == single.epoch_batches(0)[0::2][: len(r0)]
    assert b1 == single.epoch_batches(0)[1::2][: len(r1)]


def test_identity_with_fewer_photos_than_k_still_forms_a_group():
    identities = ["a"] * 1 + ["b"] * 3 + ["c"] * 2 + ["l"] * 2
    labeled = [False] * 6 + [True] * 2
    s = HybridBatchSampler(identities, labeled, identities_per_batch=2, photos_per_identity=3, labeled_pairs=1)
    for b in s.epoch_batches(0):
        g = b[:6]
        assert identities[g[0]] == identities[g[1]] == identities[g[2]]
        assert identities[g[3]] == identities[g[4]] == identities[g[5]]


def test_pairs_only_and_bad_configurations():
    identities, labeled = _rows()
    s = _sampler(identities, labeled, identities_per_batch=0)
    assert all(len(b) == 4 and all(labeled[r] for r in b) for b in s)
    with pytest.raises(PhotofaceError, match="labeled_pairs=0"):
        _sampler(identities, [False] * len(identities))
    with pytest.raises(PhotofaceError, match="identities_per_batch"):
        _sampler(identities, labeled, identities_per_batch=11)
    with pytest.raises(PhotofaceError, match="does not fit"):
        _sampler(identities, labeled).load_state_dict({"epoch": 0, "position": 10_000})


def test_does_not_touch_the_global_rng():
    identities, labeled = _rows()
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    list(_sampler(identities, labeled))
    assert torch.equal(torch.rand(3), expected)
