"""Loading a trained keypoint model once and running it on face crops.

This is the one place where models are loaded for inference. Everything that needs keypoints
(the command line, the sunglasses filter, the live stream, the notebooks) goes through
:func:`load_predictor`.

Two backends share one interface: :class:`KerasPredictor` runs a ``.keras`` file with Keras, and
:class:`OnnxPredictor` runs a ``.onnx`` file (made by ``python -m facial_keypoints export``) with
ONNX Runtime, which is several times faster per crop and never imports TensorFlow; the 8-bit
twin (``export --int8``) runs the same way in about half the time again.
"""

from pathlib import Path

import numpy as np

from .errors import InputError
from .keypoints import IMAGE_SIZE, as_points
from .paths import project_folder
from .runtime import onnx_session

MODELS_DIR = project_folder("models")
DEFAULT_MODEL = MODELS_DIR / "keypoints.keras"
DEFAULT_ONNX = MODELS_DIR / "keypoints.onnx"  # preferred to Keras: faster, no TensorFlow
DEFAULT_INT8 = MODELS_DIR / "keypoints.int8.onnx"  # preferred to both: half the time a crop


class KerasPredictor:
    """Runs a Keras model; ``predict`` takes crops and returns normalised ``(N, 15, 2)`` points."""

    def __init__(self, path):
        # Keras only when a .keras model is asked for: the filter's own install has no TensorFlow.
        from .architectures import load_model

        self.path = Path(path)
        self.model = load_model(self.path)
        _check_shapes(self.path, self.model.inputs[0].shape, self.model.outputs[0].shape)

    def predict(self, crops):
        """``crops``: float32 ``(N, 96, 96, 1)`` grey in [0, 1] -> ``(N, 15, 2)`` normalised x, y."""
        crops = _check_crops(crops)
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32)
        return as_points(np.asarray(self.model(crops, training=False), dtype=np.float32))


class OnnxPredictor:
    """Runs an exported ``.onnx`` model with ONNX Runtime; same ``predict`` as KerasPredictor.

    ``threads``: CPU threads for one call (:func:`~.runtime.onnx_session`; one 96x96 crop gains
    nothing from more than 4).
    """

    def __init__(self, path, threads=None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        self.input_name = self.session.get_inputs()[0].name
        _check_shapes(self.path, self.session.get_inputs()[0].shape,
                      self.session.get_outputs()[0].shape)

    def predict(self, crops):
        """``crops``: float32 ``(N, 96, 96, 1)`` grey in [0, 1] -> ``(N, 15, 2)`` normalised."""
        crops = _check_crops(crops)
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32)
        return as_points(self.session.run(None, {self.input_name: crops})[0])


def _check_shapes(path, input_shape, output_shape):
    """InputError naming ``path`` unless the model takes ``(N, 96, 96, 1)`` crops and returns 30
    numbers (15 keypoints) per crop; sizes of None or a name (any batch size) pass."""
    def fits(shape, expected):
        return len(shape) == len(expected) and all(
            want is None or not isinstance(got, int) or got == want
            for got, want in zip(shape, expected))

    if not fits(tuple(input_shape), (None, IMAGE_SIZE, IMAGE_SIZE, 1)):
        raise InputError(f"{path}: takes input shaped {tuple(input_shape)}, but a keypoint model "
                         f"takes (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 1) grey face crops")
    if not fits(tuple(output_shape), (None, 30)):
        raise InputError(f"{path}: returns {tuple(output_shape)}, but a keypoint model returns "
                         "(N, 30): 15 keypoints, x and y")


def _check_crops(crops):
    crops = np.asarray(crops, dtype=np.float32)
    if crops.ndim == 3:
        crops = crops[..., None]
    if crops.ndim != 4 or crops.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise InputError(f"face crops must be shaped (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 1), "
                         f"got {crops.shape}")
    return crops


def load_predictor(path=None):
    """Load a keypoint model for inference (once; keep the returned object).

    A ``.onnx`` path runs with ONNX Runtime, anything else with Keras. ``path`` defaults to the
    first of ``models/keypoints.int8.onnx`` (the shipped model's 8-bit twin, see
    :func:`~.export.quantize_int8`), ``models/keypoints.onnx`` and ``models/keypoints.keras``
    that exists. Raises FileNotFoundError naming the path.
    """
    if path is None:
        path = next((p for p in (DEFAULT_INT8, DEFAULT_ONNX) if p.exists()), DEFAULT_MODEL)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path} (train one with "
                                "'python -m facial_keypoints train' or pass --model)")
    if path.suffix.lower() == ".onnx":
        return OnnxPredictor(path)
    return KerasPredictor(path)
