"""The command-line jobs on photos and videos: ``keypoints`` and ``sunglasses``.

Plain functions; ``python -m facial_keypoints`` parses the arguments and calls them.

* :func:`run_keypoints` prints the keypoints of every face of some photos, one JSON line per photo.
* :func:`run_sunglasses` puts sunglasses on a photo, a folder of photos, a video or a camera.
"""

import json
import os
import sys
from pathlib import Path

import cv2

from .detectors import load_detector
from .faces import find_keypoints
from .keypoints import named
from .paths import project_folder
from .predictor import load_predictor
from .sunglasses import as_glasses, put_sunglasses

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
ALPHA_SUFFIXES = {".png", ".tif", ".tiff", ".webp"}  # formats that may carry an alpha channel
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


SAMPLE_PHOTO = project_folder("images") / "grace_hopper.jpg"


def sample_photo():
    """Path of the photo used when none is given: Grace Hopper (a US Navy photo, public domain;
    the copy matplotlib ships), in ``images/``. Raises FileNotFoundError naming the path."""
    if not SAMPLE_PHOTO.is_file():
        raise FileNotFoundError(f"the bundled sample photo is missing: {SAMPLE_PHOTO}")
    return SAMPLE_PHOTO


def as_predictor(model):
    """``None`` (the shipped model), a model path, or a loaded predictor -> predictor."""
    if model is None or isinstance(model, (str, Path)):
        return load_predictor(model)
    return model


def image_paths(paths):
    """Expand files and folders into image files: a folder gives its images (not its subfolders),
    sorted by name, as ``folder/name``; files are kept as given, in order."""
    for path in paths:
        path = str(path)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    yield os.path.join(path, name)
        else:
            yield path


