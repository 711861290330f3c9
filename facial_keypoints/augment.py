"""Keypoint-aware augmentation: the pixels move, and the keypoints move with them.

Every geometric change is one 2x3 affine matrix in crop pixels, applied to the image with
``cv2.warpAffine`` (edges replicated, like the training crops) and to the keypoints with the same
matrix. A horizontal flip also swaps every left/right keypoint pair (the subject's left eye,
mirrored, becomes a right eye). Missing keypoints (NaN) stay missing.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from .crops import MEAN_KEYPOINTS, similarity
from .keypoints import FLIP_PERMUTATION, IMAGE_SIZE, as_flat, as_points, to_normalised, to_pixels


@dataclass
class Augmentation:
    """Ranges of the random changes; each image draws its own values uniformly within them."""

    flip: float = 0.5  # probability of a horizontal flip
    rotation: float = 15.0  # degrees, +-
    scale: float = 0.1  # relative, +-
    shift: float = 0.06  # fraction of the crop side, +-
    brightness: float = 0.15  # added to [0, 1] pixels, +-
    contrast: float = 0.25  # relative, +-
    occlusion: float = 0.0  # probability of a grey rectangle over part of the face (a hand, a
    # cup, hair): sides 15-40% of the crop, anywhere; the keypoints under it stay labelled
    blur: float = 0.0  # probability of a Gaussian blur, sigma 0.4-1.5 crop pixels (motion, focus)


def flip_horizontal(images, keypoints):
    """Mirror images ``(N, 96, 96, 1)`` and normalised keypoints ``(N, 30)`` left-right.

    Keypoint pairs are swapped, so the result is a correctly labelled face. Applying it twice
    returns the input exactly.
    """
    points = to_pixels(as_points(keypoints))[:, FLIP_PERMUTATION]
    points[..., 0] = (IMAGE_SIZE - 1) - points[..., 0]
    return images[:, :, ::-1].copy(), as_flat(to_normalised(points))


def affine_matrix(rotation_deg=0.0, scale=1.0, shift_xy=(0.0, 0.0), flip=False):
    """2x3 matrix (crop pixels -> crop pixels): flip, then rotate/scale about the centre, then shift."""
    centre = (IMAGE_SIZE - 1) / 2.0
    angle = np.deg2rad(rotation_deg)
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    # A positive angle turns the face counter-clockwise on screen (y points down).
    linear = np.array([[cos, sin], [-sin, cos]])
    if flip:
        linear = linear @ np.array([[-1.0, 0.0], [0.0, 1.0]])
    offset = np.array([centre, centre]) - linear @ np.array([centre, centre]) + np.asarray(shift_xy)
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def warp(image, points, matrix, flip=False):
    """Apply ``matrix`` to one ``(96, 96)`` or ``(96, 96, 1)`` image and its ``(15, 2)`` crop-pixel
    points. ``flip`` must say whether the matrix mirrors, so the left/right labels get swapped."""
    warped = cv2.warpAffine(image.reshape(IMAGE_SIZE, IMAGE_SIZE), matrix, (IMAGE_SIZE, IMAGE_SIZE),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    if flip:
        moved = moved[FLIP_PERMUTATION]
    return warped.reshape(image.shape), moved


def alignments(keypoints):
    """Per face, the 2x3 matrix (crop pixels -> crop pixels) that turns it upright and frames it
    like the average face: the similarity that moves its own present keypoints onto
    :data:`~.crops.MEAN_KEYPOINTS`, as the photo path's refinement pass does with predicted ones.
    ``keypoints``: normalised ``(N, 30)``, NaN where missing; a face with fewer than two present
    keypoints keeps the identity. Returns ``(N, 2, 3)``."""
    points = to_pixels(as_points(keypoints))
    matrices = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (len(points), 1, 1))
    for i, p in enumerate(points):
        if np.isfinite(p).all(axis=1).sum() >= 2:
            matrices[i] = similarity(p, MEAN_KEYPOINTS)
    return matrices


def align_batch(images, keypoints, matrices):
    """Apply per-face matrices (from :func:`alignments`) to images and normalised keypoints."""
    out_images = np.empty_like(images)
    out_points = np.empty((len(images), 15, 2), np.float32)
    points = to_pixels(as_points(keypoints))
    for i in range(len(images)):
        out_images[i], out_points[i] = warp(images[i], points[i], matrices[i])
    return out_images, as_flat(to_normalised(out_points))


def augment_batch(images, keypoints, rng, settings=Augmentation(), aligned=None):
    """Randomly transform a batch: images ``(N, 96, 96, 1)`` in [0, 1] and normalised keypoints
    ``(N, 30)`` (NaN allowed). Returns new arrays; the inputs are not changed.

    ``aligned``: per-face matrices from :func:`alignments`, applied before the random change, so
    that the random rotation, scale and shift play the part of what alignment at inference leaves
    (:mod:`~.crops`)."""
    out_images = np.empty_like(images)
    out_points = np.empty((len(images), 15, 2), np.float32)
    points = to_pixels(as_points(keypoints))
    for i in range(len(images)):
        flip = rng.random() < settings.flip
        matrix = affine_matrix(
            rotation_deg=rng.uniform(-settings.rotation, settings.rotation),
            scale=1.0 + rng.uniform(-settings.scale, settings.scale),
            shift_xy=rng.uniform(-settings.shift, settings.shift, size=2) * IMAGE_SIZE,
            flip=flip,
        )
        if aligned is not None:
            matrix = np.vstack([matrix, [0, 0, 1]]) @ np.vstack([aligned[i], [0, 0, 1]])
            matrix = matrix[:2]
        image, out_points[i] = warp(images[i], points[i], matrix, flip)
        contrast = 1.0 + rng.uniform(-settings.contrast, settings.contrast)
        brightness = rng.uniform(-settings.brightness, settings.brightness)
        mean = image.mean()
        image = (image - mean) * contrast + mean + brightness
        if rng.random() < settings.blur:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.5)).reshape(image.shape)
        if rng.random() < settings.occlusion:
            occlude(image, rng)
        out_images[i] = np.clip(image, 0.0, 1.0)
    return out_images, as_flat(to_normalised(out_points))


def occlude(image, rng):
    """Cover a random rectangle of ``image`` (``(96, 96)`` or ``(96, 96, 1)``, changed in place)
    with one random grey level: sides 15-40% of the crop, anywhere inside it."""
    height, width = (round(IMAGE_SIZE * rng.uniform(0.15, 0.40)) for _ in range(2))
    top, left = rng.integers(0, IMAGE_SIZE - height + 1), rng.integers(0, IMAGE_SIZE - width + 1)
    image[top:top + height, left:left + width] = rng.uniform(0.0, 1.0)
