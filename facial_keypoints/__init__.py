"""facial_keypoints: 15 facial keypoints from a Keras CNN, and sunglasses on every face.

The public API is a handful of plain functions; see README.md for a tour. Keypoints are
normalised (-1..1) for a model's 96x96 input and output, and (x, y) pixels of the photo wherever
a photo is involved; each docstring says which.

    import cv2, facial_keypoints as fk
    photo = cv2.imread("people.jpg")
    faces = fk.find_keypoints(photo)   # [{"box": (x, y, w, h), "score", "angle", "keypoints": (15, 2)}]
    cv2.imwrite("cool.jpg", fk.put_sunglasses(photo, faces))
"""

# Data, models, training and evaluation (TensorFlow is imported only when a model is built).
from .architectures import (ORIGINAL_FINAL, ORIGINAL_TABLE, build_model, get_model, load_model,
                            model_names)
from .augment import Augmentation, augment_batch, flip_horizontal
from .data import DataError, KeypointData, load_data, load_dataset, load_groups, split
from .evaluation import evaluate, predict_crops
from .keypoints import COLUMNS, KEYPOINT_NAMES
from .metrics import argmax_accuracy, nme, per_keypoint_rmse_px, rmse_px
from .plotting import plot_data, plot_grid, plot_history, plot_per_keypoint
from .predictor import load_predictor
from .config import PRESETS, TrainConfig, with_overrides
from .training import train

# Photos, sunglasses and video.
from .crops import crop_faces
from .detectors import Face, HaarDetector, YuNetDetector, load_detector
from .faces import detect_faces, find_keypoints
from .notebook import show_in_notebook
from .video import SunglassesFilter, show_window, write_video
from .sunglasses import load_glasses, put_sunglasses
