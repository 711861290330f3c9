"""The live demo inside a Jupyter notebook.

:func:`show_in_notebook` reads a camera of the machine that runs the kernel (or a video file) and
shows the processed stream in an image widget, with a Stop button.
"""

import threading

import cv2
import ipywidgets as widgets
from IPython.display import display

from .video import VideoSource, as_filter


def show_in_notebook(source=0, sunglasses_filter=None, max_frames=300, width=640, quality=80,
                     wait=False, **settings):
    """Run the stream inside a Jupyter notebook: an image widget updated in place, and a Stop
    button.

    Frames are processed in a background thread so the button stays responsive; ``wait=True``
    blocks until the stream ends. Stops after ``max_frames`` frames (None: never). Frames are
    shown ``width`` pixels wide as JPEG of the given ``quality``. Returns the thread; its
    ``.stop()`` ends the stream and ``.widget`` is the image widget.
    """
    sunglasses_filter = as_filter(sunglasses_filter, **settings)
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
