"""Sunglasses on a live camera or a video file: the per-frame filter and the frame loop.

* :class:`SunglassesFilter` does the work for one frame (``process(frame) -> frame``). It keeps the
  state that makes a video look steady: which faces it is following (:mod:`.tracking`), and a
  One-Euro filter per face (:mod:`.smoothing`). It needs no display, so benchmarks, tests and the
  notebook widgets use it as is.
* :class:`VideoSource` reads frames from a camera index or a video file, the same code for both.
* :func:`show_window` and :func:`write_video` send the processed frames to an OpenCV window or a
  video file (:mod:`.notebook` has the notebook widgets).

All faces of a frame go to the model in one call. ``SunglassesFilter.timings`` holds the seconds
the last frame spent in each stage (``detect``, ``crop``, ``keypoints``, ``overlay``). All
positions are photo pixels (x, y); times are seconds.
"""

import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .errors import InputError
from .faces import as_uint8, default_predictor, predict_keypoints, to_gray
from .photos import fresh_path
from .smoothing import OneEuroFilter
from .sunglasses import as_glasses, put_sunglasses
from .timing import timed
from .tracking import FaceTracker

STAGES = ("detect", "crop", "keypoints", "overlay")  # the keys of SunglassesFilter.timings


class SunglassesFilter:
    """Puts sunglasses on every face of consecutive video frames, steadily.

    ``predictor``: keypoint model (default: the shipped one, :func:`~.predictor.load_predictor`).
    ``detector``: a :class:`~.detectors.FaceDetector` (default YuNet; full-frame searches run on a
    copy at most ``detect_side`` pixels long). ``glasses``: picture, see
    :func:`~.sunglasses.as_glasses`. ``redetect_every``: frames between full-frame searches for new
    faces. ``anchor_every``: frames between detector checks near each followed face (1: every
    frame). ``max_misses``: checks in a row that may miss a face before it is dropped.
    ``smoothing``: One-Euro settings ``(min_cutoff, beta)`` or None for none. ``refine``: second
    keypoint pass per face (see :func:`~.faces.predict_keypoints`; off, since the tracker already
    cuts each face from its keypoints of the frame before). Each face is looked at once a
    frame, never also mirrored (``flip_average`` of photos): that would double the model's time
    per face. See :class:`~.tracking.FaceTracker` for how faces are followed.

    After each frame, ``timings`` maps each of :data:`STAGES` to the seconds that frame spent in
    it: ``detect`` (finding and following faces), ``crop``, ``keypoints`` (the model) and
    ``overlay`` (drawing the glasses). Grey conversion and smoothing are in none of them.
    """

    def __init__(self, predictor=None, detector=None, glasses=None, redetect_every=30,
                 anchor_every=4, max_misses=3, smoothing=(1.0, 0.01), refine=False,
                 show_fps=True, detect_side=320):
        self.predictor = predictor or default_predictor()
        self.tracker = FaceTracker(detector, redetect_every, anchor_every, max_misses, detect_side)
        self.glasses = as_glasses(glasses)
        self.smoothing, self.refine, self.show_fps = smoothing, refine, show_fps
        self.reset()

    @property
    def detector(self):
        """The full-frame face detector (also used near each face)."""
        return self.tracker.detector

    @property
    def tracks(self):
        """The faces being followed: a list of :class:`~.tracking.Track`."""
        return self.tracker.tracks

    def reset(self):
        """Forget all faces (e.g. before a new video)."""
        self.tracker.reset()
        self.fps, self._last_call = None, None
        self.timings = dict.fromkeys(STAGES, 0.0)

    def keypoints(self, frame, timestamp=None):
        """Follow the faces into ``frame`` and return their smoothed keypoints: a list of
        ``(15, 2)`` photo-pixel arrays, one per face. ``timestamp``: seconds (default: now)."""
        timestamp = time.monotonic() if timestamp is None else timestamp
        self.timings = dict.fromkeys(STAGES, 0.0)
        if frame is None or np.asarray(frame).size == 0:
            return []
        frame = as_uint8(frame)
        gray = to_gray(frame)
        with timed(self.timings, "detect"):
            transforms = self.tracker.follow(frame)
        points, _ = predict_keypoints(gray, transforms, self.predictor, refine=self.refine,
                                      timings=self.timings)
        self.tracker.observe(points)
        for track, p in zip(self.tracks, points):
            if self.smoothing and track.smoother is None:
                track.smoother = OneEuroFilter(*self.smoothing)
            track.keypoints = track.smoother(p, timestamp) if track.smoother else p
        return [t.keypoints for t in self.tracks]

    def process(self, frame, timestamp=None):
        """One frame (BGR, BGRA or grey) -> a new frame with sunglasses (and the FPS, if on).

        ``timestamp``: when the frame was taken, in seconds (default: now); pass the video's own
        times for files, so that smoothing does not depend on processing speed. An empty or
        None frame is returned as it is.
        """
        if frame is None or np.asarray(frame).size == 0:
            self.timings = dict.fromkeys(STAGES, 0.0)
            return frame
        faces = self.keypoints(frame, timestamp)
        with timed(self.timings, "overlay"):
            out = put_sunglasses(frame, faces, self.glasses)
        now = time.perf_counter()
        if self._last_call is not None:
            rate = 1.0 / max(now - self._last_call, 1e-6)
            self.fps = rate if self.fps is None else 0.9 * self.fps + 0.1 * rate
        self._last_call = now
        if self.show_fps and self.fps is not None:
            draw_label(out, f"{self.fps:.1f} FPS")
        return out


