"""Overlays on the user's photo: the render reaches past the crop and fades out at the mesh border."""

import numpy as np
import torch

from photoface.apps import figures
from photoface.apps.inputs import FaceInput
from support.flat_grid import grid


class _Mesh:
    """What an overlay needs of a face model: its triangles and mean shape (the border's feather)."""

    def __init__(self, faces, mean):
        self.faces, self.mean = faces, mean

S = 32  # crop px
MM = 80.0  # side of the flat square "face", 1 mm between vertices
PX_PER_MM = 0.8  # photo px per mm: f = 0.4 crop px / mm, 2 photo px per crop px


def _overlay():
    """Overlay of a flat square facing the camera, white-ish, on a black 200² photo; its top
    border is 16 photo px (20 mm) above the crop's top edge at photo y = 80."""
    verts, faces = grid(81, MM)
    model = _Mesh(torch.as_tensor(faces), torch.as_tensor(verts, dtype=torch.float32))
    face = FaceInput(path=None, name="x", crop=torch.zeros(3, S, S), photo=np.zeros((200, 200, 3), np.uint8),
                     photo_scale=1.0, crop_transform=np.array([[0.5, 0.0, -25.0], [0.0, 0.5, -40.0]]))
    v = torch.as_tensor(verts, dtype=torch.float32)[None]
    pose = torch.tensor([[0.0, 0.0, 0.0, 0.4, 16.0, 8.0]])
    over = figures.photo_overlay(face, model, S, v, torch.full_like(v, 0.6), pose, torch.zeros(1, 27))
    return over[..., 0].astype(float)


def test_overlay_is_the_render_well_inside_and_fades_into_the_photo_at_the_mesh_border():
    col = _overlay()[:, 82]  # photo x = 82: the square's vertical centre line; border at y = 64 and 128
    full = col[96]
    assert full > 60, "the render is visible"
    inside = col[64 + 12:128 - 12]  # more than FEATHER_MM (10 mm = 8 px) from the border
    assert np.abs(inside - full).max() <= 2, "well inside the border the overlay is the render itself"
    assert col[60] == 0 and col[132] == 0, "outside the mesh it is the photo"
    assert col[65] < 0.25 * full and col[127] < 0.25 * full, "1 mm inside the border: mostly the photo"
    assert 0.25 * full < col[68] < 0.75 * full, "5 mm inside: half and half"
    assert np.all(np.diff(col[64:77]) >= -1), "the fade rises monotonically"


def test_overlay_is_not_cut_at_the_crop_edge():
    img = _overlay()
    # the crop's top edge is photo y = 80; the mesh reaches 20 mm above it
    assert img[74:80, 60:104].min() > 0.9 * img[96, 82], "the forehead above the crop is drawn"
