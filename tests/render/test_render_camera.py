import math

import torch

from photoface.render.camera import (
    ANGLE_LIMIT_DEG,
    code_from_pose,
    euler_from_rotation,
    pose_from_code,
    project,
    rotation_matrix,
)

SIZE = 200


def pose(pitch=0.0, yaw=0.0, roll=0.0, f=1.0, tx=100.0, ty=100.0):
    return torch.tensor([[pitch, yaw, roll, f, tx, ty]], dtype=torch.float64)


def screen_of(point, p):
    return project(torch.tensor([[point]], dtype=torch.float64), p)[0, 0]


def test_rotation_is_rz_ry_rx_of_right_handed_axis_rotations():
    a = torch.tensor([[0.3, -0.7, 1.1]], dtype=torch.float64)
    c, s = torch.cos(a[0]), torch.sin(a[0])
    rx = torch.tensor([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]], dtype=torch.float64)
    ry = torch.tensor([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]], dtype=torch.float64)
    rz = torch.tensor([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]], dtype=torch.float64)
    r = rotation_matrix(a)[0]
    assert torch.allclose(r, rz @ ry @ rx)
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=torch.float64))
    assert torch.isclose(torch.linalg.det(r), torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(euler_from_rotation(rotation_matrix(a)), a)


def test_frontal_pose_maps_x_right_y_down_and_origin_to_t():
    assert torch.allclose(screen_of([0.0, 0.0, 0.0], pose()), torch.tensor([100.0, 100.0, 0.0], dtype=torch.float64))
    left = screen_of([10.0, 0.0, 0.0], pose(f=2.0))  # subject's left appears on the image right
    up = screen_of([0.0, 10.0, 0.0], pose(f=2.0))  # model y up -> image y decreases
    front = screen_of([0.0, 0.0, 10.0], pose(f=2.0))
    assert torch.allclose(left, torch.tensor([120.0, 100.0, 0.0], dtype=torch.float64))
    assert torch.allclose(up, torch.tensor([100.0, 80.0, 0.0], dtype=torch.float64))
    assert torch.allclose(front, torch.tensor([100.0, 100.0, 20.0], dtype=torch.float64))  # nearer = larger z


def test_positive_yaw_turns_face_to_subjects_left_showing_right_cheek():
    nose = screen_of([0.0, 0.0, 50.0], pose(yaw=30.0))
    assert nose[0] > 100.0 + 20.0 and abs(nose[1] - 100.0) < 1e-9
    right_cheek = screen_of([-60.0, 0.0, 0.0], pose(yaw=30.0))
    left_cheek = screen_of([60.0, 0.0, 0.0], pose(yaw=30.0))
    assert right_cheek[2] > 0 > left_cheek[2]  # the subject's right cheek comes towards the camera


def test_positive_pitch_tilts_face_down_and_positive_roll_is_counter_clockwise_in_image():
    nose = screen_of([0.0, 0.0, 50.0], pose(pitch=30.0))
    assert nose[1] > 100.0 + 20.0 and abs(nose[0] - 100.0) < 1e-9
    forehead = screen_of([0.0, 60.0, 0.0], pose(pitch=30.0))
    assert forehead[2] > 0  # the forehead comes towards the camera
    top = screen_of([0.0, 60.0, 0.0], pose(roll=30.0))
    assert top[0] < 100.0 - 20.0 and top[1] < 100.0  # top of the head moves to the image left


def test_pose_code_zero_is_frontal_centred_with_200mm_field():
    p = pose_from_code(torch.zeros(2, 6), SIZE)
    expected = torch.tensor([0.0, 0.0, 0.0, SIZE / 200.0, SIZE / 2.0, SIZE / 2.0])
    assert torch.allclose(p, expected.expand(2, 6))
    # A 200 mm wide object spans the whole image at code 0.
    ends = project(torch.tensor([[[-100.0, 0, 0], [100.0, 0, 0]]]), p[:1])[0, :, 0]
    assert torch.allclose(ends, torch.tensor([0.0, float(SIZE)]))


def test_pose_code_ranges_and_inverse():
    code = torch.tensor([[0.3, -1.2, 0.05, 0.7, -0.4, 0.9], [50.0, -50.0, 0.0, -3.0, 2.0, 0.0]], dtype=torch.float64)
    p = pose_from_code(code, SIZE)
    assert (p[:, :3].abs() <= ANGLE_LIMIT_DEG).all()
    assert torch.allclose(p[1, :2], torch.tensor([ANGLE_LIMIT_DEG, -ANGLE_LIMIT_DEG], dtype=torch.float64))
    assert (p[:, 3] > 0).all()
    assert torch.isclose(p[0, 3], torch.tensor(SIZE / 200.0 * math.exp(0.2 * 0.7), dtype=torch.float64))
    assert torch.isclose(p[0, 4], torch.tensor(SIZE / 2 - 0.4 * 0.1 * SIZE, dtype=torch.float64))
    assert torch.allclose(code_from_pose(p[:1], SIZE), code[:1])
    assert torch.isfinite(code_from_pose(p, SIZE)).all()  # saturated angles stay finite
