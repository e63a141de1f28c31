import torch

from photoface.fit import person as person_module
from photoface.fit.collection import make_batch
from photoface.fit.config import FitConfig
from photoface.fit.person import fit_person
from photoface.fit.resolution import coarse_batch, coarse_factor, coarse_pose, objective_weights
from photoface.render.camera import project

from .conftest import SIZE


def test_coarse_factor_only_for_a_smaller_divisor():
    assert coarse_factor(128, 64) == 2
    assert coarse_factor(128, 32) == 4
    assert coarse_factor(128, 0) == 1  # off
    assert coarse_factor(64, 64) == 1 and coarse_factor(64, 128) == 1  # not smaller than the photos
    assert coarse_factor(128, 48) == 1  # does not divide: pixel blocks would not line up


def test_coarse_level_sees_the_same_face(tiny_model, known_person):
    _, photos = known_person
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, FitConfig())
    small = coarse_batch(batch, 2)
    assert small.images.shape[-1] == SIZE // 2 and small.masks.shape[-1] == SIZE // 2
    # the photo's landmarks and the projected landmark vertices agree at both levels
    lm = project(photos["verts"], photos["pose"])[:, tiny_model.landmarks68, :2]
    lm_small = project(photos["verts"], coarse_pose(photos["pose"], 2))[:, tiny_model.landmarks68, :2]
    assert torch.allclose(lm_small, lm / 2, atol=1e-4)
    assert torch.allclose(small.landmarks.double(), batch.landmarks.double() / 2, atol=1e-4)
    # a block's mean colour: the coarse image is the photo averaged
    assert torch.allclose(small.images[0, :, 5, 7], batch.images[0, :, 10:12, 14:16].mean((1, 2)))
    cfg = FitConfig()
    assert objective_weights(cfg, 2).w_gdl == cfg.w_gdl / 4 and objective_weights(cfg, 1) is cfg


def test_coarse_steps_run_first_and_hand_their_result_to_the_fine_ones(tiny_model, known_person, monkeypatch):
    _, photos = known_person
    coarse = FitConfig(light_iterations=0, photo_iterations=3, coarse_size=SIZE // 2, coarse_photo_iterations=3,
                       single_photo_fits=False)
    both = FitConfig(light_iterations=0, photo_iterations=5, coarse_size=SIZE // 2, coarse_photo_iterations=3,
                     single_photo_fits=False)
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, both)
    after_coarse = fit_person(tiny_model, batch, coarse).params.decode().shape.detach()

    seen = []
    fit_terms = person_module.fit_terms

    def spy(decoded, level_batch, *args, **kwargs):
        seen.append((level_batch.image_size, decoded.shape.detach().clone()))
        return fit_terms(decoded, level_batch, *args, **kwargs)

    monkeypatch.setattr(person_module, "fit_terms", spy)
    fit_person(tiny_model, batch, both)
    assert [s for s, _ in seen] == [SIZE // 2] * 3 + [SIZE] * 2
    # the first fine step starts where the coarse steps ended
    assert torch.allclose(seen[3][1], after_coarse)
    assert not torch.allclose(seen[3][1], seen[0][1])
