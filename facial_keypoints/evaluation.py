"""Measuring a trained model on a data set: the figures of :mod:`facial_keypoints.metrics` for the
model, and for the "average face" (predicting the mean training shape for every face) beside it.
"""

import numpy as np

from . import crops, metrics
from . import data as datasets
from .keypoints import (as_flat, as_points, mirror_average, mirrored_back, to_normalised,
                        to_pixels)


def predict_crops(predict, images, flip_average=False, offset=None, batch_size=256):
    """Normalised ``(N, 30)`` keypoints for images ``(N, 96, 96, 1)``.

    ``predict`` maps a batch of images to ``(n, 30)`` or ``(n, 15, 2)`` normalised keypoints (a
    Keras model, or a predictor's ``predict``). With ``flip_average`` the mirrored images are
    predicted too, their keypoints mirrored back (left/right swapped), less the model's
    ``offset`` (normalised ``(15, 2)``, :func:`flip_offset`; none if None), and averaged with
    the plain ones (:func:`~.keypoints.mirror_average`).
    """
    def run(batch):
        return np.asarray(predict(batch), np.float32).reshape(len(batch), 15, 2)

    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        points = run(batch)
        if flip_average:
            points = mirror_average(points, run(batch[:, :, ::-1]), offset)
        outputs.append(as_flat(points))
    return np.concatenate(outputs) if outputs else np.zeros((0, 30), np.float32)


def flip_offset(predict, images, batch_size=256):
    """What ``predict``'s keypoints of mirrored faces, mirrored back, lie from its keypoints of
    the faces as they are, on average over ``images`` (float32 ``(N, 96, 96, 1)`` face crops,
    framed as the model will see them): normalised ``(15, 2)``, the ``offset`` of
    :func:`~.keypoints.mirror_average`. No labels needed: it is the model's own left/right
    bias, learned by a model that was never shown mirrored faces (about -2 px in x for the
    shipped one)."""
    if len(images) == 0:
        raise ValueError("no face crops to learn the mirror bias from")
    plain = as_points(predict_crops(predict, images, batch_size=batch_size))
    mirrored = as_points(predict_crops(predict, images[:, :, ::-1], batch_size=batch_size))
    return (mirrored_back(mirrored) - plain).mean(axis=0)


def predict_refined(predict, images, last_look=None, batch_size=256):
    """Normalised ``(N, 30)`` keypoints of crops, predicted as the photo path does: a first pass
    on the crop as it is, then a second on the crop turned upright and framed from the first
    keypoints (:func:`~.crops.from_keypoints`), mapped back to the crop's own pixels. The way to
    measure a model trained on aligned crops (``TrainConfig.align``). ``last_look``: what
    predicts the second pass, like ``predict`` (default: ``predict``; e.g. one that also sees
    the crops mirrored, as the photo path's last look does on request)."""
    aligned, transforms = aligned_crops(predict, images, batch_size)
    second = as_points(to_pixels(predict_crops(last_look or predict, aligned,
                                               batch_size=batch_size)))
    back = np.stack([crops.to_photo(p, t) for p, t in zip(second, transforms)])
    return as_flat(to_normalised(back))


def aligned_crops(predict, images, batch_size=256):
    """The crops ``images`` cut again, upright and framed from ``predict``'s keypoints in them
    (:func:`~.crops.from_keypoints`), as the photo path's second pass sees faces: float32
    ``(N, 96, 96, 1)``, and the transforms from each crop's pixels to its new crop's pixels."""
    first = as_points(to_pixels(predict_crops(predict, images, batch_size=batch_size)))
    transforms = [crops.from_keypoints(p) for p in first]
    aligned = np.stack([crops.warp(image[..., 0], t, (96, 96)) for image, t in
                        zip(images, transforms)])[..., None].astype(np.float32)
    return aligned, transforms


def mean_shape(data):
    """The average face: mean normalised keypoints ``(30,)`` over present values."""
    return np.nanmean(data.keypoints, axis=0)


def evaluate(predict, data, split="val", val_fraction=0.2, seed=42, flip_average=False,
             refine=False):
    """Figures for ``predict`` on ``data`` (a KeypointData or a path).

    ``split`` is ``"val"`` (the validation side of the split that training used: same seed, same
    grouping, so the figures are honest), ``"train"`` or ``"all"``. The result has the keys of
    :func:`metrics.report` plus ``mean_shape_rmse_px`` (the average face's RMSE on the same rows)
    and ``split``, and, where the faces come from several sources (:func:`~.data.load_sources`),
    ``by_source``: ``{source: {"n", "rmse_px", "nme"}}``. ``refine``: predict in two passes as
    the photo path does (:func:`predict_refined`). ``flip_average``: average the last pass
    with the mirrored faces' keypoints, less the model's mirror bias (:func:`flip_offset`),
    learned on the training side of the split from crops framed as the measured ones are. With
    ``refine`` that is how ``export`` learns the bias an ONNX twin holds, on the training file,
    and what the photo path does with ``flip_average=True``.
    """
    if not isinstance(data, datasets.KeypointData):
        data = datasets.load_dataset(data)
    train, val = datasets.split(data, val_fraction, seed, groups=datasets.load_groups(data))
    rows = {"val": val, "train": train, "all": data}[split]
    if len(rows) == 0 or not rows.mask.any():
        raise datasets.DataError(f"{data.path}: the {split} split has no faces with keypoints to "
                                 f"measure ({len(data)} row(s) in all)")
    offset = None
    if flip_average:  # the model's mirror bias, learned on the training side, as export does
        offset = flip_offset(predict, aligned_crops(predict, train.images)[0] if refine
                             else train.images)

    def look(images):  # the last look: once, or also mirrored
        return predict_crops(predict, images, flip_average, offset)

    predicted = predict_refined(predict, rows.images, look) if refine else look(rows.images)
    result = metrics.report(rows.keypoints, predicted)
    average_face = np.broadcast_to(mean_shape(train), rows.keypoints.shape)
    result["mean_shape_rmse_px"] = metrics.rmse_px(rows.keypoints, average_face)
    result["split"] = split
    sources = datasets.load_sources(rows)
    if sources is not None and len(set(sources)) > 1:
        result["by_source"] = {}
        for name in sorted(set(sources)):
            truth, guess = rows.keypoints[sources == name], predicted[sources == name]
            result["by_source"][name] = {"n": len(truth), "rmse_px": metrics.rmse_px(truth, guess),
                                         "nme": metrics.nme(truth, guess)}
    return result
