"""Exporting a trained Keras keypoint model to ONNX, for fast start-up and fast CPU inference.

ONNX Runtime runs one 96x96 crop several times faster than Keras and starts in a fraction of a
second without TensorFlow. The conversion is ``tf2onnx``'s (``tf2onnx.convert.from_function``);
this module adds what a user needs around it: the file is written atomically (a failed export
never leaves half a model behind), and the ONNX model is run next to the Keras one on random
crops and refused when they differ by more than :data:`TOLERANCE`.

The exported graph takes ``"image"``: float32 ``(N, 96, 96, 1)`` grey in [0, 1], any N, and
returns float32 ``(N, 30)`` normalised coordinates, exactly like the Keras model.

:func:`quantize_int8` then makes an 8-bit twin of that file (``keypoints.int8.onnx``), which
takes and returns the same and runs a crop in about half the time. Its convolutions compute in
8-bit integers; the float ranges those integers stand for are read off real face crops
(:func:`calibration_crops`), and the twin is refused when its keypoints stray from the float
model's by more than :data:`INT8_TOLERANCE_PX` on average.

:func:`record_flip_offset` writes into either file the model's mirror bias, learned on training
faces, so that the photo path can average each face with its mirror image on request
(:meth:`~.predictor.OnnxPredictor.predict`).
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import tensorflow as tf
import tf2onnx

from . import evaluation
from .architectures import load_model
from .errors import InputError
from .keypoints import to_pixels
from .predictor import FLIP_OFFSET_KEY, OnnxPredictor

OPSET = 17  # ONNX opset: supported by every ONNX Runtime since 1.13
TOLERANCE = 1e-4  # largest allowed Keras-vs-ONNX difference, normalised units (= 0.005 px)
# Largest allowed mean distance, in pixels of the 96x96 crop, between the keypoints of the float
# model and of its 8-bit twin on the calibration crops. The shipped model's twin is at 0.11 px on
# the 754 validation faces (0.38 px for the face it moves most).
INT8_TOLERANCE_PX = 0.25
# Only the convolutions and what lies between them (ReLU, pooling, shortcuts) compute in 8 bits:
# nearly all the time, and with ReLU in 8 bits as well the values stay 8-bit from one convolution
# to the next. The soft-argmax's softmax and weighted sums stay float, where 8 bits cost
# precision (the shipped model's twin moved its keypoints by 1.15 px with every op in 8 bits).
QUANTIZED_OPS = ["Conv", "Relu", "MaxPool", "Add"]
CALIBRATION_FACES = 600  # crops whose value ranges fix the 8-bit scales


def export_onnx(model, onnx_path, check=True):
    """Write a Keras model (object, or path to a ``.keras`` file) to ``onnx_path``.

    With ``check`` (the default) the ONNX model is run next to the Keras one on random crops and a
    RuntimeError is raised if they differ by more than :data:`TOLERANCE` (the file is then not
    written). Returns the path.
    """
    model = _as_keras_model(model)
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    partial = onnx_path.with_name(f".{onnx_path.name}.partial")
    signature = (tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32,
                               name="image"),)
    try:
        # from_function, not from_keras: the latter trips over Keras 3's output names.
        keypoints = tf.function(lambda image: model(image, training=False),
                                input_signature=signature)
        tf2onnx.convert.from_function(keypoints, input_signature=signature, opset=OPSET,
                                      output_path=str(partial))
        if check:
            difference = max_difference(model, partial)
            if not difference <= TOLERANCE:
                raise RuntimeError(f"{onnx_path} would differ from the Keras model by "
                                   f"{difference:.2g} normalised units (allowed {TOLERANCE:g})")
        os.replace(partial, onnx_path)
    finally:
        partial.unlink(missing_ok=True)
    return onnx_path


def max_difference(model, onnx_path, crops=None):
    """Largest absolute difference, in normalised units, between Keras and ONNX outputs.

    ``crops``: float32 ``(N, 96, 96, 1)`` in [0, 1]; by default 8 random ones.
    """
    model = _as_keras_model(model)
    if crops is None:
        crops = np.random.default_rng(0).random((8,) + tuple(model.inputs[0].shape[1:]))
    crops = np.asarray(crops, dtype=np.float32)
    expected = np.asarray(model(crops, training=False))
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: crops})[0]
    return float(np.max(np.abs(actual - expected)))


def int8_path(onnx_path):
    """Where the 8-bit twin of the ONNX model at ``onnx_path`` goes: ``keypoints.onnx`` ->
    ``keypoints.int8.onnx``, beside it."""
    return Path(onnx_path).with_suffix(".int8.onnx")


def calibration_crops(onnx_path, images, count=CALIBRATION_FACES):
    """Face crops that show :func:`quantize_int8` the values a model meets in use: ``count`` of
    ``images`` (float32 ``(N, 96, 96, 1)`` face crops, e.g. a training file's), spread over
    the file, each cut again upright and framed from the float model's keypoints in it, as the
    photo and video paths cut faces (:func:`~.evaluation.aligned_crops`). No labels needed."""
    images = np.asarray(images, np.float32)
    chosen = images[np.linspace(0, len(images) - 1, min(count, len(images))).astype(int)]
    aligned, _ = evaluation.aligned_crops(OnnxPredictor(onnx_path).predict, chosen)
    return aligned


def quantize_int8(onnx_path, out_path, calibration, check=True):
    """Write an 8-bit twin of the float ONNX keypoint model at ``onnx_path`` to ``out_path``.

    ONNX Runtime's static quantization (``quantize_static``) of the convolutions
    (:data:`QUANTIZED_OPS`): weights as int8, one scale per output channel; activations as
    uint8, their ranges the minimum and maximum each reaches on the ``calibration`` crops
    (float32 ``(N, 96, 96, 1)``, see :func:`calibration_crops`); the QDQ format, which ONNX
    Runtime runs as integer convolutions. With ``check`` (the default) an InputError is raised,
    and nothing written, when the twin's keypoints on those crops are further than
    :data:`INT8_TOLERANCE_PX` from the float model's on average. Returns ``(out_path, mean
    distance in crop pixels)``.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibration = np.asarray(calibration, np.float32)
    out_path = Path(out_path)
    input_name = OnnxPredictor(onnx_path).input_name

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i:i + 32] for i in range(0, len(calibration), 32))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    partial = out_path.with_name(f".{out_path.name}.partial")
    try:
        with tempfile.TemporaryDirectory() as folder:
            prepared = Path(folder) / "prepared.onnx"  # shapes inferred, graph folded
            quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(partial), Batches(),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax,
                            op_types_to_quantize=QUANTIZED_OPS)
        distance = mean_distance_px(onnx_path, partial, calibration)
        if check and not distance <= INT8_TOLERANCE_PX:
            raise InputError(f"{onnx_path}: its 8-bit twin would move the keypoints by "
                             f"{distance:.2f} px on average (allowed {INT8_TOLERANCE_PX:g}); "
                             "use the float model")
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return out_path, distance


