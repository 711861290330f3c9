"""Drawing sunglasses on faces from their keypoints.

The glasses picture (any PNG with an alpha channel; by default ``images/sunglasses.png``) is

* scaled to ``1.2 x`` the distance between the two outer eye corners (the original project's rule),
* rotated with the head: its horizontal axis follows the line from the right eye centre to the left
  eye centre (on the image: from left to right for an upright face),
* centred on the midpoint of the two eye centres,
* alpha-blended (soft edges) into the frame.

Only the frame's pixels under the glasses are read and written: the picture is warped with
``cv2.warpAffine`` straight into the small region it covers. 8-bit images (photos, video frames)
are blended in 8-bit arithmetic by OpenCV, within 2 levels of the float blend of other images (in
``benchmarks/pipeline.py`` the drawing stage took 0.45-0.71 ms a frame with one face and
0.76-1.12 ms with three with NumPy's float blend, one run with the float and the 8-bit keypoint
model; 0.20-0.40 and 0.35-0.55 ms with this one, four such runs). Glasses that reach past the
frame's border are clipped; faces partly or wholly outside the frame, tiny or huge, are fine.

All positions are photo pixels, x then y, pixel centres at integers.
"""

from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .keypoints import KEYPOINT_INDEX, LEFT_EYE, RIGHT_EYE
from .paths import project_folder

GLASSES_PATH = project_folder("images") / "sunglasses.png"
WIDTH_FACTOR = 1.2  # glasses width / distance between the outer eye corners
LEFT_OUTER = KEYPOINT_INDEX["left_eye_outer_corner"]
RIGHT_OUTER = KEYPOINT_INDEX["right_eye_outer_corner"]


