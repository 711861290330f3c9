"""Frames per second of the whole sunglasses pipeline on a 640x480 video, three ways side by side.

    python benchmarks/pipeline.py                 # a table
    python benchmarks/pipeline.py --json          # ... and one JSON line at the end
    python benchmarks/pipeline.py --model models/keypoints.keras --seconds 3   # longer videos

Configurations (the same keypoint network in all three):

* ``original``: the original project's loop, rebuilt from its write-up: Haar cascade
  ``detectMultiScale(gray, 1.25, 6)`` on every full frame, one Keras ``model.predict`` per face,
  and its paste: glasses resized (no rotation) and copied where alpha > 0 (a hard mask; clipped at
  the border here, where the original crashed).
* ``compiled``: the same, but the model runs as one ``tf.function``-compiled call per frame.
* ``fast``: the package's own video path, as ``python -m facial_keypoints sunglasses
  video.mp4`` runs it: :class:`facial_keypoints.video.SunglassesFilter` (faces followed between
  full-frame searches, One-Euro smoothing, alpha-blended rotated glasses) with the model's float
  ONNX twin in ONNX Runtime.
* ``fast-int8``: the same with the model's 8-bit twin (``keypoints.int8.onnx``), which the
  command line uses by default when it is there. A ``.keras`` model with such a twin beside it
  is measured with that file; otherwise (a stand-in, a new model) one is made on the spot,
  calibrated on random crops: its keypoints are then meaningless, its time is not.

Videos: made on the spot by ``moving_faces.py`` from the photo bundled with matplotlib: one face,
and three faces of different sizes, all moving, turning and tilting.

Reported per configuration and video: end-to-end FPS (decoding included, display excluded),
milliseconds per frame in each stage (decode, detect, crop, keypoints, overlay, and "other": grey
conversion, bookkeeping, smoothing), and the start-up time to the first processed frame (a fresh
Python process: imports, model loading and the first frame). The ``fast`` stages come from the
filter's own per-frame ``timings``; FPS is measured in the same run.

A tracking check runs the ``fast`` tracker once more without smoothing and compares, frame by
frame, its face crops and keypoints with those of a full-resolution, full-frame YuNet detection of
the same frame.

Without a trained model (``models/keypoints.keras``) a stand-in is used: the untrained
``original`` network with its output layer set to the average face. It costs the same per call
and gives plausible keypoints, so timings and the tracking check are still meaningful.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import moving_faces  # noqa: E402
from facial_keypoints.video import VideoSource  # noqa: E402

CONFIGS = ("original", "compiled", "fast", "fast-int8")
STAGES = ("decode", "detect", "crop", "keypoints", "overlay", "other")
VIDEOS = {"one_face": moving_faces.ONE_FACE, "several_faces": moving_faces.SEVERAL_FACES}
GLASSES = ROOT / "images" / "sunglasses.png"
CASCADE = ROOT / "detector_architectures" / "haarcascade_frontalface_default.xml"


class Stopwatch:
    """Seconds spent in each stage, summed over a run."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


# ---------------------------------------------------------------- the original project's loop

