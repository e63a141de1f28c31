"""Identity verification from identity codes: pairs, cosine scores, ROC, TAR@FAR, EER, accuracy.

A pair is "genuine" (label 1) when both photos show the same person, else "impostor" (label 0).
Scores are cosine similarities of identity codes: higher means more alike. A pair is accepted when
its score is >= the threshold. FAR = accepted impostors / impostors; TAR = accepted genuine /
genuine; FRR = 1 - TAR. Numbers are fractions in [0, 1].

It lies in ``run`` because two layers that must not import each other use it: training's
validation, which selects a run's weights by the EER of held-out training people
(``photoface.train.validation``), and the evaluation.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_FARS = (1e-3, 1e-2, 1e-1)


def cosine_similarity(a, b) -> np.ndarray:
    """Row-wise cosine similarity of (N, D) and (N, D) → (N,)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(axis=-1) / np.maximum(na * nb, 1e-12)


def sample_pairs(labels: Sequence, num_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Balanced random pairs of items: half genuine, half impostor (fewer if impossible).

    Args:
        labels: (N,) identity of each item.
        num_pairs: total number of pairs wanted.

    Returns:
        pairs (P, 2) item indices, same (P,) int 1 = genuine. Deterministic for a seed; no pair
        pairs an item with itself; duplicates are possible only when few pairs exist.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == u) for u in np.unique(labels)]
    multi = [g for g in groups if len(g) >= 2]
    n_gen = num_pairs // 2 if multi else 0
    sizes = np.array([len(g) * (len(g) - 1) for g in multi], dtype=np.float64)
    pairs, same = [], []
    for _ in range(n_gen):
        g = multi[rng.choice(len(multi), p=sizes / sizes.sum())]
        i, j = rng.choice(g, 2, replace=False)
        pairs.append((i, j))
        same.append(1)
    if len(groups) >= 2:
        while len(pairs) < num_pairs:
            i, j = rng.choice(len(labels), 2, replace=False)
            if labels[i] != labels[j]:
                pairs.append((i, j))
                same.append(0)
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2), np.asarray(same, dtype=np.int64)


def all_pairs(n: int) -> np.ndarray:
    """(n(n-1)/2, 2) index pairs i < j."""
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1)


def pair_scores(codes, pairs) -> np.ndarray:
    """Cosine similarity of each pair of (N, D) codes: pairs (P, 2) → (P,)."""
    codes = np.asarray(codes, dtype=np.float64)
    pairs = np.asarray(pairs)
    return cosine_similarity(codes[pairs[:, 0]], codes[pairs[:, 1]])


def _check(scores, same):
    scores = np.asarray(scores, dtype=np.float64).ravel()
    same = np.asarray(same).astype(bool).ravel()
    if scores.shape != same.shape:
        raise ValueError("scores and labels differ in length")
    if same.all() or not same.any():
        raise ValueError("need both genuine and impostor pairs")
    return scores, same


def roc_curve(scores, same) -> dict[str, np.ndarray]:
    """ROC at every distinct threshold, from accepting nothing to accepting everything.

    Returns:
        {"far": (T,), "tar": (T,), "threshold": (T,)} with far, tar non-decreasing; the first
        point (threshold +inf) is (0, 0), the last (lowest score) is (1, 1).
    """
    scores, same = _check(scores, same)
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], same[order]
    tp, fp = np.cumsum(g), np.cumsum(~g)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each distinct score
    far = np.r_[0.0, fp[last] / (~same).sum()]
    tar = np.r_[0.0, tp[last] / same.sum()]
    return {"far": far, "tar": tar, "threshold": np.r_[np.inf, s[last]]}


def tar_at_far(scores, same, fars: Sequence[float] = DEFAULT_FARS) -> dict[float, float]:
    """Highest TAR whose FAR does not exceed each target FAR (no interpolation)."""
    roc = roc_curve(scores, same)
    return {float(f): float(roc["tar"][roc["far"] <= f + 1e-12].max()) for f in fars}


def equal_error_rate(scores, same) -> float:
    """EER: where FAR = FRR, linearly interpolated between the two ROC points that bracket it."""
    roc = roc_curve(scores, same)
    far, frr = roc["far"], 1.0 - roc["tar"]
    diff = far - frr  # rises from -1 to +1
    k = int(np.argmax(diff >= 0))
    if k == 0 or diff[k] == 0:
        return float(far[k])
    t = -diff[k - 1] / (diff[k] - diff[k - 1])
    return float(far[k - 1] + t * (far[k] - far[k - 1]))


def best_threshold(scores, same) -> tuple[float, float]:
    """Threshold maximising accuracy on calibration pairs, and that accuracy.

    The threshold is the midpoint between the scores on either side of the best cut, so it
    transfers to held-out pairs without sitting exactly on a calibration score.
    """
    scores, same = _check(scores, same)
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], same[order]
    # cut after position i accepts s[:i+1]; also consider accepting nothing
    correct = np.r_[(~same).sum(), (~same).sum() + np.cumsum(np.where(g, 1, -1))]
    valid = np.r_[True, np.r_[s[:-1] != s[1:], True]]  # cuts only between distinct scores
    correct = np.where(valid, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        thr = s[0] + 1e-6
    elif i == len(s):
        thr = s[-1] - 1e-6
    else:
        thr = 0.5 * (s[i - 1] + s[i])
    return float(thr), float(correct[i] / len(s))


def accuracy(scores, same, threshold: float) -> float:
    """Fraction of pairs classified correctly by ``score >= threshold``."""
    scores = np.asarray(scores, dtype=np.float64)
    return float(((scores >= threshold) == np.asarray(same).astype(bool)).mean())


def verification_report(scores, same, calibration: tuple | None = None,
                        fars: Sequence[float] = DEFAULT_FARS) -> dict:
    """Everything at once, JSON-ready: EER, TAR@FAR, and the accuracy at a threshold calibrated on
    ``calibration`` = (scores, same) held-out pairs (or on the evaluated pairs themselves when
    None, which is optimistic and flagged as such)."""
    thr, _ = best_threshold(*(calibration if calibration is not None else (scores, same)))
    return {
        "pairs": int(len(np.asarray(scores).ravel())),
        "eer": equal_error_rate(scores, same),
        "tar_at_far": {f"{f:g}": v for f, v in tar_at_far(scores, same, fars).items()},
        "threshold": thr,
        "accuracy": accuracy(scores, same, thr),
        "threshold_calibrated_on": "held-out pairs" if calibration is not None else "evaluated pairs",
    }
