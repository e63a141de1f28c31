"""photoface.render: weak-perspective camera, SH lighting and a pure-PyTorch rasteriser.

Conventions are defined once each: camera and image space in ``camera``, lighting in ``sh``,
rasterisation and triangle orientation in ``rasterize``. ``framing`` frames a mesh in a view and
renders it to 8-bit pictures (previews, panels, error maps).
"""

from photoface.render.camera import code_from_pose, pose_from_code, project, rotation_matrix
from photoface.render.rasterize import Fragments, interpolate, rasterize
from photoface.render.renderer import Renderer, RenderOutput
from photoface.render.sh import LIGHT_PRESETS, default_light, light_preset, sh_basis, sh_shading

__all__ = [
    "Fragments",
    "LIGHT_PRESETS",
    "RenderOutput",
    "Renderer",
    "code_from_pose",
    "default_light",
    "interpolate",
    "light_preset",
    "pose_from_code",
    "project",
    "rasterize",
    "rotation_matrix",
    "sh_basis",
    "sh_shading",
]
