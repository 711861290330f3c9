"""facial_keypoints: 15 facial keypoints from a Keras CNN, and sunglasses on every face.

The public API is a handful of plain functions; see README.md for a tour. Keypoints are
normalised (-1..1) for a model's 96x96 input and output, and (x, y) pixels of the photo wherever
a photo is involved; each docstring says which.

    import cv2, facial_keypoints as fk
    photo = cv2.imread("people.jpg")
    faces = fk.find_keypoints(photo)   # [{"box": (x, y, w, h), "score", "angle", "keypoints": (15, 2)}]
    cv2.imwrite("cool.jpg", fk.put_sunglasses(photo, faces))

Importing the package loads only the live path (numpy, OpenCV, ONNX Runtime): what
``pip install facial-keypoints`` installs. Data, models, training, evaluation, plots and the
notebook widgets need the ``train`` and ``notebooks`` extras; their names below are imported from
their modules the first time they are used.
"""

import importlib

# The live path: photos, faces, keypoints, sunglasses and video.
from .config import PRESETS, TrainConfig, with_overrides
from .crops import crop_faces
from .detectors import Face, HaarDetector, YuNetDetector, load_detector
from .errors import InputError
from .faces import detect_faces, find_keypoints
from .keypoints import COLUMNS, KEYPOINT_NAMES
from .metrics import argmax_accuracy, nme, per_keypoint_rmse_px, rmse_px
from .photos import read_image, write_image
from .predictor import load_predictor
from .sunglasses import load_glasses, put_sunglasses
from .video import SunglassesFilter, show_window, write_video

# Data, models, training, evaluation and plots (the `train` extra), and the notebook widgets (the
# `notebooks` extra): name -> module, imported on first use.
_ON_FIRST_USE = {
    **dict.fromkeys(["ORIGINAL_FINAL", "ORIGINAL_TABLE", "build_model", "get_model", "load_model",
                     "model_names"], "architectures"),
    **dict.fromkeys(["Augmentation", "augment_batch", "flip_horizontal"], "augment"),
    **dict.fromkeys(["DataError", "KeypointData", "load_data", "load_dataset", "load_groups",
                     "split"], "data"),
    **dict.fromkeys(["evaluate", "predict_crops"], "evaluation"),
    **dict.fromkeys(["plot_data", "plot_grid", "plot_history", "plot_per_keypoint"], "plotting"),
    "train": "training",
    "show_in_notebook": "notebook",
}

__all__ = sorted([name for name, value in globals().items()
                  if not name.startswith("_") and not isinstance(value, type(importlib))]
                 + list(_ON_FIRST_USE))


def __getattr__(name):
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{_ON_FIRST_USE[name]}", __name__)
    except ModuleNotFoundError as error:
        extra = "notebooks" if _ON_FIRST_USE[name] == "notebook" else "train"
        raise ModuleNotFoundError(
            f"facial_keypoints.{name} needs {error.name}, which comes with the {extra!r} extra: "
            f"pip install 'facial-keypoints[{extra}]'", name=error.name) from error
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__():
    return __all__
