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


def test_fit_settings_are_a_section_of_the_one_config(tmp_path):
    from photoface.fit.config import FitConfig as FromFit
    from photoface.run.config import FitConfig, preset
    from photoface.run.config_parse import apply_overrides as train_overrides
    from photoface.run.config_parse import load_yaml
    from photoface.run.resolve import RESUMABLE_KEYS

    assert FromFit is FitConfig
    cfg = train_overrides(preset("demo"), ["fit.photo_iterations=7", "fit.yaw_starts=[-30, 30]"])
    assert cfg.fit.photo_iterations == 7 and cfg.fit.yaw_starts == (-30.0, 30.0)
    cfg.to_yaml(tmp_path / "c.yaml")
    back = load_yaml(tmp_path / "c.yaml")
    assert back.fit == cfg.fit and preset("paper").fit == FitConfig()
    assert "fit.photo_iterations" in RESUMABLE_KEYS and "fit.w_photo" in RESUMABLE_KEYS
