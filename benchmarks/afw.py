"""How well the whole photo -> keypoints path works on real photos (AFW, 68-point annotations).

    python benchmarks/afw.py                       # every setting, upright photos
    python benchmarks/afw.py --turned 90 180 270 30 -30 45 -45 60 -60   # photos turned
    python benchmarks/afw.py --settings yunet --json
    python benchmarks/afw.py --settings yunet "yunet, mirror look"   # what the mirror look buys
    python benchmarks/afw.py --jitter              # how far its crops are from truly aligned ones

Each setting runs the package's own path on the 185 AFW photos (337 annotated faces): detection,
crops, the keypoint model (with the refinement pass), keypoints mapped back to the photo:

* ``haar``: the original's detector, Haar (1.1, 5), upright square crops of its boxes;
* ``yunet, box crops``: YuNet's faces, but cut as upright squares around its boxes (no alignment);
* ``yunet``: the default, :func:`facial_keypoints.find_keypoints`: YuNet at any angle, crops
  aligned on its landmarks, a second look at each face cut from its first keypoints, faces the
  keypoint model doubts dropped;
* ``yunet, mirror look``: as ``yunet``, but the last look at each face also sees it mirrored
  and averages the two, less the model's mirror bias (``find_keypoints(..., flip_average=True)``).

A returned face belongs to an annotated face when the face's two eye centres and mouth centre lie
inside its box (best overlap with the face's landmark box first, one face per annotation); faces
nobody annotated are not counted as errors. Per setting:

* found: share of the annotated faces that got a face;
* NME: mean distance over the 15 keypoints / distance between the true eye centres (photo pixels
  both), mean and median over the faces found;
* success@0.10: share of *all* annotated faces found with an NME under 0.10;
* faces per photo: how many faces the path returned per photo (annotated: 1.82);
* ms per photo: median time of the whole path per photo at its original size, decoding excluded;
* detect: the share of all that time spent in the detector's ``detect`` (finding the faces).

``--turned A ...`` turns every photo by each angle (degrees counter-clockwise on screen; the canvas
grows so that nothing is cut, and the annotations turn with it) and reports the same figures per
angle for one setting (default ``yunet``).

The data is not part of the project; see its README for the 68 -> 15 point mapping used here.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facial_keypoints import crops  # noqa: E402
from facial_keypoints.detectors import HaarDetector, YuNetDetector  # noqa: E402
from facial_keypoints.faces import find_keypoints, predict_keypoints, to_gray  # noqa: E402
from facial_keypoints.keypoints import LEFT_EYE, RIGHT_EYE  # noqa: E402
from facial_keypoints.predictor import load_predictor  # noqa: E402
from facial_keypoints.timing import timed  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "afw-68-points"
SETTINGS = ("haar", "yunet, box crops", "yunet", "yunet, mirror look")
# The settings that run find_keypoints itself, and how.
WHOLE_PATH = {"yunet": dict(flip_average=False), "yunet, mirror look": dict(flip_average=True)}


def kaggle_points(points68):
    """``(68, 2)`` 0-based 300-W points -> ``(15, 2)`` Kaggle keypoints (the data README's map)."""
    p = points68
    return np.array([
        p[42:48].mean(0), p[36:42].mean(0),  # left, right eye centre
        p[42], p[45], p[39], p[36],  # left eye inner, outer; right eye inner, outer
        p[22], p[26], p[21], p[17],  # left brow inner, outer; right brow inner, outer
        (p[30] + p[33]) / 2,  # nose tip
        p[54], p[48], p[51], p[66],  # mouth left, right, top lip, bottom lip
    ], dtype=np.float64)


def read_pts(path):
    """A 300-W ``.pts`` file (with or without its header) -> ``(68, 2)`` 0-based photo pixels."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.replace(",", " ").split()
        try:
            rows.append([float(parts[0]), float(parts[1])])
        except (IndexError, ValueError):
            continue  # header lines: "version: 1", "n_points: 68", "{", "}"
    points = np.array(rows, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"{path}: expected 68 points, got {len(points)}")
    return points - 1.0  # 1-based -> 0-based pixel centres


def load_faces(data):
    """Photo path -> list of annotated faces, each ``{"points": (15, 2), "all": (68, 2)}``."""
    photos = {}
    for pts in sorted((data / "annotations").glob("*.pts")):
        photo_id = pts.stem.rsplit("_", 1)[0]
        all_points = read_pts(pts)
        photos.setdefault(data / "images" / f"{photo_id}.jpg", []).append(
            {"points": kaggle_points(all_points), "all": all_points})
    return photos


def box_iou(a, b):
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    w, h = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)


def match(faces, boxes):
    """Pair annotated faces with detections: list of ``(face index, box index)``."""
    candidates = []
    for i, face in enumerate(faces):
        p = face["all"]
        must_contain = [face["points"][LEFT_EYE], face["points"][RIGHT_EYE], p[48:68].mean(0)]
        landmark_box = (*p.min(0), *p.max(0))
        for j, (x, y, w, h) in enumerate(boxes):
            if all(x <= px <= x + w and y <= py <= y + h for px, py in must_contain):
                candidates.append((box_iou(landmark_box, (x, y, x + w, y + h)), i, j))
    pairs, used_faces, used_boxes = [], set(), set()
    for _, i, j in sorted(candidates, reverse=True):
        if i not in used_faces and j not in used_boxes:
            used_faces.add(i), used_boxes.add(j)
            pairs.append((i, j))
    return pairs


def nme(predicted, truth):
    """Mean keypoint distance / distance between the true eye centres (both photo pixels)."""
    distance = np.linalg.norm(predicted - truth, axis=1).mean()
    return distance / np.linalg.norm(truth[LEFT_EYE] - truth[RIGHT_EYE])


def turn(image, faces, angle):
    """The photo turned by ``angle`` degrees counter-clockwise on screen on a canvas grown to
    hold all of it, and its annotations turned with it."""
    if not angle:
        return image, faces
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w = int(np.ceil(height * sin + width * cos))
    new_h = int(np.ceil(height * cos + width * sin))
    matrix[:, 2] += ((new_w - 1) / 2 - (width - 1) / 2, (new_h - 1) / 2 - (height - 1) / 2)
    turned = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT)
    return turned, [{key: crops.apply(matrix, f[key]) for key in ("points", "all")} for f in faces]


def run_setting(name, image, predictor, detectors):
    """One setting on one photo: a list of ``(box, keypoints)`` in photo pixels."""
    if name in WHOLE_PATH:
        faces = find_keypoints(image, predictor, detectors["yunet"], **WHOLE_PATH[name])
        return [(f["box"], f["keypoints"]) for f in faces]
    found = detectors["haar" if name == "haar" else "yunet"].detect(image)
    transforms = []
    for face in found:
        x, y, w, h = face.box
        side = round(max(w, h))
        transforms.append(crops.from_box((round(x + w / 2 - side / 2), round(y + h / 2 - side / 2),
                                          side, side)))
    points, _ = predict_keypoints(to_gray(image), transforms, predictor, refine=True)
    return [(f.box, p) for f, p in zip(found, points)]


def evaluate(photos, predictor, settings, angle=0, progress=True, yunet=None):
    """Every setting on every photo (turned by ``angle``): per setting the NME of each annotated
    face (NaN where not found), the seconds per photo and the faces returned per photo.
    ``yunet``: settings for :class:`YuNetDetector` (default: its defaults)."""
    from tqdm import tqdm

    detectors = {"haar": HaarDetector(), "yunet": YuNetDetector(**(yunet or {}))}
    finding = {}  # seconds spent in the detectors' own detect(), for the share it takes
    for detector in detectors.values():
        detector.detect = timed_calls(detector.detect, finding)
    n_faces = sum(len(f) for f in photos.values())
    errors = {name: np.full(n_faces, np.nan) for name in settings}
    seconds = {name: [] for name in settings}
    detecting = {name: 0.0 for name in settings}
    returned = {name: [] for name in settings}
    first = 0
    for path, faces in tqdm(photos.items(), unit="photo", disable=not progress):
        image, faces = turn(cv2.imread(str(path)), faces, angle)
        for name in settings:
            finding.clear()
            start = time.perf_counter()
            found = run_setting(name, image, predictor, detectors)
            seconds[name].append(time.perf_counter() - start)
            detecting[name] += finding.get("detect", 0.0)
            returned[name].append(len(found))
            for i, j in match(faces, [box for box, _ in found]):
                errors[name][first + i] = nme(found[j][1], faces[i]["points"])
        first += len(faces)
    return errors, seconds, returned, detecting


def timed_calls(detect, timings):
    """``detect``, adding the seconds each call takes to ``timings["detect"]``."""
    def timed_detect(image):
        with timed(timings, "detect"):
            return detect(image)
    return timed_detect


def summarise(errors, seconds, returned, detecting, angle=0):
    rows = []
    for name, e in errors.items():
        found = np.isfinite(e)
        rows.append({
            "setting": name, "angle": angle, "faces": int(len(e)), "found": float(found.mean()),
            "nme_mean": float(np.mean(e[found])) if found.any() else None,
            "nme_median": float(np.median(e[found])) if found.any() else None,
            "success_010": float(np.mean(np.nan_to_num(e, nan=np.inf) < 0.10)),
            "success_010_of_found": float(np.mean(e[found] < 0.10)) if found.any() else None,
            "faces_per_photo": float(np.mean(returned[name])),
            "ms_per_photo_median": 1000 * float(np.median(seconds[name])),
            "detect_share": detecting[name] / sum(seconds[name]),
        })
    return rows


def doubt_report(photos, predictor):
    """How far the keypoints land from the detector's landmarks (:func:`~facial_keypoints.faces.
    doubt`), for the faces YuNet finds that match an annotated face and for the others; and how
    many of each a threshold would drop."""
    from facial_keypoints.faces import MAX_DOUBT, doubt

    detector = YuNetDetector()
    annotated, others = [], []
    for path, faces in photos.items():
        image = cv2.imread(str(path))
        found = detector.detect(image)
        points, _ = predict_keypoints(to_gray(image), [f.transform() for f in found], predictor,
                                      refine=True)
        matched = {j for _, j in match(faces, [f.box for f in found])}
        for j, (face, p) in enumerate(zip(found, points)):
            (annotated if j in matched else others).append(doubt(p, face.landmarks))
    annotated, others = np.array(annotated), np.array(others)
    print(f"doubt of {len(annotated)} annotated faces, percentiles 50/90/99/100: "
          f"{np.percentile(annotated, [50, 90, 99, 100]).round(3)}")
    print(f"doubt of {len(others)} other faces, percentiles 10/50/90: "
          f"{np.percentile(others, [10, 50, 90]).round(3)}")
    for threshold in (0.3, 0.4, MAX_DOUBT, 0.6):
        print(f"threshold {threshold}: drops {(annotated > threshold).sum()} annotated faces and "
              f"{(others > threshold).sum()} others")


def jitter_report(photos, predictor):
    """How far the photo path's crops are from crops aligned on the true keypoints: per matched
    face, the similarity from the path's crop to the true crop (:func:`~facial_keypoints.crops.
    from_keypoints` of the annotation), for the first cut (from the detector's landmarks) and the
    refined one (from the first keypoints): its angle (degrees), scale - 1 and the shift of the
    crop centre (crop pixels). This is the jitter a model trained on aligned crops must stand."""
    detector = YuNetDetector()
    rows = {"first cut": [], "refined cut": []}
    centre = (crops.IMAGE_SIZE - 1) / 2
    for path, faces in photos.items():
        image = cv2.imread(str(path))
        found = detector.detect(image)
        first = [f.transform() for f in found]
        _, refined = predict_keypoints(to_gray(image), first, predictor, refine=True)
        for i, j in match(faces, [f.box for f in found]):
            truth = crops.from_keypoints(faces[i]["points"])
            for name, transform in (("first cut", first[j]), ("refined cut", refined[j])):
                relative = crops.compose(truth, crops.invert(transform))
                shift = crops.apply(relative, [[centre, centre]])[0] - centre
                rows[name].append((crops.angle_of(relative), crops.scale_of(relative) - 1, *shift))
    print(f"{'crop':<12} {'faces':>5} {'angle sd':>9} {'|angle| 95%':>11} {'scale-1 mean':>12} "
          f"{'sd':>6} {'|scale-1| 95%':>13} {'shift x, y sd':>14} {'|shift| 95%':>12}")
    for name, values in rows.items():
        v = np.array(values)
        p95 = np.percentile(np.abs(v), 95, axis=0)
        print(f"{name:<12} {len(v):>5} {v[:, 0].std():>8.2f}° {p95[0]:>10.1f}° "
              f"{v[:, 1].mean():>12.3f} {v[:, 1].std():>6.3f} {p95[1]:>13.3f} "
              f"{v[:, 2].std():>6.2f}, {v[:, 3].std():>5.2f} "
              f"{p95[2]:>5.1f}, {p95[3]:>4.1f}")


def print_table(rows):
    header = (f"{'setting':<18} {'angle':>5} {'found':>7} {'NME mean':>9} {'median':>8} "
              f"{'success@0.10':>13} {'faces/photo':>12} {'ms/photo':>9} {'detect':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if v is not None else "-"  # noqa: E731
        print(f"{r['setting']:<18} {r['angle']:>5} {r['found']:>7.1%} {fmt(r['nme_mean']):>9} "
              f"{fmt(r['nme_median']):>8} {r['success_010']:>13.3f} "
              f"{r['faces_per_photo']:>12.2f} {r['ms_per_photo_median']:>9.1f} "
              f"{r['detect_share']:>7.0%}")
    print(f"\n{rows[0]['faces']} annotated faces; success@0.10: share of all of them found with "
          "NME < 0.10; ms/photo: median, decoding excluded; detect: share of all the time spent "
          "finding the faces (the rest: crops, keypoint model, checks of its doubts).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with images/ and annotations/ (default: %(default)s)")
    parser.add_argument("--model", default=None,
                        help="keypoint model (default: the shipped models/keypoints.onnx)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=None, metavar="NAME",
                        help=f"which of {', '.join(SETTINGS)} (default: all; with --turned: yunet)")
    parser.add_argument("--turned", nargs="+", type=float, default=None, metavar="DEGREES",
                        help="turn every photo by each of these angles (counter-clockwise)")
    parser.add_argument("--yunet", nargs="+", default=[], metavar="NAME=VALUE",
                        help="YuNetDetector settings, e.g. turned_side=320 check_pixels=128")
    parser.add_argument("--doubt", action="store_true",
                        help="report how the keypoints agree with the detector's landmarks")
    parser.add_argument("--jitter", action="store_true",
                        help="report how far the path's crops are from truly aligned ones")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    if not (args.data / "annotations").is_dir():
        parser.error(f"no AFW data at {args.data} (expected {args.data / 'annotations'})")
    photos = load_faces(args.data)
    if args.limit:
        photos = dict(list(photos.items())[:args.limit])
    predictor = load_predictor(args.model)
    if args.doubt:
        return doubt_report(photos, predictor)
    if args.jitter:
        return jitter_report(photos, predictor)
    settings = args.settings or (["yunet"] if args.turned else list(SETTINGS))
    rows = []
    for angle in args.turned or [0]:
        angle = int(angle) if float(angle).is_integer() else angle
        yunet = {name: json.loads(value) for name, value in
                 (item.split("=", 1) for item in args.yunet)}
        errors, seconds, returned, detecting = evaluate(photos, predictor, settings, angle,
                                                        progress=not args.json, yunet=yunet)
        rows += summarise(errors, seconds, returned, detecting, angle)
    if args.json:
        print(json.dumps({"data": str(args.data), "model": str(predictor.path),
                          "photos": len(photos), "results": rows}))
    else:
        print(f"model: {predictor.path}, {len(photos)} photos\n")
        print_table(rows)


if __name__ == "__main__":
    main()