class OriginalPipeline:
    """The original's per-frame work (see the module notes); ``compiled`` swaps the model call."""

    def __init__(self, keras_path, compiled=False, stopwatch=None):
        from facial_keypoints.architectures import load_model

        self.model = load_model(keras_path)
        self.cascade = cv2.CascadeClassifier(str(CASCADE))
        self.glasses = cv2.imread(str(GLASSES), cv2.IMREAD_UNCHANGED)
        self.stopwatch = stopwatch or Stopwatch()
        self.predict = self._compiled_predict() if compiled else self._predict_each

    def _predict_each(self, crops):
        return np.concatenate([self.model.predict(crop[None], verbose=0) for crop in crops])

    def _compiled_predict(self):
        import tensorflow as tf

        call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True,
                           input_signature=[tf.TensorSpec([None, 96, 96, 1], tf.float32)])
        return lambda crops: call(crops).numpy()

    def process(self, frame, timestamp=None):
        """One BGR frame -> the same frame with glasses pasted on every face (in place)."""
        clock = self.stopwatch
        with clock("other"):
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        with clock("detect"):
            boxes = np.reshape(self.cascade.detectMultiScale(gray, 1.25, 6), (-1, 4))
        if len(boxes) == 0:
            return frame
        with clock("crop"):
            crops = np.stack([cv2.resize(gray[y:y + h, x:x + w], (96, 96)) for x, y, w, h in boxes])
            crops = (crops / 255.0).astype(np.float32)[..., None]
        with clock("keypoints"):
            normalised = self.predict(crops).reshape(-1, 15, 2)
        with clock("overlay"):
            for (x, y, w, h), points in zip(boxes, normalised):
                # The original's mapping back to the photo: x * w/2 + w/2 + box_x.
                paste_hard(frame, points * [w / 2, h / 2] + [w / 2 + x, h / 2 + y], self.glasses)
        return frame


def paste_hard(frame, points, glasses):
    """The original's paste: ``glasses`` (BGRA) 1.2x the outer-eye-corner distance wide, centred
    between the inner eye corners, copied where alpha > 0. No rotation, no blending."""
    width = int(1.2 * np.hypot(*(points[3] - points[5])))
    height = int(width * glasses.shape[0] / glasses.shape[1])
    if width < 1 or height < 1:
        return
    resized = cv2.resize(glasses, (width, height))
    cx, cy = (points[2] + points[4]) / 2
    x0, y0 = int(cx - width / 2), int(cy - height / 2)
    left, top = max(x0, 0), max(y0, 0)
    right, bottom = min(x0 + width, frame.shape[1]), min(y0 + height, frame.shape[0])
    if right <= left or bottom <= top:
        return
    patch = resized[top - y0:bottom - y0, left - x0:right - x0]
    mask = patch[..., 3] > 0
    frame[top:bottom, left:right][mask] = patch[..., :3][mask]


# ---------------------------------------------------------------- the package's fast path

def fast_pipeline(onnx_path, smoothing=(1.0, 0.01)):
    """The CLI's video filter with ONNX Runtime. Its ``timings`` give the stages of each frame."""
    from facial_keypoints.predictor import OnnxPredictor
    from facial_keypoints.video import SunglassesFilter

    return SunglassesFilter(predictor=OnnxPredictor(onnx_path), glasses=GLASSES, show_fps=False,
                            smoothing=smoothing)


# ---------------------------------------------------------------- measuring

def make_pipeline(config, models, stopwatch=None):
    """An object with ``process(frame, t)`` for a configuration; the original's stages are timed
    into ``stopwatch``, the fast one's are read from its ``timings`` after each frame."""
    if config.startswith("fast"):
        return fast_pipeline(models["int8" if config == "fast-int8" else "onnx"])
    return OriginalPipeline(models["keras"], config == "compiled", stopwatch)


def measure(config, video, models):
    """Run one configuration over a video file: ``{"fps": ..., "stages_ms": {...}}``.

    The first frame is processed once beforehand (and the tracker reset) so that one-off
    compilation is left to the start-up figure.
    """
    stopwatch = Stopwatch()
    pipeline = make_pipeline(config, models, stopwatch)
    with VideoSource(video) as source:
        _, first = next(iter(source))
    pipeline.process(first.copy(), 0.0)
    getattr(pipeline, "reset", lambda: None)()
    stopwatch.seconds.clear()

    frames = 0
    with VideoSource(video) as source:
        start = time.perf_counter()
        reader = iter(source)
        while True:
            with stopwatch("decode"):
                item = next(reader, None)
            if item is None:
                break
            pipeline.process(item[1], item[0])
            for stage, seconds in getattr(pipeline, "timings", {}).items():
                stopwatch.seconds[stage] += seconds
            frames += 1
        total = time.perf_counter() - start
    per_frame = {stage: 1e3 * seconds / frames for stage, seconds in stopwatch.seconds.items()}
    unaccounted = 1e3 * total / frames - sum(per_frame.values())
    per_frame["other"] = per_frame.get("other", 0.0) + unaccounted
    return {"fps": round(frames / total, 1),
            "stages_ms": {stage: round(per_frame.get(stage, 0.0), 3) for stage in STAGES}}


