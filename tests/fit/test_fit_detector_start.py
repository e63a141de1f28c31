"""MediaPipe's pose and blendshapes as a start of the landmark fit."""

from types import SimpleNamespace

import numpy as np
import torch

from photoface.fit.detector_start import arkit_name, blendshape_map, detector_start
from photoface.fit.landmark_fit import fit_landmarks
from photoface.render.camera import project


def test_ict_style_names_read_as_arkit_names():
    assert arkit_name("browDown_L") == "browDownLeft" and arkit_name("eyeBlink_R") == "eyeBlinkRight"
    assert arkit_name("jawOpen") == "jawOpen"


def test_only_blendshape_models_map_blendshapes():
    blend = SimpleNamespace(exp_kind="blendshape", exp_names=["jawOpen", "mouthSmile_L"])
    assert blendshape_map(blend) == {"jawOpen": 0, "mouthSmileLeft": 1}
    assert blendshape_map(SimpleNamespace(exp_kind="pca", exp_names=["exp00"])) == {}


def test_rows_give_angles_and_clipped_weights_and_rows_without_a_pose_start_frontal():
    model = SimpleNamespace(exp_kind="blendshape", exp_names=["jawOpen", "mouthSmile_L", "cheekPuff_L", "cheekPuff_R"],
                            n_exp=4)
    rows = [SimpleNamespace(detector_pose=np.array([5.0, -30.0, 2.0, 1.0, 60.0, 60.0]),
                            blendshapes={"jawOpen": 0.7, "mouthSmileLeft": 1.2, "_neutral": 0.1, "cheekPuff": 0.3}),
            SimpleNamespace(detector_pose=None, blendshapes=None)]
    angles, exp = detector_start(model, rows)
    np.testing.assert_allclose(angles, [[5.0, -30.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(exp, [[0.7, 1.0, 0.3, 0.3], [0.0, 0.0, 0.0, 0.0]])
    assert detector_start(model, rows[1:]) is None


def test_the_detector_start_wins_where_it_is_right():
    from photoface.facemodel.spec import load_face_model

    model = load_face_model("builtin:demo")
    names = {n: i for i, n in enumerate(model.exp_names)}
    exp = torch.zeros(1, model.n_exp)
    exp[0, names["jawOpen"]] = 0.6
    pose = torch.tensor([[10.0, 55.0, 0.0, 0.8, 64.0, 64.0]], dtype=torch.float64)
    lm = project(model.shape(None, exp).double()[:, model.landmarks68], pose)[..., :2].numpy()
    start = (pose[:, :3].numpy(), exp.double().numpy())
    res = fit_landmarks(model, lm, iterations=0, yaw_starts=(0.0,), detector_start=start)
    np.testing.assert_allclose(res.pose[0, :2], [10.0, 55.0])
    np.testing.assert_allclose(res.alpha_exp[0, names["jawOpen"]], 0.6, atol=1e-6)
    plain = fit_landmarks(model, lm, iterations=0, yaw_starts=(0.0,))
    assert plain.pose[0, 1] == 0.0 and plain.rms_px[0] > res.rms_px[0]
