import pytest

from photoface.errors import PhotofaceError
from photoface.run.config import preset
from photoface.run.config_parse import apply_overrides


def test_overrides_read_yaml_numbers_also_for_optional_float_fields():
    cfg = apply_overrides(preset("paper"), ["optim.lr_landmark_linear=1e-6", "optim.lr_generator=5e-05"])
    assert cfg.optim.lr_landmark_linear == 1e-6 and cfg.optim.lr_generator == 5e-5  # YAML 1.1 reads both as strings
    assert apply_overrides(cfg, ["optim.lr_landmark_linear=2"]).optim.lr_landmark_linear == 2.0
    assert apply_overrides(cfg, ["optim.lr_landmark_linear=null"]).optim.lr_landmark_linear is None
    with pytest.raises(PhotofaceError, match="expects float"):
        apply_overrides(cfg, ["optim.lr_generator=fast"])
