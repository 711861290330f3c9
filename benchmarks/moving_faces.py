"""Test videos made from a bundled photo: faces that move, turn and tilt, with known positions.

The face is Grace Hopper's, from the photo that ships with matplotlib
(``matplotlib.get_data_path()/sample_data/grace_hopper.jpg``). Each copy of it is cut out with a
soft oval edge and drawn on a plain backdrop with its own path over time:

* moving: its centre drifts along a slow Lissajous curve (tens of pixels per second),
* turning: it is squeezed horizontally, to 85% at most, as a head turning away looks,
* tilting: it rotates by up to 12 degrees either way,
* and it grows and shrinks by 8%, as if walking towards the camera and back.

:func:`make_frames` returns the frames and, for every frame, where each face is (its box in photo
pixels, as Haar would frame the unturned, untilted face). :func:`write_video` saves frames as an
mp4v video. Sizes are in pixels, times in seconds, angles in degrees.
"""

from pathlib import Path

import cv2
import numpy as np

from facial_keypoints.photos import sample_photo

PHOTO_FACE = (155, 105, 222, 222)  # Haar's box of the face in that photo: x, y, w, h
FRAME_SIZE = (640, 480)  # width, height
FPS = 30.0

# Each face: (face width in pixels, centre x, centre y as a share of the frame, phase in radians).
ONE_FACE = [(150, 0.5, 0.5, 0.0)]
SEVERAL_FACES = [(120, 0.2, 0.38, 0.0), (95, 0.52, 0.62, 2.1), (75, 0.82, 0.36, 4.2)]


def cut_out_face(photo):
    """The head of the photo with some margin: BGR sprite, its alpha (0..1, soft oval edge) and the
    face box inside the sprite."""
    x, y, w, h = PHOTO_FACE
    left, top = max(0, x - w // 2), max(0, y - h // 3)
    right, bottom = min(photo.shape[1], x + w + w // 2), min(photo.shape[0], y + h + h // 2)
    sprite = photo[top:bottom, left:right]
    height, width = sprite.shape[:2]
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (int(width * 0.42), int(height * 0.46)), 0, 0,
                360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), width / 30)
    return sprite, alpha, (x - left, y - top, w, h)


def backdrop(size=FRAME_SIZE, seed=0):
    """A still, softly mottled grey-blue background (like a plain wall), BGR uint8."""
    width, height = size
    rng = np.random.default_rng(seed)
    mottle = cv2.resize(rng.random((height // 40, width // 40)).astype(np.float32),
                        (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    ramp = np.linspace(0.4, 0.7, width, dtype=np.float32)[None, :, None]
    tint = np.array([1.0, 0.92, 0.85], np.float32)  # B, G, R: a cool grey
    return np.clip(255 * tint * (0.75 * ramp + 0.25 * mottle), 0, 255).astype(np.uint8)


def face_pose(face, t, size=FRAME_SIZE):
    """Where one face is at time ``t``: (centre x, centre y, width, squeeze, tilt degrees)."""
    face_width, cx, cy, phase = face
    width, height = size
    centre_x = cx * width + 0.06 * width * np.sin(2 * np.pi * 0.23 * t + phase)
    centre_y = cy * height + 0.05 * height * np.sin(2 * np.pi * 0.31 * t + 1.3 * phase)
    squeeze = 1.0 - 0.15 * (0.5 - 0.5 * np.cos(2 * np.pi * 0.37 * t + phase))
    tilt = 12.0 * np.sin(2 * np.pi * 0.29 * t + 0.7 * phase)
    scale = face_width * (1.0 + 0.08 * np.sin(2 * np.pi * 0.17 * t + phase))
    return centre_x, centre_y, scale, squeeze, tilt


def make_frames(faces=ONE_FACE, seconds=3.0, fps=FPS, size=FRAME_SIZE):
    """Frames of faces moving, turning and tilting: ``(frames, boxes)``.

    ``frames``: list of BGR uint8 ``(480, 640, 3)`` arrays. ``boxes[i]``: for frame ``i``, one
    ``(x, y, w, h)`` box per face in photo pixels: the face's square as Haar frames an upright,
    unturned face of that size, centred where the face is.
    """
    photo = cv2.imread(str(sample_photo()))
    sprite, alpha, (fx, fy, fw, fh) = cut_out_face(photo)
    face_centre = np.array([fx + fw / 2 - 0.5, fy + fh / 2 - 0.5])
    background = backdrop(size).astype(np.float32)
    frames, boxes = [], []
    for i in range(int(round(seconds * fps))):
        frame, frame_boxes = background.copy(), []
        for face in faces:
            centre_x, centre_y, width, squeeze, tilt = face_pose(face, i / fps, size)
            scale = width / fw
            angle = np.radians(tilt)
            # frame = centre + R(tilt) @ diag(scale * squeeze, scale) @ (sprite - face_centre)
            linear = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) \
                @ np.diag([scale * squeeze, scale])
            matrix = np.hstack([linear, (np.array([centre_x, centre_y])
                                         - linear @ face_centre)[:, None]])
            colour = cv2.warpAffine(sprite, matrix, size, flags=cv2.INTER_LINEAR).astype(np.float32)
            weight = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR)[..., None]
            frame = frame * (1 - weight) + colour * weight
            frame_boxes.append((int(round(centre_x - width / 2)), int(round(centre_y - width / 2)),
                                int(round(width)), int(round(width))))
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        boxes.append(frame_boxes)
    return frames, boxes


def write_video(frames, path, fps=FPS):
    """Save BGR frames as an mp4v video at ``path``; returns the path."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"could not open {path} for writing a video (mp4v codec)")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return Path(path)
