"""Sunglasses on a live camera or a video file: one frame loop, three places to show it.

* :class:`SunglassesFilter` does the work for one frame (``process(frame) -> frame``). It keeps the
  state that makes a video look steady: which faces it is following, and a One-Euro filter per face
  that smooths the keypoints over time. It needs no display, so benchmarks and tests use it as is.
* :class:`VideoSource` reads frames from a camera index or a video file, the same code for both.
* :func:`show_window`, :func:`write_video` and :func:`show_in_notebook` send the processed frames to
  an OpenCV window, a video file, or a widget in a Jupyter notebook.

Following faces: every ``redetect_every`` frames (and whenever a face was lost) the whole frame is
searched, at reduced resolution. In between, each face is looked for only in a region twice its size
around where it was, at about 64 pixels per face side, which is much cheaper. Faces are matched
between frames by the overlap (IoU) of their boxes. All faces of a frame go to the model in one
call.

All positions are photo pixels (x, y); times are seconds.
"""

import time
from pathlib import Path

import cv2
import numpy as np

from .faces import HaarDetector, default_predictor, predict_keypoints, to_gray
from .sunglasses import as_glasses, put_sunglasses


class OneEuroFilter:
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for an array of values.

    A low-pass filter whose cut-off frequency rises with speed: still keypoints are smoothed
    strongly (no jitter), moving ones lightly (little lag).

    ``min_cutoff``: cut-off in Hz when still; lower is smoother. ``beta``: how fast the cut-off
    rises with speed, in Hz per (value unit per second); for photo pixels about 0.01.
    ``d_cutoff``: cut-off in Hz of the speed estimate.
    """

    def __init__(self, min_cutoff=1.0, beta=0.01, d_cutoff=1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value = self.speed = self.time = None

    @staticmethod
    def _smoothing(dt, cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value, t):
        """Filter ``value`` (any array shape, e.g. ``(15, 2)`` photo pixels) observed at time
        ``t`` seconds; returns the smoothed array (float64, same shape)."""
        value = np.asarray(value, dtype=np.float64)
        if self.value is None or self.value.shape != value.shape:
            self.value, self.speed, self.time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self.time if t > self.time else 1 / 30  # a repeated timestamp: assume 30 fps
        speed = (value - self.value) / dt
        self.speed += self._smoothing(dt, self.d_cutoff) * (speed - self.speed)
        if value.ndim >= 1 and value.shape[-1] == 2:  # points: one speed per point, not per axis
            magnitude = np.repeat(np.hypot(self.speed[..., :1], self.speed[..., 1:]), 2, axis=-1)
        else:
            magnitude = np.abs(self.speed)
        cutoff = self.min_cutoff + self.beta * magnitude
        self.value = self.value + self._smoothing(dt, cutoff) * (value - self.value)
        self.time = t
        return self.value.copy()


def iou(a, b):
    """Overlap of two ``(x, y, w, h)`` boxes: intersection area / union area, 0..1."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def match_boxes(old, new, threshold=0.3):
    """Pair boxes of two frames by IoU, best overlaps first: list of ``(i_old, j_new)``."""
    pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(old) for j, b in enumerate(new)),
                   reverse=True)
    used_old, used_new, matches = set(), set(), []
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in used_old and j not in used_new:
            used_old.add(i), used_new.add(j)
            matches.append((i, j))
    return matches


