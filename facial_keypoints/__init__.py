"""facial_keypoints: 15 facial keypoints from a Keras CNN, and sunglasses on every face.

The public API is a handful of plain functions; see README.md for a tour. Coordinates are
normalised (-1..1) for model inputs and outputs, and in pixels (x, y) of the photo everywhere a
photo is involved: each docstring says which.
"""

from .architectures import ORIGINAL_FINAL, ORIGINAL_TABLE, build_model, get_model, model_names
from .augment import augment_batch, flip_horizontal
from .data import DataError, KeypointData, load_data, load_dataset, load_groups, split
from .evaluation import evaluate, predict_keypoints
from .keypoints import COLUMNS, KEYPOINT_NAMES
from .metrics import argmax_accuracy, nme, per_keypoint_rmse_px, rmse_px
from .plotting import plot_data, plot_grid, plot_history, plot_per_keypoint
from .predictor import load_predictor
from .training import PRESETS, TrainConfig, train