def first_frame(config, video, models):
    """Child-process side of :func:`startup_seconds`: load, process one frame, print the time."""
    pipeline = make_pipeline(config, models)
    with VideoSource(video) as source:
        t, frame = next(iter(source))
        pipeline.process(frame, t)
    print(json.dumps({"done": time.time()}))


def startup_seconds(config, video, models):
    """Seconds from launching a fresh Python to its first processed frame (imports, model
    loading, first frame)."""
    start = time.time()
    command = [sys.executable, __file__, "--first-frame", config, "--video", str(video),
               "--keras", str(models["keras"]), "--onnx", str(models["onnx"]),
               "--int8", str(models["int8"])]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"start-up run of {config} failed:\n{result.stderr[-2000:]}")
    return round(json.loads(result.stdout.strip().splitlines()[-1])["done"] - start, 2)


def tracking_check(frames, tracker, fps=moving_faces.FPS, reference=None):
    """How closely a face-following ``SunglassesFilter`` agrees with full-frame detection.

    ``tracker``: a fresh filter, best without smoothing. On every frame, its followed faces are
    paired by IoU with a full-frame detection by ``reference`` (default: YuNet upright on the
    full-resolution frame). Returns the mean IoU of paired face boxes
    (:func:`facial_keypoints.crops.face_box` of each crop), the mean and 95th percentile distance
    in photo pixels between the keypoints predicted in each crop, and the share of detected faces
    the tracker was following.
    """
    from facial_keypoints.crops import face_box
    from facial_keypoints.detectors import YuNetDetector, iou
    from facial_keypoints.faces import predict_keypoints, to_gray
    from facial_keypoints.tracking import match_boxes

    reference = reference or YuNetDetector(side=None, angles=(0,))

    overlaps, distances, detected, followed = [], [], 0, 0
    for i, frame in enumerate(frames):
        points = tracker.keypoints(frame, i / fps)
        boxes = [track.box for track in tracker.tracks]
        gray = to_gray(frame)
        found = [face.transform() for face in reference.detect(frame)]
        pairs = match_boxes([face_box(t) for t in found], boxes)
        detected, followed = detected + len(found), followed + len(pairs)
        if pairs:
            expected_points, _ = predict_keypoints(gray, [found[j] for j, _ in pairs],
                                                   tracker.predictor)
            for (j, k), expected in zip(pairs, expected_points):
                overlaps.append(iou(face_box(found[j]), boxes[k]))
                distances.append(np.hypot(*(points[k] - expected).T).mean())
    if not overlaps:
        return {"mean_iou": 0.0, "keypoints_mean_px": None, "keypoints_p95_px": None,
                "followed_share": 0.0}
    return {"mean_iou": round(float(np.mean(overlaps)), 3),
            "keypoints_mean_px": round(float(np.mean(distances)), 2),
            "keypoints_p95_px": round(float(np.percentile(distances, 95)), 2),
            "followed_share": round(followed / max(detected, 1), 3)}


