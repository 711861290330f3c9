"""Cutting a face out of a photo as the keypoint model expects it, and the maths between the two.

A crop is described by one **crop transform**: a 2x3 similarity matrix ``M`` (rotation, uniform
scale, shift) that maps photo pixels to crop pixels, ``crop = M @ [x, y, 1]``. Both use the same
pixel-centre convention (pixel ``i`` has its centre at ``i``), which is also the one of
``cv2.warpAffine`` and of the training data. The model sees the 96x96 grey crop; its keypoints go
back to the photo through the inverse transform (:func:`to_photo`).

Three ways to choose ``M``, one per thing we may know about a face:

* :func:`from_box`: a square box ``(x, y, w, h)`` (Haar), optionally turned by a multiple of 90
  degrees: the training data's own recipe, no rotation.
* :func:`from_landmarks`: the detector's five landmarks (eyes, nose tip, mouth corners) and the
  size of its box. The rotation and position are those of the least-squares similarity that moves
  the landmarks onto :data:`LANDMARK_TEMPLATE`, where the detector puts them on average in the
  training crops; the scale makes the box as large as the detector's box is there
  (:data:`BOX_SIDE`), since the distances between landmarks shrink when a head turns sideways and
  the box does not. The face then reaches the model upright and framed as in training, whatever
  its angle in the photo.
* :func:`from_keypoints`: the model's own 15 keypoints of a first pass, moved onto
  :data:`MEAN_KEYPOINTS` (the refinement pass, and the video tracker).

All coordinates are ``(x, y)``; "left" is the subject's left.
"""

import cv2
import numpy as np

from .keypoints import IMAGE_SIZE, to_normalised, to_pixels

# Mean position of each keypoint in the training crops, in crop pixels (x, y), Kaggle order.
# A face whose keypoints sit here is framed the way the Haar detector framed the training faces.
MEAN_KEYPOINTS = np.array([
    [66.0, 38.3], [31.4, 38.8],  # eye centres: left, right
    [59.1, 38.9], [72.5, 38.0],  # left eye inner, outer corner
    [38.2, 39.2], [24.9, 38.6],  # right eye inner, outer corner
    [57.6, 27.6], [79.9, 29.7],  # left eyebrow inner, outer end
    [39.3, 27.9], [16.9, 30.5],  # right eyebrow inner, outer end
    [49.4, 62.0],                # nose tip
    [63.5, 76.1], [35.0, 76.5],  # mouth left, right corner
    [49.5, 72.5], [49.5, 78.7],  # mouth centre top lip, bottom lip
], dtype=np.float32)

# Where YuNet puts its five landmarks, on average, in the training crops: crop pixels (x, y), in
# YuNet's order (subject's right eye, left eye, nose tip, right mouth corner, left mouth corner).
# Fitted on data, not by hand: `python detector_architectures/fit_alignment.py` runs the detector
# on every crop of the main training file (each padded by 48 replicated pixels so the face is not
# at the border), keeps the detection nearest the crop centre, and takes the mean of each landmark
# over the 3,543 of 3,653 crops where a face was found. The crops are Haar-framed and upright on
# average, so this template is upright and framed like Haar.
LANDMARK_TEMPLATE = np.array([
    [31.51, 38.77], [63.79, 38.80], [47.83, 57.51], [35.06, 72.55], [61.82, 72.79],
], dtype=np.float32)
# The long side of YuNet's box in the same crops, on average (crop pixels; the same script).
BOX_SIDE = 94.22


def similarity(source, target):
    """The least-squares similarity ``M`` (2x3) with ``M @ source ~ target``.

    ``source``, ``target``: ``(N, 2)`` points, N >= 2; rows with a NaN are left out. Rotation,
    uniform scale and shift only (no reflection, no shear): Umeyama's closed form.
    """
    source = np.asarray(source, np.float64).reshape(-1, 2)
    target = np.asarray(target, np.float64).reshape(-1, 2)
    keep = np.isfinite(source).all(1) & np.isfinite(target).all(1)
    source, target = source[keep], target[keep]
    if len(source) < 2:
        raise ValueError(f"a similarity needs at least 2 points, got {len(source)}")
    source_mean, target_mean = source.mean(0), target.mean(0)
    s, t = source - source_mean, target - target_mean
    # With complex numbers z = x + iy a similarity is z -> a z + b: least squares gives a directly.
    zs, zt = s[:, 0] + 1j * s[:, 1], t[:, 0] + 1j * t[:, 1]
    a = np.vdot(zs, zt) / max(np.vdot(zs, zs).real, 1e-12)
    rotation_scale = np.array([[a.real, -a.imag], [a.imag, a.real]])
    shift = target_mean - rotation_scale @ source_mean
    return np.hstack([rotation_scale, shift[:, None]]).astype(np.float64)


