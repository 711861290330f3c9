"""The live demo in a notebook, from the camera of the browser that shows the notebook.

:class:`BrowserCamera` is a notebook widget (an `anywidget <https://anywidget.dev>`_). Its
browser side (``browser_camera.js``, beside this file) opens the browser's camera
(``getUserMedia``), sends frames to the kernel as JPEG, and shows the processed frames that come
back. The kernel side runs the same live filter as the other demos
(:class:`~.video.SunglassesFilter`: faces followed between searches, smoothed keypoints,
sunglasses). Frames travel over the notebook's own connection to the kernel, so the widget works
the same whether the kernel runs on this laptop or far away (Colab, JupyterHub, a remote kernel).
:func:`.notebook.show_in_notebook` reads a camera of the machine that runs the kernel instead:
only useful when that machine is the one with the camera. (VS Code shows the widget but gives
notebook outputs no camera: there the widget says the permission was denied.)

The browser sends a frame only once the result of the previous one has come back, so a kernel
slower than the camera makes the browser skip camera frames: nothing queues up and the picture
stays live. Frames are at most ``width`` x ``height`` pixels (the camera's aspect ratio kept) and
JPEG of ``quality`` (0..1) both ways.

A camera the browser refuses (no camera, permission denied, a page that is not a secure context)
is told in the widget's status, and a frame the kernel fails on is told there too; the stream
goes on with the next frame.

This module needs ``anywidget`` (the ``notebooks`` extra); the package's top level does not import
it.
"""

import time
from collections import deque
from pathlib import Path

import anywidget
import cv2
import numpy as np
import traitlets
from IPython.display import display

from .video import as_filter

FPS_WINDOW = 2.0  # seconds of recent frames the frame rate is measured over


