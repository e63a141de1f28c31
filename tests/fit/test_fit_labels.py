import numpy as np

from photoface.data.format import DatasetRow
from photoface.fit.labels import LABEL_SOURCE, labeled_row


def _row():
    return DatasetRow(image="images/a/x.png", identity="a", split="train", landmarks=np.zeros((68, 2)))


def test_fitted_row_is_labeled_and_says_where_the_label_comes_from():
    row = labeled_row(_row(), np.ones(5), np.zeros(3), np.arange(6.0), rms_px=1.25, failure=None)
    obj = row.to_json()
    assert obj["labeled"] is True and obj["label_source"] == LABEL_SOURCE
    assert obj["alpha_id"] == [1.0] * 5 and obj["pose"] == list(np.arange(6.0))
    DatasetRow.from_json(obj, "test")  # valid for the dataset reader


def test_failed_photo_stays_unlabeled_with_its_reason():
    row = labeled_row(_row(), np.ones(5), np.zeros(3), np.arange(6.0), rms_px=9.0, failure="landmarks far off")
    obj = row.to_json()
    assert obj["labeled"] is False and "alpha_id" not in obj and obj["fit_failure"] == "landmarks far off"
