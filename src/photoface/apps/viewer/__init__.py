"""The offline 3D viewer that ``reconstruct``, ``fit``, ``transfer`` and the demo write as ``view.html``.

``page`` encodes faces into the page (``viewer.html`` + ``viewer.js``, package data), ``faces``
prepares what the apps hand it, ``browser`` drives headless Chromium for its test and screenshot.
"""

from photoface.apps.viewer.faces import codes_view, face_window, vertex_error
from photoface.apps.viewer.page import VIEW_FILE, ViewBuilder, ViewFace, ViewMesh, write_view

__all__ = ["VIEW_FILE", "ViewBuilder", "ViewFace", "ViewMesh", "codes_view", "face_window", "vertex_error", "write_view"]
