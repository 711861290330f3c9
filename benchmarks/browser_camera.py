"""Frames per second of the browser-camera widget: browser camera -> kernel -> browser, at 640x480.

    python benchmarks/browser_camera.py                  # JupyterLab, 20 s of streaming
    python benchmarks/browser_camera.py --app notebook --seconds 30 --quality 0.5 --json

Everything runs on this machine, as in the tests (``tests/notebook_browser.py``): a Jupyter
server, a headless Chromium whose camera plays a still 640x480 video of the bundled photo (one
face), and a notebook that shows ``show_browser_camera(width, height, quality)``. The benchmark
presses Start, lets ``--warm-up`` frames pass, then counts the frames the kernel sends back over
``--seconds`` seconds (the widget's own counter): that is the round trip a person sees, with the
camera frame drawn and JPEG-encoded by the browser, sent over the notebook's websocket, decoded,
processed by the sunglasses filter and encoded again in the kernel, and sent back and shown.

It then stops the stream and times the kernel's share alone, in the same kernel:
``BrowserCamera.process_jpeg`` (JPEG decode, filter, JPEG encode) on the same frame, ``--calls``
times. Browser and kernel share the machine's cores, as they do when both run on a laptop.
Figures only, never asserts.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import cv2  # noqa: E402
from notebook_browser import (camera_counters, camera_frame, cell_output, chromium,  # noqa: E402
                              fake_camera_video, jupyter_server, open_notebook, run_cell,
                              wait_until, write_notebook)

SHOW_CELL = """from facial_keypoints.browser_camera import show_browser_camera
camera = show_browser_camera(width={width}, height={height}, quality={quality})"""
KERNEL_CELL = """import time
import cv2
quality = [cv2.IMWRITE_JPEG_QUALITY, {percent}]
frame = cv2.imencode(".jpg", cv2.imread("frame.png"), quality)[1].tobytes()
camera.sunglasses_filter.reset()
camera.process_jpeg(frame)  # the first frame searches the whole frame: not counted
start = time.perf_counter()
for _ in range({calls}):
    _, faces = camera.process_jpeg(frame)
print(f"kernel_ms={{(time.perf_counter() - start) / {calls} * 1e3:.2f}} faces={{faces}}")"""


def benchmark(app="lab", seconds=20.0, warm_up=20, width=640, height=480, quality=0.7, calls=100):
    """Run the widget in ``app`` and return its figures: round-trip FPS over ``seconds``, frames
    counted, faces in the last frame, and the kernel's milliseconds per frame."""
    with tempfile.TemporaryDirectory(prefix="browser-camera-") as root:
        root = Path(root)
        video = fake_camera_video(root / "camera.y4m", (width, height))
        cv2.imwrite(str(root / "frame.png"), camera_frame((width, height)))
        write_notebook(root / "benchmark.ipynb", [
            SHOW_CELL.format(width=width, height=height, quality=quality),
            KERNEL_CELL.format(percent=round(100 * quality), calls=calls)])
        with jupyter_server(app, root) as server, chromium(camera_video=video) as browser:
            page = open_notebook(browser, server, "benchmark.ipynb")
            run_cell(page, 0)
            page.locator(".fk-camera-button", has_text="Start").click()
            wait_until(lambda: camera_counters(page)["frames"] >= warm_up, 120,
                       f"fewer than {warm_up} frames came back within 120 s: "
                       f"{camera_counters(page)}")
            first, start = camera_counters(page)["frames"], time.monotonic()
            time.sleep(seconds)
            last = camera_counters(page)
            elapsed = time.monotonic() - start
            page.locator(".fk-camera-button", has_text="Stop").click()
            run_cell(page, 1)
            kernel = cell_output(page, 1, r"kernel_ms=([\d.]+) faces=(\d+)", timeout=120)
    frames = last["frames"] - first
    return {"app": app, "size": f"{width}x{height}", "quality": quality,
            "round_trip_fps": round(frames / elapsed, 1), "frames": frames,
            "seconds": round(elapsed, 1), "faces": last["faces"], "status": last["status"],
            "kernel_ms": float(kernel.group(1)),
            "kernel_fps": round(1e3 / float(kernel.group(1)), 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=["lab", "notebook"], default="lab",
                        help="JupyterLab or Notebook 7")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of streaming counted")
    parser.add_argument("--warm-up", type=int, default=20, help="frames before counting starts")
    parser.add_argument("--width", type=int, default=640, help="camera and frame width, pixels")
    parser.add_argument("--height", type=int, default=480, help="camera and frame height, pixels")
    parser.add_argument("--quality", type=float, default=0.7, help="JPEG quality, 0..1")
    parser.add_argument("--calls", type=int, default=100, help="timed kernel-only frames")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args(argv)

    result = benchmark(args.app, args.seconds, args.warm_up, args.width, args.height,
                       args.quality, args.calls)
    print(f"{result['app']}, {result['size']} frames, JPEG quality {result['quality']}: "
          f"{result['round_trip_fps']} frames per second round trip "
          f"({result['frames']} frames in {result['seconds']} s, {result['faces']} face(s) in the "
          f"last); the kernel alone: {result['kernel_ms']:.1f} ms per frame "
          f"({result['kernel_fps']} frames per second)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
