"""Drawing sunglasses: placement, rotation, blending and clipping at the frame's border."""

import cv2
import numpy as np
import pytest

from facial_keypoints import sunglasses
from facial_keypoints.keypoints import KEYPOINT_INDEX


def face_keypoints(centre, angle, width, rng=None):
    """Keypoints for which the documented rule gives glasses of ``width`` photo pixels, centred at
    ``centre`` and tilted by ``angle`` degrees (clockwise on screen). Other points are noise."""
    rng = rng or np.random.default_rng(0)
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    centre = np.asarray(centre, dtype=np.float64)
    points = centre + rng.normal(0, width / 4, (15, 2))
    corners = width / 1.2 / 2  # width = 1.2 x outer-corner distance
    points[KEYPOINT_INDEX["left_eye_outer_corner"]] = centre + corners * direction
    points[KEYPOINT_INDEX["right_eye_outer_corner"]] = centre - corners * direction
    points[KEYPOINT_INDEX["left_eye_center"]] = centre + 0.7 * corners * direction
    points[KEYPOINT_INDEX["right_eye_center"]] = centre - 0.7 * corners * direction
    return points


def footprint(shape, centre, angle, width, height):
    """Pixels that a ``width x height`` rectangle centred at ``centre`` and turned by ``angle``
    can touch (with a margin for smoothing), computed from scratch."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    dx, dy = xs - centre[0], ys - centre[1]
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    along, across = dx * c + dy * s, -dx * s + dy * c
    margin = 2 + width / 1000
    return (np.abs(along) <= width / 2 + margin) & (np.abs(across) <= height / 2 + margin)


def random_frame(rng, kind, height, width):
    if kind == "grey":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == "bgra":
        return rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    if kind == "uint16":
        return rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    if kind == "float32":
        return rng.random((height, width, 3), dtype=np.float32)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_glasses_never_touch_pixels_away_from_them_and_keep_shape_and_dtype():
    rng = np.random.default_rng(1)
    glasses = sunglasses.load_glasses()
    png_width, png_height = glasses.size
    changed_somewhere = 0
    for case in range(300):
        kind = ["bgr", "grey", "bgra", "uint16", "float32"][case % 5]
        frame = random_frame(rng, kind, int(rng.integers(1, 160)), int(rng.integers(1, 160)))
        original = frame.copy()
        width = float(rng.choice([0.05, 0.5, 1, 3, 20, 60, 150, 400, 5000]))
        # Anywhere from well inside to just outside the frame, on any side.
        reach = 0.6 * width + 10
        centre = rng.uniform(-reach, reach + np.array(frame.shape[1::-1]))
        angle = float(rng.uniform(-180, 180))
        out = sunglasses.put_sunglasses(frame, face_keypoints(centre, angle, width, rng), glasses)

        assert out.shape == frame.shape and out.dtype == frame.dtype
        np.testing.assert_array_equal(frame, original)  # the input is left alone
        outside = ~footprint(frame.shape, centre, angle, width, width * png_height / png_width)
        np.testing.assert_array_equal(out[outside], original[outside])
        changed_somewhere += not np.array_equal(out, original)
    assert changed_somewhere > 60  # many cases did draw something


def test_tiny_huge_and_faraway_faces_do_not_crash():
    frame = np.full((50, 80, 3), 200, np.uint8)
    for centre, width in [((40, 25), 1), ((40, 25), 1e6), ((1e9, -1e9), 100), ((-5, -5), 30),
                          ((40, 25), 0.0), ((np.nan, 3), 50), ((85, 55), 40)]:
        out = sunglasses.put_sunglasses(frame, face_keypoints(centre, 10, width))
        assert out.shape == frame.shape and out.dtype == frame.dtype
    # Huge glasses whose right lens (182/600 of the width right of the centre) is on the frame
    # cover all of it with dark glass.
    big = sunglasses.put_sunglasses(frame, face_keypoints((40 - 182 / 600 * 1e4, 25), 0, 1e4))
    assert (big.astype(int).sum(axis=2) < 3 * 200).all()
    # A face entirely outside the frame leaves it exactly as it was.
    far = sunglasses.put_sunglasses(frame, face_keypoints((-200, 25), 0, 100))
    np.testing.assert_array_equal(far, frame)


def dark_mass(image, background):
    """Darkening per pixel (how much the glasses covered it) and its moments."""
    weight = (background - cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)).clip(0)
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    total = weight.sum()
    cx, cy = (weight * xs).sum() / total, (weight * ys).sum() / total
    mu20 = (weight * (xs - cx) ** 2).sum()
    mu02 = (weight * (ys - cy) ** 2).sum()
    mu11 = (weight * (xs - cx) * (ys - cy)).sum()
    axis = np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02))
    return weight, (cx, cy), axis


@pytest.mark.parametrize("tilt", [-35, -20, 0, 20, 35])
def test_glasses_turn_with_the_eye_line_and_sit_on_the_eyes(tilt):
    frame = np.full((400, 400, 3), 255, np.uint8)
    keypoints = face_keypoints((200, 210), 0, 220)
    # Tilt the whole face by `tilt` degrees about its centre (clockwise on screen for +).
    c, s = np.cos(np.radians(tilt)), np.sin(np.radians(tilt))
    tilted = (keypoints - (200, 210)) @ np.array([[c, s], [-s, c]]) + (200, 210)
    out = sunglasses.put_sunglasses(frame, tilted)
    weight, (cx, cy), axis = dark_mass(out, 255)
    assert abs(axis - tilt) < 1.5
    # Centred on the eyes: along the eye line the dark mass is balanced about the eye midpoint.
    assert abs((cx - 200) * c + (cy - 210) * s) < 2
    # The subject's left lens (image right) is lower on screen for a positive tilt.
    right_half = weight[:, 200:].sum(axis=1) @ np.arange(400) / weight[:, 200:].sum()
    left_half = weight[:, :200].sum(axis=1) @ np.arange(400) / weight[:, :200].sum()
    assert np.sign(round(right_half - left_half)) == np.sign(tilt)


def test_width_follows_the_outer_eye_corners():
    frame = np.full((300, 600, 3), 255, np.uint8)
    for width in (120, 300):
        out = sunglasses.put_sunglasses(frame, face_keypoints((300, 150), 0, width))
        weight, _, _ = dark_mass(out, 255)
        columns = np.nonzero(weight.sum(axis=0) > 0)[0]
        assert abs((columns[-1] - columns[0] + 1) - width) <= 2 + 0.01 * width


def test_blending_is_soft_and_covers_all_faces():
    frame = np.full((200, 400), 255, np.uint8)
    faces = [face_keypoints((100, 100), 0, 150), face_keypoints((300, 100), 5, 150)]
    out = sunglasses.put_sunglasses(frame, faces)
    assert out[100, 100 - 40] < 128 and out[100, 300 - 40] < 128  # a lens on each face
    assert len(np.unique(out)) > 20  # a gradient and smooth edges, not a hard mask
    bgra = np.zeros((200, 400, 4), np.uint8)  # fully transparent frame: glasses make it opaque
    out = sunglasses.put_sunglasses(bgra, faces[0])
    assert out[100, 60, 3] > 150 and out[5, 5, 3] == 0
    # find_keypoints' result can be passed as it is.
    found = [{"box": (0, 0, 1, 1), "keypoints": faces[0]}]
    assert np.array_equal(sunglasses.put_sunglasses(frame, found),
                          sunglasses.put_sunglasses(frame, faces[0]))


def test_inplace_draws_into_the_given_frame():
    frame = np.full((200, 200, 3), 255, np.uint8)
    returned = sunglasses.put_sunglasses(frame, face_keypoints((100, 100), 0, 150), inplace=True)
    assert returned is frame and frame.min() < 128


def test_the_bundled_picture_has_transparent_background_and_dark_lenses():
    picture = cv2.imread(str(sunglasses.GLASSES_PATH), cv2.IMREAD_UNCHANGED)
    assert picture.ndim == 3 and picture.shape[2] == 4
    h, w = picture.shape[:2]
    assert (picture[[0, 0, -1, -1], [0, -1, 0, -1], 3] == 0).all()
    for lens_x in (w // 2 - 182, w // 2 + 182):  # the lens centres sit on the middle row
        assert picture[h // 2, lens_x, 3] > 150 and picture[h // 2, lens_x, :3].mean() < 120


def test_glasses_files_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        sunglasses.load_glasses(tmp_path / "missing.png")
    opaque = tmp_path / "opaque.png"
    cv2.imwrite(str(opaque), np.zeros((10, 30, 3), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        sunglasses.load_glasses(opaque)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        sunglasses.load_glasses(broken)
    custom = tmp_path / "red.png"
    red = np.zeros((20, 60, 4), np.uint8)
    red[..., 2], red[..., 3] = 255, 255
    cv2.imwrite(str(custom), red)
    out = sunglasses.put_sunglasses(np.zeros((100, 100, 3), np.uint8),
                                    face_keypoints((50, 50), 0, 60), glasses=custom)
    assert tuple(out[50, 50]) == (0, 0, 255)


def test_8_bit_images_are_blended_as_float_ones_are():
    """uint8 images take OpenCV's 8-bit path, others NumPy's float one: the same glasses on the
    same picture differ by at most 2 levels of 255, for grey, BGR and BGRA alike."""
    rng = np.random.default_rng(3)
    faces = [face_keypoints((90, 70), 17, 130), face_keypoints((250, 90), -60, 45)]
    for channels in (None, 3, 4):
        shape = (160, 320) if channels is None else (160, 320, channels)
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
        eight_bit = sunglasses.put_sunglasses(frame, faces)
        in_float = sunglasses.put_sunglasses(frame.astype(np.float32) / 255, faces)
        difference = np.abs(eight_bit.astype(np.float32) - np.round(in_float * 255))
        assert difference.max() <= 2 and (eight_bit != frame).mean() > 0.05
