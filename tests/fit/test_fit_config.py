import pytest

from photoface.errors import PhotofaceError
from photoface.fit.config import FitConfig, apply_overrides


def test_overrides_parse_types_and_keep_the_original():
    base = FitConfig()
    cfg = apply_overrides(base, ["photo_iterations=3", "fit.w_photo=5", "contour=off", "yaw_starts=[0, 30]"])
    assert cfg.photo_iterations == 3 and cfg.w_photo == 5.0 and cfg.contour == "off"
    assert cfg.yaw_starts == (0.0, 30.0) and base.photo_iterations != 3


@pytest.mark.parametrize("item", ["nope=1", "photo_iterations=1.5", "w_photo", "contour=sometimes",
                                  "w_photo=-1"])
def test_bad_overrides_name_the_problem(item):
    with pytest.raises(PhotofaceError):
        apply_overrides(FitConfig(), [item])
