"""A notebook in a real browser: a Jupyter server, a headless Chromium with a fake camera, and the
few page actions the browser-camera test and benchmark need.

* :func:`fake_camera_video` writes the bundled photo as a short Y4M video, which Chromium then
  plays as its camera (``--use-file-for-fake-video-capture``).
* :func:`jupyter_server` runs JupyterLab (``"lab"``) or Notebook 7 (``"notebook"``) on a free
  port of 127.0.0.1 (a secure context, as the camera API needs), with a token, its own
  configuration and runtime folders, and no calls out (news, update checks); it is stopped when
  the ``with`` block ends, whatever happens.
* :func:`chromium` launches Debian's ``/usr/bin/chromium`` through Playwright (never Playwright's
  own browser downloads), headless, with or without the fake camera, in a fresh profile.
* :func:`open_notebook`, :func:`run_cell`, :func:`cell_output` and :func:`camera_counters` drive
  and read the page; both apps share JupyterLab's notebook DOM, so they work the same in each.

Sizes are pixels, times seconds (Playwright's own timeouts are milliseconds, converted here).
"""

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
PHOTO = PROJECT_DIR / "images" / "grace_hopper.jpg"  # the bundled sample photo: one face
CHROMIUM = Path("/usr/bin/chromium")
# Each app: the module that runs it, and the address of a notebook (relative to the root folder);
# JupyterLab's "reset" opens that notebook alone, not beside the tabs the last page left open.
APPS = {"lab": ("jupyterlab", "lab/tree/{}?reset&"), "notebook": ("notebook", "notebooks/{}?")}
# Chromium stays off the network (no Google services) and needs no sandbox (the tests run as root).
QUIET_CHROMIUM = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--no-default-browser-check"]


def camera_frame(size=(640, 480)):
    """The bundled photo (Grace Hopper, one face) as a camera would see it: a BGR frame of
    ``size`` = (width, height) pixels, the photo scaled to fit, on a grey background."""
    width, height = size
    photo = cv2.imread(str(PHOTO))
    if photo is None:
        raise FileNotFoundError(f"the bundled sample photo is missing: {PHOTO}")
    scale = min(width / photo.shape[1], height / photo.shape[0])
    photo = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
    frame[top:top + photo.shape[0], left:left + photo.shape[1]] = photo
    return frame


def fake_camera_video(path, size=(640, 480), frames=10):
    """Write :func:`camera_frame` as a Y4M video of ``frames`` still frames (30 per second) of
    ``size`` = (width, height) pixels, which Chromium loops as its camera. Returns the path."""
    width, height = size
    planes = cv2.cvtColor(camera_frame(size), cv2.COLOR_BGR2YUV_I420).tobytes()  # Y, U, then V
    with open(path, "wb") as file:
        file.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            file.write(b"FRAME\n" + planes)
    return Path(path)


