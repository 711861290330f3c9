"""Loading a trained keypoint model once and running it on face crops.

This is the one place where models are loaded for inference. Everything that needs keypoints
(the command line, the sunglasses filter, the live stream, the notebooks) goes through
:func:`load_predictor`.

Two backends share one interface: :class:`KerasPredictor` runs a ``.keras`` file with Keras, and
:class:`OnnxPredictor` runs a ``.onnx`` file (made by ``python -m facial_keypoints export``) with
ONNX Runtime, which is several times faster per crop and never imports TensorFlow; the 8-bit
twin (``export --int8``) runs the same way in about half the time again.

An ONNX model exported with its training data also knows its mirror bias (:attr:`flip_offset`,
learned by :func:`~.export.record_flip_offset`): ``predict(crops, flip_average=True)`` then
averages each face with its mirror image, in the same call: the mirror look, which photos get
on request (``find_keypoints(..., flip_average=True)``; it helped the model shipped before and
does not help the shipped one, ``models/README.md``); the video path always looks once.
"""

import json
from pathlib import Path

import numpy as np

from .errors import InputError
from .keypoints import IMAGE_SIZE, NUM_KEYPOINTS, as_points, mirror_average
from .paths import project_folder
from .runtime import onnx_session

MODELS_DIR = project_folder("models")
DEFAULT_MODEL = MODELS_DIR / "keypoints.keras"
DEFAULT_ONNX = MODELS_DIR / "keypoints.onnx"  # preferred to Keras: faster, no TensorFlow
DEFAULT_INT8 = MODELS_DIR / "keypoints.int8.onnx"  # preferred to both: half the time a crop
# Where an ONNX model keeps its mirror bias: a metadata entry holding a JSON list of 30 numbers,
# normalised (x, y) per keypoint in Kaggle order.
FLIP_OFFSET_KEY = "flip_offset"


class KerasPredictor:
    """Runs a Keras model; ``predict`` takes crops and returns normalised ``(N, 15, 2)`` points.

    A ``.keras`` file holds no mirror bias (``flip_offset`` is None), so it always looks once."""

    flip_offset = None

    def __init__(self, path):
        # Keras only when a .keras model is asked for: the filter's own install has no TensorFlow.
        from .architectures import load_model

        self.path = Path(path)
        self.model = load_model(self.path)
        _check_shapes(self.path, self.model.inputs[0].shape, self.model.outputs[0].shape)

    def predict(self, crops, flip_average=False):
        """``crops``: float32 ``(N, 96, 96, 1)`` grey in [0, 1] -> ``(N, 15, 2)`` normalised x, y.
        ``flip_average`` has no effect: there is no mirror bias to remove."""
        crops = _check_crops(crops)
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32)
        return as_points(np.asarray(self.model(crops, training=False), dtype=np.float32))


class OnnxPredictor:
    """Runs an exported ``.onnx`` model with ONNX Runtime; same ``predict`` as KerasPredictor.

    ``threads``: CPU threads for one call (:func:`~.runtime.onnx_session`; one 96x96 crop gains
    nothing from more than 4). ``flip_offset``: the model's mirror bias, normalised ``(15, 2)``
    (see :func:`~.keypoints.mirror_average`), or None where the file holds none.
    """

    def __init__(self, path, threads=None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        self.input_name = self.session.get_inputs()[0].name
        _check_shapes(self.path, self.session.get_inputs()[0].shape,
                      self.session.get_outputs()[0].shape)
        self.flip_offset = _read_flip_offset(
            self.path, self.session.get_modelmeta().custom_metadata_map.get(FLIP_OFFSET_KEY))

    def predict(self, crops, flip_average=False):
        """``crops``: float32 ``(N, 96, 96, 1)`` grey in [0, 1] -> ``(N, 15, 2)`` normalised.

        ``flip_average``: predict the mirrored crops too, in the same call, and average the two
        less the model's mirror bias (:func:`~.keypoints.mirror_average`); a model that holds
        none (``flip_offset`` None) looks once."""
        crops = _check_crops(crops)
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32)
        if not flip_average or self.flip_offset is None:
            return as_points(self.session.run(None, {self.input_name: crops})[0])
        both = np.concatenate([crops, crops[:, :, ::-1]])
        points = as_points(self.session.run(None, {self.input_name: both})[0])
        return mirror_average(points[:len(crops)], points[len(crops):], self.flip_offset)


def _read_flip_offset(path, text):
    """The mirror bias an ONNX model's metadata holds (normalised ``(15, 2)``), or None; InputError
    naming ``path`` for an entry that is not 30 finite numbers."""
    if text is None:
        return None
    try:
        offset = np.asarray(json.loads(text), np.float32)
    except (ValueError, TypeError):
        offset = None
    if offset is None or offset.shape != (2 * NUM_KEYPOINTS,) or not np.isfinite(offset).all():
        raise InputError(f"{path}: its metadata {FLIP_OFFSET_KEY!r} must be a JSON list of "
                         f"{2 * NUM_KEYPOINTS} numbers, got {text[:60]!r}")
    return offset.reshape(NUM_KEYPOINTS, 2)


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
    crops = np.ascontiguousarray(crops, dtype=np.float32)  # a mirrored view runs too
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