class Glasses:
    """A glasses picture prepared for fast drawing.

    ``bgra``: uint8 ``(h, w, 4)`` array, straight (not premultiplied) alpha. Keeps a pyramid of
    premultiplied float32 copies, each half the size of the one before, so that small faces get
    smooth glasses too, and the same pyramid in uint8 for 8-bit images.
    """

    def __init__(self, bgra):
        bgra = np.asarray(bgra)
        if bgra.ndim != 3 or bgra.shape[2] != 4:
            raise InputError(f"glasses must be a (h, w, 4) BGRA image with an alpha channel, "
                             f"got shape {bgra.shape}")
        picture = bgra.astype(np.float32) / np.float32(np.iinfo(bgra.dtype).max
                                                       if bgra.dtype.kind in "ui" else 1.0)
        picture[..., :3] *= picture[..., 3:]  # premultiply: transparent pixels carry no colour
        self.levels = [picture]
        while min(picture.shape[:2]) >= 8:
            h, w = picture.shape[:2]
            picture = cv2.resize(picture, ((w + 1) // 2, (h + 1) // 2),
                                 interpolation=cv2.INTER_AREA)
            self.levels.append(picture)
        self.levels_uint8 = [np.round(level * 255).astype(np.uint8) for level in self.levels]

    @property
    def size(self):
        """``(width, height)`` of the picture in its own pixels."""
        h, w = self.levels[0].shape[:2]
        return w, h

    def level_for(self, width, uint8=False):
        """The smallest pyramid level at least ``width`` pixels wide (or the largest one); in
        uint8 (0-255) with ``uint8``, else float32 (0-1)."""
        levels = self.levels_uint8 if uint8 else self.levels
        for level in reversed(levels):
            if level.shape[1] >= width:
                return level
        return levels[0]


def load_glasses(path=None):
    """Read a glasses picture: a PNG (or any image file) with an alpha channel -> :class:`Glasses`.

    ``path`` defaults to ``images/sunglasses.png``. A missing file raises FileNotFoundError, an
    unreadable one or one without alpha ValueError, each naming the path.
    """
    path = Path(path) if path is not None else GLASSES_PATH
    if not path.is_file():
        raise FileNotFoundError(f"glasses picture not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"could not read an image from {path}")
    if image.ndim != 3 or image.shape[2] != 4:
        raise InputError(f"{path} has no alpha channel: the glasses need a transparent background "
                         "(a 4-channel RGBA PNG)")
    return Glasses(image)


_default = {}


def default_glasses():
    """``images/sunglasses.png``, loaded on first use and kept."""
    if "glasses" not in _default:
        _default["glasses"] = load_glasses()
    return _default["glasses"]


def as_glasses(glasses):
    """``None`` (the default picture), a path, a BGRA array or a :class:`Glasses` -> Glasses."""
    if glasses is None:
        return default_glasses()
    if isinstance(glasses, Glasses):
        return glasses
    if isinstance(glasses, (str, Path)):
        return load_glasses(glasses)
    return Glasses(glasses)


def glasses_pose(keypoints):
    """Where the glasses go on one face: ``(centre_x, centre_y, angle_degrees, width)``.

    ``keypoints``: ``(15, 2)`` photo pixels. Centre: midpoint of the eye centres (photo pixels).
    Angle: direction of the line from the right eye centre to the left eye centre, in degrees,
    measured from the image's x axis towards its y axis (clockwise on screen, since y points down).
    Width: ``1.2 x`` the distance between the outer eye corners, in photo pixels.
    """
    points = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    left, right = points[LEFT_EYE], points[RIGHT_EYE]
    centre = (left + right) / 2
    dx, dy = left - right
    width = WIDTH_FACTOR * np.hypot(*(points[LEFT_OUTER] - points[RIGHT_OUTER]))
    return float(centre[0]), float(centre[1]), float(np.degrees(np.arctan2(dy, dx))), float(width)


def put_sunglasses(image, faces, glasses=None, inplace=False):
    """Draw glasses on every face of an image and return it.

    ``image``: uint8 (or uint16, or float in [0, 1]) grey ``(H, W)``, BGR ``(H, W, 3)`` or BGRA
    ``(H, W, 4)``; shape and dtype are kept. ``faces``: one face's ``(15, 2)`` keypoints, an
    ``(N, 15, 2)`` array, a list of those, or the list :func:`~.faces.find_keypoints` returns;
    all in photo pixels. ``glasses``: see :func:`as_glasses`. With ``inplace=False`` (default)
    the input is left untouched and a copy is returned.
    """
    glasses = as_glasses(glasses)
    out = image if inplace else np.array(image, copy=True)
    if isinstance(faces, dict) or (isinstance(faces, np.ndarray) and faces.ndim == 2):
        faces = [faces]
    for face in faces:
        points = face["keypoints"] if isinstance(face, dict) else face
        draw_glasses(out, *glasses_pose(points), glasses)
    return out


def draw_glasses(image, centre_x, centre_y, angle, width, glasses):
    """Blend ``glasses`` into ``image`` in place: centred at (centre_x, centre_y) photo pixels,
    rotated by ``angle`` degrees (clockwise on screen), ``width`` photo pixels wide.

    Pixels outside the glasses' rotated rectangle are never written. Does nothing for a pose that
    is not finite or a width below 0.1 pixels.
    """
    if not (np.isfinite([centre_x, centre_y, angle, width]).all() and width >= 0.1):
        return image
    eight_bit = image.dtype == np.uint8
    picture = glasses.level_for(width, uint8=eight_bit)
    h, w = picture.shape[:2]
    scale = width / w
    cos, sin = scale * np.cos(np.radians(angle)), scale * np.sin(np.radians(angle))
    # photo = centre + scale * R(angle) @ (glasses_pixel - glasses_centre)
    matrix = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    matrix[:, 2] = np.array([centre_x, centre_y]) - matrix[:, :2] @ [(w - 1) / 2, (h - 1) / 2]

    # The region of the image the rotated picture can touch (one pixel of margin for smoothing).
    corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1],
                        [-0.5, h - 0.5, 1], [w - 0.5, h - 0.5, 1]])
    photo_corners = corners @ matrix.T
    height, frame_width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(photo_corners.min(axis=0)) - 1, 0)
    x1, y1 = np.minimum(np.ceil(photo_corners.max(axis=0)) + 2, [frame_width, height])
    if x1 <= x0 or y1 <= y0:
        return image
    x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
    matrix[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(picture, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    (_blend_uint8 if eight_bit else _blend)(image[y0:y1, x0:x1], warped)
    return image


def _blend_uint8(region, warped):
    """:func:`_blend` for a uint8 ``region`` and ``warped`` glasses (premultiplied, 0-255), in
    8-bit arithmetic: region x (255 - alpha) / 255 + colour, rounded and saturated. Where alpha
    is 0 the region keeps its values exactly."""
    channels = 1 if region.ndim == 2 else region.shape[2]
    keep = cv2.bitwise_not(warped[..., 3])  # 255 - alpha
    if channels == 1:
        colour = cv2.cvtColor(np.ascontiguousarray(warped[..., :3]), cv2.COLOR_BGR2GRAY)
    else:  # BGR, or BGRA whose alpha becomes alpha + under x (255 - alpha) / 255: "over"
        colour = np.ascontiguousarray(warped[..., :channels])
    under = cv2.multiply(region.reshape(region.shape[:2] + (channels,)),
                         cv2.merge([keep] * channels), scale=1 / 255)
    region[...] = cv2.add(under, colour).reshape(region.shape)


def _blend(region, warped):
    """``region`` (a view into the image) = glasses over region, where the glasses' alpha > 0."""
    alpha = warped[..., 3]
    covered = alpha > 0
    if not covered.any():
        return
    full = np.float32(np.iinfo(region.dtype).max if region.dtype.kind in "ui" else 1.0)
    colour = warped[..., :3] * full  # premultiplied BGR, in the image's value range
    under = region.astype(np.float32)
    if region.ndim == 2 or region.shape[2] == 1:
        grey = colour @ np.array([0.114, 0.587, 0.299], np.float32)  # same weights as BGR2GRAY
        blended = under.reshape(alpha.shape) * (1 - alpha) + grey
        blended = blended.reshape(region.shape)
    else:
        blended = under.copy()
        blended[..., :3] = under[..., :3] * (1 - alpha[..., None]) + colour
        if region.shape[2] == 4:  # the glasses are opaque where they are drawn: "over" operator
            blended[..., 3] = under[..., 3] * (1 - alpha) + alpha * full
    if region.dtype.kind in "ui":
        blended = np.clip(np.round(blended), 0, full)
    where = covered if region.ndim == 2 else covered.reshape(covered.shape + (1,))
    np.copyto(region, blended.astype(region.dtype), where=np.broadcast_to(where, region.shape))