def prepare_models(model, folder):
    """``{"keras": path, "onnx": path, "int8": path}`` of the network to benchmark, written into
    ``folder`` (the 8-bit twin: the one beside the ``.keras`` file when there is one)."""
    from facial_keypoints.architectures import load_model
    from facial_keypoints.export import export_onnx, int8_path, quantize_int8

    if model and Path(model).suffix == ".keras":
        network = load_model(model)
    else:
        network = stand_in_model(model or "original")
    paths = {"keras": Path(folder) / "model.keras", "onnx": Path(folder) / "model.onnx"}
    network.save(paths["keras"])
    export_onnx(network, paths["onnx"])
    beside = int8_path(Path(model).with_suffix(".onnx")) if model else None
    if beside and beside.exists():
        paths["int8"] = beside
    else:
        random_crops = np.random.default_rng(0).random((64, 96, 96, 1), dtype=np.float32)
        paths["int8"], _ = quantize_int8(paths["onnx"], Path(folder) / "model.int8.onnx",
                                         random_crops, check=False)
    return paths


def stand_in_model(architecture):
    """An untrained network whose output layer gives (about) the average training face."""
    from facial_keypoints.architectures import get_model
    from facial_keypoints.crops import MEAN_KEYPOINTS
    from facial_keypoints.keypoints import to_normalised

    network = get_model(architecture)
    last = network.layers[-1]
    mean = to_normalised(MEAN_KEYPOINTS).reshape(-1)
    activation = last.get_config()["activation"]
    bias = np.arctanh(mean) if activation == "tanh" else mean
    kernel = last.get_weights()[0]
    last.set_weights([kernel * 0.01, bias.astype(np.float32)])
    return network


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_model = ROOT / "models" / "keypoints.keras"
    parser.add_argument("--model", default=str(default_model) if default_model.exists() else None,
                        help=".keras file, or an architecture name for an untrained stand-in "
                             "(default: models/keypoints.keras, else the 'original' stand-in)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each video")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--first-frame", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--video", help=argparse.SUPPRESS)
    parser.add_argument("--keras", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    parser.add_argument("--int8", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_frame:
        return first_frame(args.first_frame, args.video,
                           {"keras": args.keras, "onnx": args.onnx, "int8": args.int8})

    results = {"model": args.model or "untrained 'original' stand-in (average face)",
               "tracking": {}}
    with tempfile.TemporaryDirectory() as folder:
        models = prepare_models(args.model, folder)
        for video_name, faces in VIDEOS.items():
            frames, _ = moving_faces.make_frames(faces, args.seconds)
            video = moving_faces.write_video(frames, Path(folder) / f"{video_name}.mp4")
            results[video_name] = {}
            for config in CONFIGS:
                row = measure(config, video, models)
                row["startup_s"] = startup_seconds(config, video, models)
                results[video_name][config] = row
            tracker = fast_pipeline(models["int8"], smoothing=None)
            results["tracking"][video_name] = tracking_check(frames, tracker)
    results["fast_vs_original"] = round(results["one_face"]["fast-int8"]["fps"]
                                        / results["one_face"]["original"]["fps"], 1)
    print_table(results)
    if args.json:
        print(json.dumps(results))


def print_table(results):
    print(f"model: {results['model']}; 640x480 video; milliseconds per frame, display excluded\n")
    for video_name in VIDEOS:
        print(f"{video_name.replace('_', ' ')}:")
        print(f"{'':<10}{'FPS':>8}" + "".join(f"{s:>11}" for s in STAGES) + f"{'start-up s':>12}")
        for config, row in results[video_name].items():
            print(f"{config:<10}{row['fps']:>8.1f}"
                  + "".join(f"{row['stages_ms'][s]:>11.2f}" for s in STAGES)
                  + f"{row['startup_s']:>12.2f}")
        check = results["tracking"][video_name]
        print(f"tracking vs full-frame detection: mean IoU {check['mean_iou']:.3f}, keypoints "
              f"{check['keypoints_mean_px']} px mean / {check['keypoints_p95_px']} px p95, "
              f"following {check['followed_share']:.0%} of detected faces\n")
    print(f"fast-int8 (the default) vs original, one face: {results['fast_vs_original']}x the FPS")


if __name__ == "__main__":
    main()