def draw_label(frame, text, origin=(10, 28)):
    """Write ``text`` on ``frame`` in place, white with a dark outline (readable anywhere)."""
    colour = 255 if frame.ndim == 2 else (255,) * frame.shape[2]
    for c, thickness in ((0 if frame.ndim == 2 else (0,) * frame.shape[2], 4), (colour, 1)):
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.8, c, thickness, cv2.LINE_AA)
    return frame


def is_camera(source):
    """True for a camera index: an int, or a string of digits like ``"0"``."""
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


class StreamWarning(UserWarning):
    """Frames of a video or camera that were skipped or never came: the stream went on (or ended)
    without them."""


class VideoSource:
    """Frames from a camera (index) or a video file (path), as ``(seconds, frame)`` pairs.

    Use it in a ``with`` block (or call :meth:`close`) so the capture is always released::

        with VideoSource(0) as video:
            for t, frame in video:
                ...

    A camera that cannot be opened raises InputError naming its index; a missing file
    FileNotFoundError. A camera frame that fails to read is retried ``retries`` times before the
    stream ends. A file's frames that fail to decode (a damaged stretch) are skipped, and reading
    goes on to the file's last frame. Whatever was skipped, or a stream that ends before its
    end, is said in a :class:`StreamWarning` when the frames run out, and counted in
    :attr:`skipped`. Times are the video's own for files (frame position / fps) and the clock for
    cameras.
    """

    max_bad_run = 300  # a file of unknown length ends after this many undecodable frames in a row

    def __init__(self, source, retries=5, retry_wait=0.05):
        self.source, self.retries, self.retry_wait = source, retries, retry_wait
        self.camera = is_camera(source)
        if self.camera:
            self.capture = cv2.VideoCapture(int(source))
            what = f"camera {int(source)}"
        else:
            if not Path(source).is_file():
                raise FileNotFoundError(f"video file not found: {source}")
            self.capture = cv2.VideoCapture(str(source))
            what = f"video file {source}"
        if not self.capture.isOpened():
            self.capture.release()
            hint = " (is a camera connected, and not used by another program?)"
            raise InputError(f"could not open {what}"
                             + (hint if self.camera else " (damaged, or not a video?)"))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 and not self.camera else None
        self.name, self.read, self.skipped = what, 0, 0

    def __iter__(self):
        failures, start = 0, time.monotonic()
        while self.capture.isOpened():
            ok, frame = self.capture.read()
            if ok and frame is not None and frame.size > 0:
                failures = 0
                position = self.read + self.skipped
                yield (time.monotonic() - start if self.camera else position / self.fps), frame
                self.read += 1
            elif self.camera and failures < self.retries:
                failures += 1
                time.sleep(self.retry_wait)
            elif not self.camera and self._more_to_come(failures):
                failures += 1
                self.skipped += 1
            else:
                break
        self._say_what_was_lost(failures)

    def _more_to_come(self, failures):
        if self.frame_count is not None:
            return self.read + self.skipped < self.frame_count
        return failures < self.max_bad_run

    def _say_what_was_lost(self, failures):
        if self.camera:
            if failures:
                warnings.warn(f"{self.name} stopped sending frames after {self.read}",
                              StreamWarning, stacklevel=3)
            return
        # A few failures at the very end are the end of the file, not damage: a container's frame
        # count can be an estimate a frame or so too high. A longer run there is a damaged end.
        end = failures if self.frame_count is None or failures <= max(2, self.frame_count // 100) \
            else 0
        self.skipped -= end
        expected = self.read + self.skipped if self.frame_count is None else self.frame_count - end
        lost = expected - self.read  # skipped, or never read because the file closed early
        if lost > 0:
            warnings.warn(
                f"{self.name}: skipped {lost} frame(s) that could not be decoded, read "
                f"{self.read}" + (f" of {self.frame_count}" if self.frame_count else ""),
                StreamWarning, stacklevel=3)

    def close(self):
        """Release the camera or file."""
        self.capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_filter(sunglasses_filter=None, **settings):
    """The given :class:`SunglassesFilter`, or a new one made with ``settings``."""
    return sunglasses_filter if sunglasses_filter is not None else SunglassesFilter(**settings)


def write_video(source, output, sunglasses_filter=None, progress=True, max_frames=None, **settings):
    """Process a video file (or camera) into a new video file (mp4v codec). Returns frames written.

    ``source``: path or camera index. ``output``: path, e.g. ``out.mp4``. The output has the same
    frame size and rate, and one frame per input frame. ``settings`` go to
    :class:`SunglassesFilter` when no ``sunglasses_filter`` is given.
    """
    sunglasses_filter = as_filter(sunglasses_filter, **settings)
    writer, written = None, 0
    with VideoSource(source) as video:
        bar = tqdm(total=video.frame_count, unit="frame", disable=not progress)
        try:
            for t, frame in video:
                out = sunglasses_filter.process(frame, t)
                if writer is None:
                    writer = _open_writer(output, video.fps, out)
                writer.write(_as_bgr(out))
                written += 1
                bar.update()
                if max_frames and written >= max_frames:
                    break
        finally:
            bar.close()
            if writer is not None:
                writer.release()
    if not written:
        raise InputError(f"{source}: no frame of it could be decoded: nothing was written")
    return written


def _open_writer(path, fps, frame):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise InputError(f"could not open {path} for writing a video (mp4v codec)")
    return writer


def _as_bgr(frame):
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def show_window(source=0, sunglasses_filter=None, output=None, snapshot_dir=".",
                title="Sunglasses (q: quit, s: snapshot)", **settings):
    """Show the processed camera or video in an OpenCV window until q/Esc or the stream ends.

    ``s`` saves the current frame as ``snapshot_<n>.png`` in ``snapshot_dir`` (printing where;
    a name already taken gets ``-2``, ``-3``, ...).
    ``output``: also write the processed stream to this video file. Returns frames shown.
    """
    sunglasses_filter = as_filter(sunglasses_filter, **settings)
    writer, shown, snapshots = None, 0, 0
    with VideoSource(source) as video:
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            for t, frame in video:
                out = sunglasses_filter.process(frame, None if video.camera else t)
                cv2.imshow(title, out)
                shown += 1
                if output is not None:
                    if writer is None:
                        writer = _open_writer(output, video.fps, out)
                    writer.write(_as_bgr(out))
                key = cv2.waitKey(1) & 0xFF
                if key in (ord("q"), 27) or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                    break
                if key == ord("s"):
                    snapshots += 1
                    path = fresh_path(Path(snapshot_dir) / f"snapshot_{snapshots}.png")
                    cv2.imwrite(str(path), out)
                    print(f"saved {path}", flush=True)
        finally:
            if writer is not None:
                writer.release()
            cv2.destroyWindow(title)
    return shown
