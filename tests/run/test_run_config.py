from photoface.run.config import preset


def test_the_paper_preset_keeps_the_image_only_encoder_and_the_demo_starts_from_the_landmarks():
    paper, demo = preset("paper"), preset("demo")
    assert paper.model.landmark_input == 0 and not paper.model.landmark_linear and not paper.schedule.landmark_start
    assert demo.model.landmark_linear and demo.schedule.landmark_start and demo.optim.lr_landmark_linear == 1e-6
    # the training guard is beyond the paper: its preset hands on the last weights, the demo's the best validated
    assert paper.schedule.validation_identities == 0 and demo.schedule.validation_identities >= 2
