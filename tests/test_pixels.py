import numpy as np
import torch

from photoface.pixels import from_uint8, to_uint8


def test_levels_round_to_nearest_and_clip():
    values = np.array([-0.2, 0.0, 0.1 / 255, 0.6 / 255, 0.5, 1.0, 1.7])
    assert to_uint8(values).tolist() == [0, 0, 0, 1, 128, 255, 255]


def test_tensors_come_back_channels_last():
    img = torch.rand(3, 4, 5)
    out = to_uint8(img)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert np.array_equal(out, to_uint8(img.permute(1, 2, 0).numpy()))
    batch = to_uint8(torch.stack([img, 1 - img]))
    assert batch.shape == (2, 4, 5, 3) and np.array_equal(batch[0], out)
    grey = to_uint8(torch.full((1, 2, 2), 0.5))
    assert grey.shape == (2, 2, 3) and (grey == 128).all()


def test_roundtrip_through_float_is_exact():
    u8 = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    t = from_uint8(u8)
    assert t.shape == (3, 6, 7) and t.dtype == torch.float32 and 0 <= t.min() and t.max() <= 1
    assert np.array_equal(to_uint8(t), u8)
    assert np.array_equal(to_uint8(t.permute(1, 2, 0).numpy()), u8)
