"""Verification metrics on constructed score sets with known answers."""

import numpy as np
import pytest

from photoface.run import verification


def test_cosine_similarity_and_pair_scores():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = np.array([[0.0, 3.0], [2.0, 2.0], [-1.0, 0.0]])
    assert np.allclose(verification.cosine_similarity(a, b), [0.0, 1.0, -1.0])
    assert np.allclose(verification.pair_scores(a, [[0, 2], [1, 0]]), [1.0, np.sqrt(0.5)])


def test_separable_scores_give_perfect_metrics():
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    same = np.array([1, 1, 1, 0, 0, 0])
    assert verification.equal_error_rate(scores, same) == 0.0
    assert verification.tar_at_far(scores, same) == {1e-3: 1.0, 1e-2: 1.0, 1e-1: 1.0}
    thr, acc = verification.best_threshold(scores, same)
    assert acc == 1.0 and thr == pytest.approx(0.5)


def test_constructed_roc_eer_and_tar():
    # 10 genuine, 10 impostor; descending order of all 20 scores interleaves as below
    genuine = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.5, 0.4, 0.3])
    impostor = np.array([0.88, 0.6, 0.55, 0.45, 0.35, 0.25, 0.2, 0.15, 0.1, 0.05])
    scores = np.r_[genuine, impostor]
    same = np.r_[np.ones(10), np.zeros(10)]
    roc = verification.roc_curve(scores, same)
    assert roc["far"][0] == 0 and roc["tar"][0] == 0 and roc["far"][-1] == 1 and roc["tar"][-1] == 1
    assert np.all(np.diff(roc["far"]) >= 0) and np.all(np.diff(roc["tar"]) >= 0)
    # FAR 0 allows only scores above 0.88: 2 genuine; FAR ≤ 0.1 allows down to 0.65: 7 genuine
    assert verification.tar_at_far(scores, same, (1e-3, 0.1)) == {1e-3: 0.2, 0.1: 0.7}
    # at threshold 0.55: 7 genuine accepted (FRR 0.3) and 3 impostors (FAR 0.3) → EER 0.3 exactly
    assert verification.equal_error_rate(scores, same) == pytest.approx(0.3)
    thr, acc = verification.best_threshold(scores, same)
    assert acc == pytest.approx(0.8) and verification.accuracy(scores, same, thr) == pytest.approx(0.8)


def test_eer_interpolates_between_roc_points():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    same = np.array([1, 0, 1, 0])
    # ROC points (far, tar): (0,0) (0,.5) (.5,.5) (.5,1) (1,1); FAR-FRR: -1, -.5, 0 → EER .5
    assert verification.equal_error_rate(scores, same) == pytest.approx(0.5)
    # a tie of a genuine and an impostor score makes one ROC step from (FAR 0, FRR .5) to
    # (FAR .5, FRR 0): FAR - FRR crosses zero halfway along it → EER .25
    scores2 = np.array([0.9, 0.8, 0.8, 0.7])
    same2 = np.array([1, 1, 0, 0])
    assert verification.equal_error_rate(scores2, same2) == pytest.approx(0.25)


def test_ties_are_one_roc_point():
    scores = np.array([0.5, 0.5, 0.5, 0.5])
    same = np.array([1, 0, 1, 0])
    roc = verification.roc_curve(scores, same)
    assert roc["far"].tolist() == [0.0, 1.0] and roc["tar"].tolist() == [0.0, 1.0]
    _, acc = verification.best_threshold(scores, same)
    assert acc == 0.5


def test_sample_pairs_balanced_and_deterministic():
    labels = np.repeat(np.arange(5), 3)
    pairs, same = verification.sample_pairs(labels, 40, seed=3)
    assert pairs.shape == (40, 2) and same.sum() == 20
    assert np.all(pairs[:, 0] != pairs[:, 1])
    assert np.all((labels[pairs[:, 0]] == labels[pairs[:, 1]]) == same.astype(bool))
    again, _ = verification.sample_pairs(labels, 40, seed=3)
    assert np.array_equal(pairs, again)


def test_report_uses_held_out_calibration():
    rng = np.random.default_rng(0)
    cal_s = np.r_[rng.normal(0.8, 0.1, 200), rng.normal(0.2, 0.1, 200)]
    cal_y = np.r_[np.ones(200), np.zeros(200)]
    s = np.r_[rng.normal(0.8, 0.1, 100), rng.normal(0.2, 0.1, 100)]
    y = np.r_[np.ones(100), np.zeros(100)]
    rep = verification.verification_report(s, y, calibration=(cal_s, cal_y))
    assert rep["threshold_calibrated_on"] == "held-out pairs"
    assert 0.4 < rep["threshold"] < 0.6 and rep["accuracy"] > 0.97
    assert set(rep["tar_at_far"]) == {"0.001", "0.01", "0.1"} and rep["eer"] < 0.03
    with pytest.raises(ValueError):
        verification.roc_curve([0.1, 0.2], [1, 1])
