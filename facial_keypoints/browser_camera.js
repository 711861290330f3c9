// The browser side of facial_keypoints.browser_camera.BrowserCamera (an anywidget ES module).
//
// Start opens this browser's camera (getUserMedia), and frames go to the kernel as JPEG: at most
// `width` x `height` pixels (the camera's aspect ratio kept), of JPEG `quality` (0..1). A new
// frame is sent only once the kernel has answered the last one, so a slow kernel makes the
// browser skip camera frames instead of queueing them. The kernel answers each frame with
// {type: "result", view, seq, faces} and the processed JPEG, or {type: "error", view, seq,
// message}; the counters (frames, faces, fps) and the status line are synced traits. While the
// kernel works on one frame the browser encodes the next (one at most, timed to be ready when the
// answer is due), so encoding and processing overlap and no frame waits long.
//
// The same widget may be shown more than once (e.g. `show_browser_camera()` as a cell's last
// line): only the view whose Start was pressed uses its camera (trait `_camera_view`); every view
// shows the processed frames.

const KERNEL_PATIENCE_MS = 10000; // without an answer for this long, say so and send a new frame
const PERMISSION_PATIENCE_MS = 8000; // a camera prompt unanswered for this long gets a hint

function cameraError(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return "camera refused: permission denied (allow the camera for this page, then press Start)";
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return "camera refused: this browser finds no camera";
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return "camera refused: the camera could not be started (is another program using it?)";
  }
  return `camera refused: ${name || "error"}: ${(error && error.message) || error}`;
}