class BrowserCamera(anywidget.AnyWidget):
    """Sunglasses on the browser's camera stream: a processed picture, a Start/Stop button, the
    frame counter, the frame rate and a status line.

    ``sunglasses_filter``: a :class:`~.video.SunglassesFilter` (default: a new one with the
    default model and detector). The other arguments set the traits below.

    Synced traits (readable from the kernel, shown in the browser):

    * ``running``: True while the browser streams; the button toggles it, and so may the kernel.
    * ``width``, ``height``: the largest frame sent, in pixels (default 640 x 480).
    * ``quality``: JPEG quality of the frames both ways, 0..1 (default 0.7).
    * ``frames``: frames processed by the kernel since the widget was made.
    * ``faces``: faces found in the last processed frame.
    * ``fps``: processed frames per second over the last :data:`FPS_WINDOW` seconds: the whole
      round trip (camera, JPEG, transfer, filter, transfer back), 0 when stopped.
    * ``errors``: frames the kernel failed on.
    * ``status``: one line for a person: streaming, stopped, why the camera was refused, or the
      last frame the kernel failed on.
    """

    _esm = Path(__file__).with_name("browser_camera.js")
    _css = """
    .fk-camera { display: inline-flex; flex-direction: column; gap: 4px; font-size: 13px; }
    .fk-camera-picture { min-width: 320px; min-height: 240px; max-width: 100%; background: #222; }
    .fk-camera-bar { display: flex; gap: 12px; align-items: center; }
    .fk-camera-bar span { font-variant-numeric: tabular-nums; }
    .fk-camera-video { position: absolute; width: 1px; height: 1px; opacity: 0;
                       pointer-events: none; }
    """

    running = traitlets.Bool(False).tag(sync=True)
    width = traitlets.Int(640).tag(sync=True)
    height = traitlets.Int(480).tag(sync=True)
    quality = traitlets.Float(0.7).tag(sync=True)
    frames = traitlets.Int(0).tag(sync=True)
    faces = traitlets.Int(0).tag(sync=True)
    fps = traitlets.Float(0.0).tag(sync=True)
    errors = traitlets.Int(0).tag(sync=True)
    status = traitlets.Unicode("press Start to use this browser's camera").tag(sync=True)
    # The browser view whose camera streams (several views of one widget show the same frames).
    _camera_view = traitlets.Unicode("").tag(sync=True)

    def __init__(self, sunglasses_filter=None, **traits):
        super().__init__(**traits)
        self.sunglasses_filter = as_filter(sunglasses_filter)
        self._arrivals = deque()  # time.monotonic() of the recent processed frames
        self.on_msg(self._on_message)

    @traitlets.validate("width", "height")
    def _positive_size(self, proposal):
        if proposal["value"] < 16:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be at least 16 pixels, "
                                       f"not {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("quality")
    def _quality_range(self, proposal):
        if not 0 < proposal["value"] <= 1:
            raise traitlets.TraitError(f"quality must be in (0, 1], not {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("running")
    def _on_running(self, change):
        if not change["new"]:
            self.fps, self._camera_view = 0.0, ""
            self._arrivals.clear()

    def process_jpeg(self, jpeg):
        """One camera frame as JPEG bytes -> ``(processed frame as JPEG bytes, faces found)``.

        A frame larger than ``width`` x ``height`` is shrunk to fit first. Raises ValueError for
        bytes that are not an image OpenCV can decode.
        """
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"the kernel could not decode the frame ({len(jpeg)} bytes) as JPEG")
        scale = min(1.0, self.width / frame.shape[1], self.height / frame.shape[0])
        if scale < 1:
            size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        out = self.sunglasses_filter.process(frame)
        faces = len(self.sunglasses_filter.tracks)
        quality = [cv2.IMWRITE_JPEG_QUALITY, round(100 * self.quality)]
        ok, encoded = cv2.imencode(".jpg", out, quality)
        if not ok:
            raise ValueError("the kernel could not encode the processed frame as JPEG")
        return encoded.tobytes(), faces

    def _on_message(self, _widget, content, buffers):
        """A frame from the browser: ``content`` ``{"type": "frame", "view", "seq"}`` and the JPEG
        in ``buffers[0]``. Always answers (``"result"`` with the processed JPEG, or ``"error"``),
        so that the browser sends its next frame."""
        if not isinstance(content, dict) or content.get("type") != "frame":
            return
        reply = {"view": content.get("view"), "seq": content.get("seq")}
        try:
            if not buffers:
                raise ValueError("a frame message came without its JPEG")
            jpeg, faces = self.process_jpeg(bytes(buffers[0]))
        except Exception as error:  # one bad frame must not end the stream: tell, and go on
            message = f"frame {self.frames + self.errors + 1} failed in the kernel: {error}"
            with self.hold_sync():
                self.errors += 1
                self.status = message + " (the stream goes on)"
            self.send({**reply, "type": "error", "message": message})
            return
        with self.hold_sync():
            self.frames += 1
            self.faces = faces
            self.fps = self._measure_fps()
        self.send({**reply, "type": "result", "faces": faces}, buffers=[jpeg])

    def _measure_fps(self):
        """Frames per second over the last :data:`FPS_WINDOW` seconds, this frame included."""
        now = time.monotonic()
        self._arrivals.append(now)
        while now - self._arrivals[0] > FPS_WINDOW:
            self._arrivals.popleft()
        if len(self._arrivals) < 2:
            return 0.0
        return (len(self._arrivals) - 1) / max(now - self._arrivals[0], 1e-6)


def show_browser_camera(sunglasses_filter=None, width=640, height=480, quality=0.7, **settings):
    """Show a :class:`BrowserCamera` in the notebook and return it.

    Press its Start button to stream this browser's camera through the kernel's sunglasses filter.
    ``width``, ``height``: the largest frame sent, in pixels. ``quality``: JPEG quality, 0..1.
    ``settings`` go to :class:`~.video.SunglassesFilter` when no ``sunglasses_filter`` is given
    (e.g. ``predictor=...``).
    """
    camera = BrowserCamera(as_filter(sunglasses_filter, **settings), width=width, height=height,
                           quality=quality)
    display(camera)
    return camera
