import pytest
import torch

from photoface.data.format import load_dataset
from photoface.data.torch_dataset import PhotoDataset
from photoface.errors import PhotofaceError


def test_items_are_tensors_with_labels_where_rows_have_them(tiny_setup):
    _, data = tiny_setup
    d = load_dataset(data)
    ds = PhotoDataset([d], "train", n_id=8, n_exp=4)
    assert len(ds) == len(d.filter(split="train")) and len(ds.identities) == 6
    for i in (0, 1):
        item, row = ds[i], ds.row(i)
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (1, 32, 32) and set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert torch.allclose(item["landmarks"], torch.from_numpy(row.landmarks).float())
        assert item["visible"].dtype == torch.bool and item["visible"].all()
        assert bool(item["labeled"]) == row.labeled
        assert ds.identities[int(item["identity"])] == row.identity
        if row.labeled:
            assert torch.allclose(item["alpha_id"], torch.from_numpy(row.alpha_id).float())
            assert torch.allclose(item["pose"], torch.from_numpy(row.pose).float())
        else:
            assert not item["alpha_id"].any() and not item["pose"].any()


def test_wrong_model_or_size_and_several_folders(tiny_setup):
    _, data = tiny_setup
    d = load_dataset(data)
    with pytest.raises(PhotofaceError, match="another face model"):
        PhotoDataset([d], "train", n_id=4, n_exp=4)
    with pytest.raises(PhotofaceError, match="model.image_size=32"):
        PhotoDataset([d], "train", n_id=8, n_exp=4, image_size=64)
    both = PhotoDataset([d, d], "test", n_id=8, n_exp=4)
    assert len(both.identities) == 2 * len(PhotoDataset([d], "test", n_id=8, n_exp=4).identities)
    assert all(name.split(":")[0] in ("0", "1") for name in both.identities)