def from_landmarks(landmarks, box_side=None):
    """Crop transform from a detector's five landmarks (photo pixels, YuNet's order) and the long
    side of its box (photo pixels; None: the scale comes from the landmarks too).

    In a one-off comparison on AFW's 337 faces (shipped model), taking the scale from the box
    instead of the landmarks moved the first pass's mean NME from 0.070 to 0.068 and its faces
    under 0.10 from 89.3% to 90.5%; after the refinement pass, 0.063 and 93.2% became 0.062 and
    94.1%."""
    transform = similarity(landmarks, LANDMARK_TEMPLATE)
    if box_side:  # rescale about the crop centre, which stays where it is in the photo
        zoom = (BOX_SIDE / box_side) / scale_of(transform)
        centre = (IMAGE_SIZE - 1) / 2
        transform[:, :2] *= zoom
        transform[:, 2] = zoom * transform[:, 2] + (1 - zoom) * centre
    return transform


def from_keypoints(keypoints):
    """Crop transform from 15 keypoints (photo pixels, Kaggle order; NaN rows are ignored)."""
    return similarity(keypoints, MEAN_KEYPOINTS)


def from_box(box, angle=0):
    """Crop transform of a square box ``(x, y, w, h)`` (photo pixels), as the training crops were
    cut. ``angle`` (degrees, clockwise on screen): the face is turned by that much inside the box;
    the crop turns it back upright. ``angle=0`` is exactly the training recipe:
    ``crop = (photo - box_x + 0.5) * 96 / w - 0.5``."""
    x, y, w, h = (float(v) for v in box)
    scale = IMAGE_SIZE / max(w, 1.0)
    upright = np.array([[scale, 0, (0.5 - x) * scale - 0.5],
                        [0, scale, (0.5 - y) * scale - 0.5]])
    if not angle:
        return upright
    centre = (IMAGE_SIZE - 1) / 2
    turn = cv2.getRotationMatrix2D((centre, centre), angle, 1.0)  # counter-clockwise on screen
    return compose(turn, upright)


def compose(second, first):
    """The transform that applies ``first`` then ``second`` (both 2x3)."""
    return (np.vstack([second, [0, 0, 1]]) @ np.vstack([first, [0, 0, 1]]))[:2]


