"""Real photos → prepared dataset (``photoface prepare``).

* :mod:`.pipeline` — per photo: load, detect, landmark, align, mask; the parallel, resumable run
  and its report of skipped photos;
* :mod:`.images` — robust photo loading (EXIF rotation, CMYK, 16-bit, alpha, grey, huge files);
* :mod:`.faces` — the detector choice (MediaPipe by default, dlib where it finds no face);
* :mod:`.mediapipe_detect` — MediaPipe FaceLandmarker: 478 points, iBUG-68 (:mod:`.ibug68`),
  pose, blendshapes; :mod:`.landmarker_file` finds and checks its model file,
  :mod:`.canonical_mesh` reads the canonical face mesh from it;
* :mod:`.detect` — dlib face detection (HOG, CNN confirmation/fallback) and the 68 landmarks;
* :mod:`.align` — the similarity transform from landmarks to the training crop;
* :mod:`.mask` — the face mask (landmark hull and skin colour);
* :mod:`.photo_list` — person folders and ``PATH IDENTITY [SPLIT]`` list files as tasks;
* :mod:`.quality` — the detector's landmark error on synthetic photos; :mod:`.sheet` — the docs
  contact sheet.
"""

from photoface.data.prepare.pipeline import PrepareOptions, prepare_photos, process_photo, run_prepare

__all__ = ["PrepareOptions", "prepare_photos", "process_photo", "run_prepare"]
