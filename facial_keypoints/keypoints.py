"""Keypoint names and the coordinate conventions used everywhere in the package.

Three coordinate systems appear in this project; every function says which one it takes:

* **crop pixels**: x, y in pixels of the 96x96 face crop, 0-based, pixel centres at integers.
  This is how Kaggle's CSV stores keypoints.
* **normalised**: ``(pixels - 48) / 48``, so the crop spans [-1, 1]. This is what the models
  predict. An error of ``r`` normalised units is ``48 * r`` pixels.
* **photo pixels**: x, y in pixels of the whole photo or video frame.

Keypoints are stored as ``(N, 30)`` arrays ``[x0, y0, x1, y1, ...]`` in Kaggle's column order, or
as ``(N, 15, 2)`` arrays of ``(x, y)`` pairs. "left" is the subject's left, which appears on the
image's right.
"""

import numpy as np

IMAGE_SIZE = 96  # side of the square face crop, in pixels
HALF = IMAGE_SIZE / 2  # 48: centre of the crop and the normalisation scale

KEYPOINT_NAMES = (
    "left_eye_center",
    "right_eye_center",
    "left_eye_inner_corner",
    "left_eye_outer_corner",
    "right_eye_inner_corner",
    "right_eye_outer_corner",
    "left_eyebrow_inner_end",
    "left_eyebrow_outer_end",
    "right_eyebrow_inner_end",
    "right_eyebrow_outer_end",
    "nose_tip",
    "mouth_left_corner",
    "mouth_right_corner",
    "mouth_center_top_lip",
    "mouth_center_bottom_lip",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)  # 15
NUM_COORDS = 2 * NUM_KEYPOINTS  # 30

# Kaggle's CSV column names, in order: left_eye_center_x, left_eye_center_y, ...
COLUMNS = tuple(f"{name}_{axis}" for name in KEYPOINT_NAMES for axis in ("x", "y"))
IMAGE_COLUMN = "Image"

# Index of each keypoint by name, e.g. KEYPOINT_INDEX["nose_tip"] == 10.
KEYPOINT_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _mirror_name(name):
    if "left" in name:
        return name.replace("left", "right")
    return name.replace("right", "left")


# FLIP_PERMUTATION[i] is the keypoint that keypoint i becomes after a horizontal flip: the
# subject's left eye, mirrored, is where a right eye would be. Centre points map to themselves.
FLIP_PERMUTATION = np.array([KEYPOINT_INDEX[_mirror_name(n)] for n in KEYPOINT_NAMES])

# The two eye centres, used for the inter-ocular distance (NME) and for the glasses' tilt.
LEFT_EYE, RIGHT_EYE = KEYPOINT_INDEX["left_eye_center"], KEYPOINT_INDEX["right_eye_center"]


def to_normalised(pixels):
    """Crop pixels (0..96) -> normalised coordinates (-1..1). NaN stays NaN."""
    return (np.asarray(pixels, dtype=np.float32) - HALF) / HALF


def to_pixels(normalised):
    """Normalised coordinates (-1..1) -> crop pixels (0..96). NaN stays NaN."""
    return np.asarray(normalised, dtype=np.float32) * HALF + HALF


def as_points(keypoints):
    """``(..., 30)`` flat keypoints -> ``(..., 15, 2)`` (x, y) pairs, same units."""
    keypoints = np.asarray(keypoints)
    return keypoints.reshape(keypoints.shape[:-1] + (NUM_KEYPOINTS, 2))


def as_flat(points):
    """``(..., 15, 2)`` (x, y) pairs -> ``(..., 30)`` flat keypoints, same units."""
    points = np.asarray(points)
    return points.reshape(points.shape[:-2] + (NUM_COORDS,))


def flip_points(points, width=IMAGE_SIZE):
    """Mirror ``(..., 15, 2)`` crop-pixel points left-right and swap every left/right pair.

    After this the points describe the horizontally flipped image (``image[:, ::-1]``): x becomes
    ``width - 1 - x`` and, e.g., the old left eye becomes the new right eye. Applying it twice
    gives back the input.
    """
    points = np.asarray(points, dtype=np.float32)
    flipped = points[..., FLIP_PERMUTATION, :].copy()
    flipped[..., 0] = (width - 1) - flipped[..., 0]
    return flipped


def mirrored_back(points):
    """Normalised ``(..., 15, 2)`` keypoints found in mirrored crops (``crops[:, :, ::-1]``) ->
    the same keypoints in the crops as they are: x mirrored, left/right pairs swapped."""
    return to_normalised(flip_points(to_pixels(points)))


def mirror_average(points, mirrored_points, offset=None):
    """The keypoints of crops averaged with those predicted on the same crops mirrored.

    ``points``: normalised ``(N, 15, 2)`` keypoints predicted on crops; ``mirrored_points``: those
    predicted on the mirrored crops (``crops[:, :, ::-1]``), which are mirrored back (left/right
    swapped) before averaging. ``offset``: normalised ``(15, 2)``, what a model's mirrored-back
    keypoints lie from its plain ones on average (``mirrored back - plain``, see
    :func:`~.evaluation.flip_offset`). A model trained on faces never mirrored has such a bias,
    about 2 px in x for the shipped one; removed before averaging, it leaves the mirrored view's
    independent guess. Returns normalised ``(N, 15, 2)``.
    """
    back = mirrored_back(mirrored_points)
    if offset is not None:
        back = back - np.asarray(offset, np.float32).reshape(NUM_KEYPOINTS, 2)
    return (np.asarray(points, np.float32) + back) / 2


def named(points):
    """``(15, 2)`` points -> ``{"left_eye_center": [x, y], ...}`` with plain floats (JSON-ready)."""
    points = np.asarray(points, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
    return {name: [float(x), float(y)] for name, (x, y) in zip(KEYPOINT_NAMES, points)}