def write_notebook(path, cells):
    """Write a notebook of code ``cells`` (source strings) for the ``python3`` kernel."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, str(path))
    return Path(path)


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterServer:
    """A running server: ``url`` (ending in ``/``), ``token``, ``root`` folder and ``log`` file."""

    def __init__(self, app, url, token, root, log):
        self.app, self.url, self.token, self.root, self.log = app, url, token, root, log

    def notebook_url(self, name):
        """The address that opens notebook ``name`` (in the root folder) in this app."""
        return self.url + APPS[self.app][1].format(name) + f"token={self.token}"

    def api(self, path, method="GET"):
        """Call ``/api/<path>`` of the server's REST API; its JSON answer (None if empty)."""
        request = urllib.request.Request(self.url + "api/" + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self):
        """End every notebook's session and kernel (the server goes on)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def log_tail(self, lines=30):
        """The last ``lines`` lines of the server's output, for error messages."""
        return "\n".join(Path(self.log).read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def jupyter_server(app, root, env=None, start_timeout=90):
    """Run JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) serving folder ``root`` and
    yield a :class:`JupyterServer`; the server (and its kernels) is stopped on leaving.

    The kernels import ``facial_keypoints`` from this checkout (it leads ``PYTHONPATH``).
    ``env``: extra environment variables for the server and its kernels. Raises RuntimeError with
    the end of the server's log if it does not answer within ``start_timeout`` seconds.
    """
    module = APPS[app][0]
    port, token = free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="jupyter-home-") as home:
        environment = {**os.environ, **(env or {}),
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR),
                                                                   os.environ.get("PYTHONPATH")])),
                       "JUPYTER_CONFIG_DIR": str(Path(home, "config")),
                       "JUPYTER_RUNTIME_DIR": str(Path(home, "runtime"))}
        log = Path(home, "server.log")
        command = [sys.executable, "-m", module, "--no-browser", "--allow-root", "--ip=127.0.0.1",
                   f"--port={port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                   "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--LabApp.extension_manager=readonly"]
        with open(log, "wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       env=environment, start_new_session=True)
        server = JupyterServer(app, f"http://127.0.0.1:{port}/", token, Path(root), log)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"jupyter {app} exited ({process.returncode}) at start:\n"
                                       + server.log_tail())
                try:
                    server.api("status")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"jupyter {app} did not answer on port {port} within "
                                           f"{start_timeout} s:\n" + server.log_tail()) from None
                    time.sleep(0.3)
            yield server
        finally:
            stop_process_group(process)


def stop_process_group(process, grace=10):
    """Stop ``process`` and everything it started (its own process group): SIGTERM, then SIGKILL
    after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait()


@contextlib.contextmanager
def chromium(camera_video=None, extra_args=()):
    """Yield a headless Chromium (a Playwright ``Browser``). ``camera_video``: a Y4M or MJPEG file
    it uses as its only camera, with camera permission granted; None: no fake camera and no
    automatic permission (a real machine without a camera, or a user saying no). Playwright gives
    each launch a fresh profile folder and closes the browser on leaving."""
    from playwright.sync_api import sync_playwright

    args = list(QUIET_CHROMIUM)
    if camera_video is not None:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera_video}"]
    args += list(extra_args)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=args)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(browser, server, name, timeout=60):
    """Open notebook ``name`` in a new page and wait until its kernel is idle and the cells are
    shown. Returns the Playwright ``Page``."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(timeout * 1000)
    page.goto(server.notebook_url(name))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    wait_until(lambda: kernel_idle(server, name), timeout,
               f"the kernel of {name} did not start within {timeout} s")
    return page


def kernel_idle(server, name):
    """True once the server has a kernel for notebook ``name`` and it is idle."""
    for session in server.api("sessions"):
        if session.get("path", "").endswith(name):
            return session["kernel"]["execution_state"] == "idle"
    return False


def cell(page, index):
    """The ``index``-th cell (0-based) of the open notebook."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index):
    """Run cell ``index`` as a person would: click into its editor, press Shift+Enter."""
    cell(page, index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def cell_output(page, index, pattern, timeout=60):
    """Wait until the output of cell ``index`` matches the regular expression ``pattern``; return
    the match."""
    output = cell(page, index).locator(".jp-OutputArea")
    found = []

    def matches():
        found[:] = [re.search(pattern, output.inner_text())]
        return found[0] is not None

    wait_until(matches, timeout, f"cell {index} did not print {pattern!r} within {timeout} s; "
                                 f"it shows: {output.inner_text()!r}")
    return found[0]


def camera_counters(page):
    """What the first browser-camera widget on the page shows: ``frames``, ``faces`` (ints),
    ``fps`` (float), ``status`` and ``button`` (texts); None before it is shown."""
    return page.evaluate("""() => {
        const root = document.querySelector(".fk-camera");
        if (!root) return null;
        const text = (name) => root.querySelector(".fk-camera-" + name).textContent;
        return {frames: parseInt(text("frames").replace(/\\D+/g, "")),
                faces: parseInt(text("faces").replace(/\\D+/g, "")),
                fps: parseFloat(text("fps")), status: text("status"), button: text("button")};
    }""")


def wait_until(condition, timeout, message, interval=0.25):
    """Call ``condition()`` until it is true; raise TimeoutError(``message``) after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(interval)