def read_image(path):
    """A photo as it is meant to be seen: BGR (or BGRA, or grey) uint8.

    Like ``cv2.imread``, but it raises a clear error naming the path instead of returning None,
    and it turns the pixels as the photo's EXIF orientation tag says (phones store portrait photos
    sideways and set that tag). PNG, TIFF and WebP files keep their alpha channel (and are read
    as stored).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    if Path(path).suffix.lower() in ALPHA_SUFFIXES:  # may have an alpha channel: keep it
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    else:  # these flags keep 16 bits and grey, and honour the EXIF orientation
        image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise ValueError(f"not an image OpenCV can read: {path}")
    if image.dtype != "uint8":  # 16-bit PNG or TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    return image


def keypoints_record(path, image, faces):
    """The JSON-ready result for one photo: its size and each face's box and named keypoints,
    in photo pixels (x, y)."""
    height, width = image.shape[:2]
    return {"image": str(path), "width": width, "height": height,
            "faces": [{"box": [round(float(v), 1) for v in face["box"]],
                       "score": face["score"], "angle": face["angle"],
                       "keypoints": {name: [round(x, 2), round(y, 2)]
                                     for name, (x, y) in named(face["keypoints"]).items()}}
                      for face in faces]}


def as_detector(detector, min_score=None):
    """``None`` (YuNet), a name (``"yunet"``, ``"haar"``) or a detector -> detector; with
    ``min_score``, a new detector by that name keeps faces from that score up (0..1)."""
    if detector is None or isinstance(detector, str):
        settings = {} if min_score is None or detector == "haar" else {"min_score": min_score}
        return load_detector(detector or "yunet", **settings)
    return detector


def run_keypoints(paths, model=None, as_json=True, refine=True, detector=None, out=None,
                  min_score=None):
    """``keypoints PATH... [--json]``: find the faces and keypoints of photos, printing as it goes.

    ``paths``: photos and folders of photos. With ``as_json``, one JSON object per photo per line::

        {"image": "photos/a.jpg", "width": 640, "height": 480,
         "faces": [{"box": [x, y, w, h], "score": 0.93, "angle": -2.4,
                    "keypoints": {"left_eye_center": [x, y], ...}}]}

    box and keypoints in photo pixels, score 0..1 (the detector's), angle in degrees clockwise.
    ``detector``: ``"yunet"`` (default), ``"haar"`` or a detector object; ``min_score``: drop
    faces scored lower. A file that cannot be read gives ``{"image": ..., "error": "..."}`` and
    the run goes on. Otherwise a short readable summary per photo. Returns the number of photos
    read successfully.
    """
    out = out or sys.stdout
    predictor = as_predictor(model)
    detector = as_detector(detector, min_score)
    done = 0
    for path in image_paths(paths):
        try:
            image = read_image(path)
        except (OSError, ValueError) as error:
            record = {"image": path, "error": str(error)}
        else:
            record = keypoints_record(path, image, find_keypoints(image, predictor, detector,
                                                                  refine=refine))
            done += 1
        print(json.dumps(record) if as_json else _summary(record), file=out, flush=True)
    return done


def _summary(record):
    if "error" in record:
        return f"{record['image']}: error: {record['error']}"
    lines = [f"{record['image']}: {record['width']}x{record['height']}, "
             f"{len(record['faces'])} face(s)"]
    for i, face in enumerate(record["faces"]):
        eyes = [face["keypoints"][n] for n in ("left_eye_center", "right_eye_center")]
        lines.append(f"  face {i}: box {face['box']}, score {face['score']:.2f}, eyes at "
                     + " and ".join(f"({x:.1f}, {y:.1f})" for x, y in eyes))
    return "\n".join(lines)


def run_sunglasses(input=None, output=None, model=None, glasses=None, refine=True,
                   detector=None, progress=True, min_score=None):
    """``sunglasses [INPUT] [-o OUTPUT]``: sunglasses on every face.

    ``input``: a photo (writes a photo), a folder of photos (writes a folder), a video file
    (writes an mp4v video), or a camera index such as ``0`` (opens a window: q quits, s saves a
    snapshot; with ``output`` the stream is also recorded). With no input, the bundled photo of
    Grace Hopper (``images/grace_hopper.jpg``). ``output`` defaults to ``sunglasses_<input name>``
    in the current folder. ``glasses``: any PNG with an alpha channel (default
    ``images/sunglasses.png``). ``detector``: ``"yunet"`` (default), ``"haar"`` or a detector
    object; ``min_score``: drop faces scored lower. ``refine``: the second keypoint pass on
    photos; videos and cameras need none, as their tracker already cuts each face from its
    keypoints of the frame before (:mod:`.tracking`). Prints where it wrote and returns that path
    (None for a camera without ``output``).
    """
    from . import video

    glasses = as_glasses(glasses)  # a bad glasses file fails before the model loads
    predictor = as_predictor(model)
    detector = as_detector(detector, min_score)
    if input is not None and video.is_camera(str(input)):
        video.show_window(int(input), output=output, predictor=predictor, glasses=glasses,
                          detector=detector)
        if output is not None:
            print(f"wrote {output}")
        return output

    source = Path(input) if input is not None else sample_photo()
    if not source.exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    if source.is_dir():
        output = Path(output or f"sunglasses_{source.resolve().name}")
        _sunglasses_folder(source, output, predictor, glasses, refine, detector, progress)
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        output = Path(output or f"sunglasses_{source.stem}.mp4")
        frames = video.write_video(source, output, predictor=predictor, glasses=glasses,
                                   show_fps=False, progress=progress, detector=detector)
        print(f"wrote {output} ({frames} frames)")
        return output
    else:
        output = Path(output or f"sunglasses_{source.name}")
        image = read_image(str(source))
        faces = find_keypoints(image, predictor, detector, refine=refine)
        _write_image(output, put_sunglasses(image, faces, glasses))
        print(f"wrote {output} ({len(faces)} face(s))")
        return output
    print(f"wrote {output}/")
    return output


def _sunglasses_folder(folder, output, predictor, glasses, refine, detector, progress):
    from tqdm.auto import tqdm

    output.mkdir(parents=True, exist_ok=True)
    paths = list(image_paths([folder]))
    for path in tqdm(paths, unit="photo", disable=not progress):
        try:
            image = read_image(path)
        except (OSError, ValueError) as error:
            tqdm.write(f"skipped {path}: {error}")
            continue
        faces = find_keypoints(image, predictor, detector, refine=refine)
        _write_image(output / Path(path).name, put_sunglasses(image, faces, glasses))


def _write_image(path, image):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write an image to {path} (is the file extension an image type?)")
