import pytest

from photoface.errors import PhotofaceError
from photoface.run.config import apply_overrides, preset


def test_overrides_read_yaml_numbers_also_for_optional_float_fields():
    cfg = apply_overrides(preset("paper"), ["optim.lr_landmark_linear=1e-6", "optim.lr_generator=5e-05"])
    assert cfg.optim.lr_landmark_linear == 1e-6 and cfg.optim.lr_generator == 5e-5  # YAML 1.1 reads both as strings
    assert apply_overrides(cfg, ["optim.lr_landmark_linear=2"]).optim.lr_landmark_linear == 2.0
    assert apply_overrides(cfg, ["optim.lr_landmark_linear=null"]).optim.lr_landmark_linear is None
    with pytest.raises(PhotofaceError, match="expects float"):
        apply_overrides(cfg, ["optim.lr_generator=fast"])


def test_the_paper_preset_keeps_the_image_only_encoder_and_the_demo_starts_from_the_landmarks():
    paper, demo = preset("paper"), preset("demo")
    assert paper.model.landmark_input == 0 and not paper.model.landmark_linear and not paper.schedule.landmark_start
    assert demo.model.landmark_linear and demo.schedule.landmark_start and demo.optim.lr_landmark_linear == 1e-6
    # the training guard is beyond the paper: its preset hands on the last weights, the demo's the best validated
    assert paper.schedule.validation_identities == 0 and demo.schedule.validation_identities >= 2