def record_flip_offset(onnx_path, images):
    """Learn the mirror bias of the ONNX model at ``onnx_path`` and write it into the file's
    metadata (:data:`~.predictor.FLIP_OFFSET_KEY`), replacing any it held (a damaged one too).

    ``images``: float32 ``(N, 96, 96, 1)`` face crops (a training file's); each is cut again
    upright and framed from the model's keypoints in it, as the photo path cuts faces
    (:func:`~.evaluation.aligned_crops`), and the bias is :func:`~.evaluation.flip_offset` over
    them. No labels needed. The file is replaced atomically. Returns the bias, normalised
    ``(15, 2)``.
    """
    import onnx

    onnx_path = Path(onnx_path)
    model = onnx.load(str(onnx_path))
    kept = [entry for entry in model.metadata_props if entry.key != FLIP_OFFSET_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    partial = onnx_path.with_name(f".{onnx_path.name}.partial")
    try:
        onnx.save(model, str(partial))  # the model without a bias, to learn it with
        predict = OnnxPredictor(partial).predict
        aligned, _ = evaluation.aligned_crops(predict, np.asarray(images, np.float32))
        offset = evaluation.flip_offset(predict, aligned)
        entry = model.metadata_props.add()
        entry.key = FLIP_OFFSET_KEY
        entry.value = json.dumps([round(float(v), 6) for v in offset.ravel()])
        onnx.save(model, str(partial))
        os.replace(partial, onnx_path)
    finally:
        partial.unlink(missing_ok=True)
    return offset


def mean_distance_px(onnx_path, other_path, crops):
    """Mean distance, in pixels of the 96x96 crop, between the keypoints two ONNX models find in
    ``crops`` (float32 ``(N, 96, 96, 1)``)."""
    first, second = (to_pixels(OnnxPredictor(path).predict(crops))
                     for path in (onnx_path, other_path))
    return float(np.linalg.norm(first - second, axis=-1).mean())


def _as_keras_model(model):
    if isinstance(model, (str, Path)):
        return load_model(model)
    return model