def detect_near(detector, gray, box, search=1.0, face_pixels=64):
    """Look for the face that was at ``box`` (photo pixels) in a region around it.

    The region reaches ``search`` box sides beyond the box on every side, and is shrunk so the
    face is about ``face_pixels`` pixels wide before detection; only faces from 0.7x to 1.4x the
    old size are accepted. Returns the best-overlapping box in photo pixels, or None.
    """
    x, y, w, h = box
    height, width = gray.shape[:2]
    x0, y0 = max(0, int(x - search * w)), max(0, int(y - search * h))
    x1, y1 = min(width, int(x + w + search * w)), min(height, int(y + h + search * h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    region = gray[y0:y1, x0:x1]
    scale = min(1.0, face_pixels / max(w, 1))
    if scale < 1.0:
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    found = detector.detect(region, min_size=0.7 * w * scale, max_size=1.4 * w * scale)
    found = [(round(fx / scale) + x0, round(fy / scale) + y0, round(fw / scale), round(fh / scale))
             for fx, fy, fw, fh in found]
    best = max(found, key=lambda b: iou(b, box), default=None)
    return best if best is not None and iou(best, box) > 0.2 else None


class Track:
    """One face being followed: its latest box (photo pixels), smoother and missed-frame count."""

    def __init__(self, box, smoother):
        self.box, self.smoother, self.misses, self.keypoints = box, smoother, 0, None


class SunglassesFilter:
    """Puts sunglasses on every face of consecutive video frames, steadily.

    ``predictor``: keypoint model (default ``models/keypoints.keras``, loaded once). ``detector``:
    full-frame face detector (default Haar (1.1, 5) on a copy at most ``detect_side`` pixels
    long). ``glasses``: picture, see :func:`~.sunglasses.as_glasses`. ``redetect_every``: frames
    between full-frame searches. ``max_misses``: frames a face may go unseen before it is
    dropped. ``smoothing``: One-Euro settings ``(min_cutoff, beta)`` or None for none.
    ``refine``: second keypoint pass per face (see :func:`~.faces.predict_keypoints`).
    """

    def __init__(self, predictor=None, detector=None, glasses=None, redetect_every=10,
                 max_misses=5, smoothing=(1.0, 0.01), refine=False, show_fps=True, detect_side=640):
        self.predictor = predictor or default_predictor()
        self.detector = detector or HaarDetector(max_side=detect_side)
        self.glasses = as_glasses(glasses)
        self.redetect_every, self.max_misses = redetect_every, max_misses
        self.smoothing, self.refine, self.show_fps = smoothing, refine, show_fps
        self.reset()

    def reset(self):
        """Forget all faces (e.g. before a new video)."""
        self.tracks, self.frame_index, self.fps, self._last_call = [], 0, None, None
        self._search_all = True

    def _new_track(self, box):
        smoother = OneEuroFilter(*self.smoothing) if self.smoothing else None
        return Track(box, smoother)

    def _follow(self, gray):
        """Update ``self.tracks`` with this frame's face boxes."""
        if self._search_all or self.frame_index % self.redetect_every == 0:
            found = self.detector.detect(gray)
            matches = match_boxes([t.box for t in self.tracks], found)
            matched_tracks = {i for i, _ in matches}
            matched_found = {j for _, j in matches}
            for i, j in matches:
                self.tracks[i].box, self.tracks[i].misses = found[j], 0
            for i, track in enumerate(self.tracks):
                if i not in matched_tracks:
                    track.misses += 1
            self.tracks += [self._new_track(box) for j, box in enumerate(found)
                            if j not in matched_found]
            self._search_all = False
        else:
            for track in self.tracks:
                box = detect_near(self.detector, gray, track.box)
                if box is None:
                    track.misses += 1
                    self._search_all = True  # look everywhere next frame
                else:
                    track.box, track.misses = box, 0
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        # Two tracks that drifted onto the same face: keep the older one.
        kept = []
        for track in self.tracks:
            if all(iou(track.box, k.box) < 0.5 for k in kept):
                kept.append(track)
        self.tracks = kept

    def keypoints(self, frame, timestamp=None):
        """Follow the faces into ``frame`` and return their smoothed keypoints: a list of
        ``(15, 2)`` photo-pixel arrays, one per face. ``timestamp``: seconds (default: now)."""
        timestamp = time.monotonic() if timestamp is None else timestamp
        if frame is None or np.asarray(frame).size == 0:
            return []
        gray = to_gray(frame)
        self._follow(gray)
        self.frame_index += 1
        points, _ = predict_keypoints(gray, [t.box for t in self.tracks], self.predictor,
                                      refine=self.refine)
        for track, p in zip(self.tracks, points):
            track.keypoints = track.smoother(p, timestamp) if track.smoother else p
        return [t.keypoints for t in self.tracks]

    def process(self, frame, timestamp=None):
        """One frame (BGR, BGRA or grey) -> a new frame with sunglasses (and the FPS, if on).

        ``timestamp``: when the frame was taken, in seconds (default: now); pass the video's own
        times for files, so that smoothing does not depend on processing speed. An empty or
        None frame is returned as it is.
        """
        if frame is None or np.asarray(frame).size == 0:
            return frame
        out = put_sunglasses(frame, self.keypoints(frame, timestamp), self.glasses)
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


class VideoSource:
    """Frames from a camera (index) or a video file (path), as ``(seconds, frame)`` pairs.

    Use it in a ``with`` block (or call :meth:`close`) so the capture is always released::

        with VideoSource(0) as video:
            for t, frame in video:
                ...

    A camera that cannot be opened raises OSError naming its index; a missing file
    FileNotFoundError. A camera frame that fails to read is retried ``retries`` times before the
    stream ends; a file ends at its last frame. Times are the video's own for files
    (frame index / fps) and the clock for cameras.
    """

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
            raise OSError(f"could not open {what}" + (hint if self.camera else ""))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 and not self.camera else None

    def __iter__(self):
        index, failures, start = 0, 0, time.monotonic()
        while self.capture.isOpened():
            ok, frame = self.capture.read()
            if not ok or frame is None or frame.size == 0:
                if self.camera and failures < self.retries:
                    failures += 1
                    time.sleep(self.retry_wait)
                    continue
                break
            failures = 0
            yield (time.monotonic() - start if self.camera else index / self.fps), frame
            index += 1

    def close(self):
        """Release the camera or file."""
        self.capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _filter(sunglasses_filter, **settings):
    return sunglasses_filter if sunglasses_filter is not None else SunglassesFilter(**settings)


def write_video(source, output, sunglasses_filter=None, progress=True, max_frames=None, **settings):
    """Process a video file (or camera) into a new video file (mp4v codec). Returns frames written.

    ``source``: path or camera index. ``output``: path, e.g. ``out.mp4``. The output has the same
    frame size and rate, and one frame per input frame. ``settings`` go to
    :class:`SunglassesFilter` when no ``sunglasses_filter`` is given.
    """
    from tqdm.auto import tqdm

    sunglasses_filter = _filter(sunglasses_filter, **settings)
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
    return written


def _open_writer(path, fps, frame):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"could not open {path} for writing a video (mp4v codec)")
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

    ``s`` saves the current frame as ``snapshot_<n>.png`` in ``snapshot_dir`` (printing where).
    ``output``: also write the processed stream to this video file. Returns frames shown.
    """
    sunglasses_filter = _filter(sunglasses_filter, **settings)
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
                    path = Path(snapshot_dir) / f"snapshot_{snapshots}.png"
                    cv2.imwrite(str(path), out)
                    print(f"saved {path}", flush=True)
        finally:
            if writer is not None:
                writer.release()
            cv2.destroyWindow(title)
    return shown


def show_in_notebook(source=0, sunglasses_filter=None, max_frames=300, width=640, quality=80,
                     wait=False, **settings):
    """Run the stream inside a Jupyter notebook: an image widget updated in place, and a Stop
    button.

    Frames are processed in a background thread so the button stays responsive; ``wait=True``
    blocks until the stream ends. Stops after ``max_frames`` frames (None: never). Frames are
    shown ``width`` pixels wide as JPEG of the given ``quality``. Returns the thread; its
    ``.stop()`` ends the stream and ``.widget`` is the image widget.
    """
    import threading

    import ipywidgets as widgets
    from IPython.display import display

    sunglasses_filter = _filter(sunglasses_filter, **settings)
    video = VideoSource(source)  # open now, so a bad source raises here and not in the thread
    image = widgets.Image(format="jpeg", width=width)
    stop = widgets.Button(description="Stop", icon="stop")
    status = widgets.Label("starting...")
    display(widgets.VBox([image, widgets.HBox([stop, status])]))
    stopping = threading.Event()
    stop.on_click(lambda _: stopping.set())

    def loop():
        shown = 0
        try:
            for t, frame in video:
                if stopping.is_set() or (max_frames is not None and shown >= max_frames):
                    break
                out = sunglasses_filter.process(frame, None if video.camera else t)
                if out.shape[1] > width:
                    out = cv2.resize(out, (width, round(out.shape[0] * width / out.shape[1])),
                                     interpolation=cv2.INTER_AREA)
                jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
                image.value = jpeg.tobytes()
                shown += 1
                status.value = f"frame {shown}"
        except Exception as error:  # shown in the widget: a thread's traceback would be lost
            status.value = f"stopped by an error: {error!r}"
            raise
        else:
            status.value = f"done: {shown} frames"
        finally:
            video.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.stop = stopping.set
    thread.widget = image
    thread.start()
    if wait:
        thread.join()
    return thread