function noCameraApi() {
  if (!window.isSecureContext) {
    return "camera unavailable: this page is not a secure context; open Jupyter over https:// or on http://localhost";
  }
  return "camera unavailable: this browser has no camera API (navigator.mediaDevices.getUserMedia)";
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el }) {
  const viewId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

  const root = element("div", "fk-camera", el);
  const picture = element("img", "fk-camera-picture", root);
  picture.alt = "processed camera frames appear here";
  const bar = element("div", "fk-camera-bar", root);
  const button = element("button", "fk-camera-button jupyter-button", bar);
  const frames = element("span", "fk-camera-frames", bar);
  const faces = element("span", "fk-camera-faces", bar);
  const fps = element("span", "fk-camera-fps", bar);
  const status = element("div", "fk-camera-status", root);
  const video = element("video", "fk-camera-video", root); // the camera's frames, not shown
  video.muted = true;
  video.playsInline = true;
  const canvas = document.createElement("canvas");

  let stream = null; // the open camera, or null
  let opening = false; // getUserMedia asked, not answered yet
  let waiting = false; // a frame is at the kernel, its answer not back yet
  let ready = null; // the next frame, encoded (an ArrayBuffer of JPEG), until the kernel is free
  let encoding = false; // the next frame is being encoded
  let encodeTimer = null; // when the encoding of the next frame starts
  let generation = 0; // counts camera closings: an encoding that outlived its camera is dropped
  let seq = 0; // number of the last frame sent
  let sentAt = 0; // when it was sent, performance.now() milliseconds
  let roundTripMs = 0; // running averages: frame sent -> answer back, and encoding a frame
  let encodeMs = 0;
  let watchdog = null;
  let pictureUrl = null;

  function setStatus(text) {
    model.set("status", text);
    model.save_changes();
  }

  function setRunning(running) {
    model.set("running", running);
    if (running) model.set("_camera_view", viewId);
    model.save_changes();
  }

  function mine() {
    return model.get("running") && model.get("_camera_view") === viewId;
  }

  function showCounters() {
    const running = model.get("running");
    button.textContent = running ? "Stop" : "Start";
    frames.textContent = `frames ${model.get("frames")}`;
    faces.textContent = `faces ${model.get("faces")}`;
    fps.textContent = `${model.get("fps").toFixed(1)} fps`;
    status.textContent = model.get("status");
  }

  async function openCamera() {
    if (stream || opening) return;
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      setRunning(false);
      setStatus(noCameraApi());
      return;
    }
    opening = true;
    setStatus("opening the camera...");
    const hint = setTimeout(() => {
      if (opening) setStatus("waiting for the browser's camera permission: answer its prompt");
    }, PERMISSION_PATIENCE_MS);
    let opened = null;
    try {
      const width = model.get("width");
      const height = model.get("height");
      opened = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { width: { ideal: width }, height: { ideal: height } },
      });
      if (!mine()) { // stopped (or taken over) while the prompt was open
        opened.getTracks().forEach((track) => track.stop());
        return;
      }
      stream = opened;
      stream.getVideoTracks().forEach((track) => track.addEventListener("ended", () => {
        if (stream !== opened) return;
        closeCamera();
        setRunning(false);
        setStatus("the camera stopped (unplugged, or taken by another program): press Start");
      }));
      video.srcObject = stream;
      await video.play();
      if (stream !== opened) return; // stopped while the video was starting
      setStatus("streaming");
      encodeNext();
    } catch (error) {
      opening = false;
      if (opened && stream !== opened) return; // stopped while starting: not a camera fault
      closeCamera();
      setRunning(false);
      setStatus(cameraError(error)); // after the change of `running`, which says "stopped"
    } finally {
      opening = false;
      clearTimeout(hint);
    }
  }

  function closeCamera() {
    generation += 1;
    clearTimeout(watchdog);
    clearTimeout(encodeTimer);
    waiting = false;
    encoding = false;
    ready = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
  }

  function average(old, value) {
    return old ? 0.8 * old + 0.2 * value : value;
  }

  // Grab the camera's current picture as the next frame (at most width x height, JPEG), then
  // send it as soon as the kernel is free.
  function encodeNext() {
    clearTimeout(encodeTimer);
    if (!stream || encoding || ready) return;
    if (!video.videoWidth) { // no picture yet
      encodeTimer = setTimeout(encodeNext, 50);
      return;
    }
    encoding = true;
    const started = performance.now();
    const current = generation;
    const scale = Math.min(1, model.get("width") / video.videoWidth, model.get("height") / video.videoHeight);
    canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
    canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(async (blob) => {
      const jpeg = blob ? await blob.arrayBuffer() : null;
      if (current !== generation) return; // the camera was closed meanwhile
      encoding = false;
      if (!jpeg) {
        encodeTimer = setTimeout(encodeNext, 50);
        return;
      }
      encodeMs = average(encodeMs, performance.now() - started);
      ready = jpeg;
      sendReady();
    }, "image/jpeg", model.get("quality"));
  }

  // Send the encoded frame if no other is at the kernel. The frame after it is encoded while the
  // kernel works, timed to be ready (and fresh) when the kernel's answer is due.
  function sendReady() {
    if (!stream || waiting || !ready || !mine()) return;
    const jpeg = ready;
    ready = null;
    waiting = true;
    seq += 1;
    sentAt = performance.now();
    model.send({ type: "frame", view: viewId, seq }, undefined, [jpeg]);
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      setStatus(`no answer from the kernel for ${KERNEL_PATIENCE_MS / 1000} s `
        + "(busy with a cell, or restarted?): trying again");
      waiting = false;
      if (ready) sendReady();
      else encodeNext();
    }, KERNEL_PATIENCE_MS);
    clearTimeout(encodeTimer);
    encodeTimer = setTimeout(encodeNext, Math.max(0, roundTripMs - encodeMs));
  }

  function onMessage(message, buffers) {
    if (!message || (message.type !== "result" && message.type !== "error")) return;
    if (message.type === "result" && buffers && buffers.length) {
      const url = URL.createObjectURL(new Blob([buffers[0]], { type: "image/jpeg" }));
      picture.src = url;
      if (pictureUrl) URL.revokeObjectURL(pictureUrl);
      pictureUrl = url;
    }
    if (message.view !== viewId || message.seq !== seq || !waiting) return; // not for this view, or stale
    clearTimeout(watchdog);
    waiting = false;
    roundTripMs = average(roundTripMs, performance.now() - sentAt);
    if (stream && model.get("status").startsWith("no answer from the kernel")) setStatus("streaming");
    if (ready) sendReady();
    else encodeNext(); // (if it is being encoded, it is sent when done)
  }

  function follow() {
    if (mine()) {
      openCamera();
    } else if (stream || opening) {
      closeCamera();
      if (!model.get("running")) setStatus("stopped");
    }
  }

  function onRunning() {
    // Started from the kernel (camera.running = True): the first view to notice takes the camera.
    if (model.get("running") && !model.get("_camera_view")) setRunning(true);
    follow();
  }

  button.addEventListener("click", () => setRunning(!model.get("running")));
  model.on("msg:custom", onMessage);
  model.on("change:running", onRunning);
  model.on("change:_camera_view", follow);
  const counters = ["running", "frames", "faces", "fps", "status"];
  counters.forEach((name) => model.on(`change:${name}`, showCounters));
  showCounters();
  onRunning();

  return () => { // the view is removed (output cleared, cell run again, notebook closed)
    const wasMine = mine();
    closeCamera();
    model.off("msg:custom", onMessage);
    model.off("change:running", onRunning);
    model.off("change:_camera_view", follow);
    counters.forEach((name) => model.off(`change:${name}`, showCounters));
    if (pictureUrl) URL.revokeObjectURL(pictureUrl);
    if (wasMine) {
      try {
        setRunning(false);
      } catch (error) { // the widget itself is gone (kernel restarted, widget closed)
      }
    }
  };
}

export default { render };
