"""photoface.run: a trained run — its config, checkpoint files, folder layout, and inference.

Training (:mod:`photoface.train`), evaluation (:mod:`photoface.evaluate`) and the apps all stand
on this package; none of them needs another's internals to use a trained network::

    from photoface.run import load_trained, export_model, preset
    trained = load_trained("runs/demo")               # a run folder, checkpoint or exported model
    out = trained.predict(images)                       # FaceNetOutput: codes, shape, albedo, render
    export_model("runs/demo", "demo.pt", half=True)     # weights + network arguments, to share
"""

from photoface.run.config import TrainConfig, preset
from photoface.run.config_parse import apply_overrides, from_dict, load_yaml
from photoface.run.export import export_model
from photoface.run.inference import Trained, load_trained

__all__ = ["TrainConfig", "Trained", "apply_overrides", "export_model", "from_dict", "load_trained", "load_yaml",
           "preset"]