def invert(matrix):
    """Inverse of a 2x3 affine transform."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def apply(matrix, points):
    """``(..., 2)`` points through a 2x3 transform -> same shape, float64."""
    points = np.asarray(points, np.float64)
    matrix = np.asarray(matrix, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def to_photo(crop_points, transform):
    """Crop pixels -> photo pixels, for the crop cut with ``transform``."""
    return apply(invert(transform), crop_points)


def to_crop(photo_points, transform):
    """Photo pixels -> crop pixels of the crop cut with ``transform``."""
    return apply(transform, photo_points)


def normalised_to_photo(points, transform):
    """Model output (normalised, -1..1) -> photo pixels."""
    return to_photo(to_pixels(points), transform)


def photo_to_normalised(points, transform):
    """Photo pixels -> normalised coordinates (-1..1) of the crop cut with ``transform``."""
    return to_normalised(to_crop(points, transform))


def scale_of(transform):
    """Crop pixels per photo pixel."""
    return float(np.hypot(transform[0, 0], transform[1, 0]))


def angle_of(transform):
    """How far the face is turned in the photo, degrees clockwise on screen (the crop turns it
    back by this much)."""
    return float(np.degrees(np.arctan2(transform[0, 1], transform[0, 0])))


def face_box(transform):
    """The square, upright box ``(x, y, w, h)`` (photo pixels, floats) with the same centre and
    size as the crop: where the face is, for matching faces between frames and for reports."""
    side = IMAGE_SIZE / scale_of(transform)
    cx, cy = to_photo([(IMAGE_SIZE - 1) / 2] * 2, transform)
    return (cx + 0.5 - side / 2, cy + 0.5 - side / 2, side, side)


def warp(image, transform, size, blocks=False):
    """The ``size`` (w, h) picture that ``transform`` (photo -> picture pixels) cuts from
    ``image``. Parts outside the photo repeat its edge pixels (of the shrunk copy, below).

    A picture much smaller than the region it covers is made from a copy of the part of that
    region inside the photo, first shrunk with ``INTER_AREA`` (averaging, as the training crops
    were), so that no detail aliases; the warp's own bilinear interpolation then shrinks by
    about 2/3. ``blocks``: average whole k x k blocks instead, faster (a 600-pixel region to 96
    pixels: 0.2-0.3 against 0.7 ms, ``benchmarks/yunet_runtime.py``), but a detail finer than a
    block may move by up to half a block: good enough for a detector's look, not for keypoints."""
    transform = np.asarray(transform, np.float64)
    scale = scale_of(transform)
    if scale < 0.5:
        corners = to_photo([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]], transform)
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        # Only what lies in the photo: the warp repeats its edge beyond it.
        height, width = image.shape[:2]
        x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        x1, y1 = max(min(x1, width), x0 + 1), max(min(y1, height), y0 + 1)
        if blocks:
            k = max(2, round(2 / (3 * scale)))
            x1, y1 = x1 + (x0 - x1) % k, y1 + (y0 - y1) % k  # cut repeats the edge if needed
            small_w, small_h = (x1 - x0) // k, (y1 - y0) // k
        else:
            small_w = max(1, round((x1 - x0) * scale * 1.5))
            small_h = max(1, round((y1 - y0) * scale * 1.5))
        region = cv2.resize(cut(image, x0, y0, x1, y1), (small_w, small_h),
                            interpolation=cv2.INTER_AREA)
        fx, fy = small_w / (x1 - x0), small_h / (y1 - y0)
        # region pixel (u, v) <- photo (x0 + (u + 0.5) / f - 0.5, ...)
        into_region = np.array([[fx, 0, (0.5 - x0) * fx - 0.5], [0, fy, (0.5 - y0) * fy - 0.5]])
        transform = compose(transform, invert(into_region))
        image = region
    return cv2.warpAffine(image, transform, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def cut(image, x0, y0, x1, y1):
    """Pixels ``x0 <= x < x1``, ``y0 <= y < y1`` of ``image``; parts outside it repeat its edge
    pixels (``cv2.BORDER_REPLICATE``)."""
    height, width = image.shape[:2]
    (r0, r1, top, bottom), (c0, c1, left, right) = _span(y0, y1, height), _span(x0, x1, width)
    inside = image[r0:r1, c0:c1]
    if top or bottom or left or right:
        inside = cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return inside


def _span(start, stop, size):
    """The part of ``start..stop`` inside ``0..size`` (at least its nearest pixel), and how many
    pixels to repeat before and after it."""
    if stop <= 0:
        return 0, 1, stop - start - 1, 0
    if start >= size:
        return size - 1, size, 0, stop - start - 1
    first, last = max(start, 0), min(stop, size)
    before, after = first - start, stop - last
    return first, last, before, after


def crop_face(gray, transform):
    """One face as the model sees it: float32 ``(96, 96)`` in [0, 1] from a grey uint8 photo.

    An upright transform of a whole-pixel box (:func:`from_box` with ``angle=0``) is cut exactly
    as the training crops were (the square, edges repeated, resized with ``INTER_AREA``); any
    other transform through :func:`warp`.
    """
    box = _whole_pixel_box(transform)
    if box is not None:
        return _crop_box(gray, box)
    return warp(gray, transform, (IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32) / 255.0


def crop_faces(gray, transforms):
    """All faces of a photo as one model batch: float32 ``(N, 96, 96, 1)`` in [0, 1]."""
    crops = np.zeros((len(transforms), IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
    for i, transform in enumerate(transforms):
        crops[i, :, :, 0] = crop_face(gray, transform)
    return crops


def _whole_pixel_box(transform):
    """The box ``(x, y, w, w)`` of an upright transform made by :func:`from_box` from whole
    pixels, or None."""
    transform = np.asarray(transform, np.float64)
    if abs(transform[0, 1]) > 1e-9 or abs(transform[1, 0]) > 1e-9 or transform[0, 0] <= 0:
        return None
    side = IMAGE_SIZE / transform[0, 0]
    x = 0.5 - (transform[0, 2] + 0.5) / transform[0, 0]
    y = 0.5 - (transform[1, 2] + 0.5) / transform[1, 1]
    whole = np.round([x, y, side])
    if np.abs(np.array([x, y, side]) - whole).max() > 1e-6 or abs(transform[1, 1]
                                                                  - transform[0, 0]) > 1e-12:
        return None
    return tuple(int(v) for v in (whole[0], whole[1], whole[2], whole[2]))


def _crop_box(gray, box):
    x, y, w, h = box
    crop = cv2.resize(cut(gray, x, y, x + w, y + h), (IMAGE_SIZE, IMAGE_SIZE),
                      interpolation=cv2.INTER_AREA)
    return crop.astype(np.float32) / 255.0
