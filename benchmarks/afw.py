"""How well the whole photo -> keypoints path works on real photos (AFW, 68-point annotations).

    python benchmarks/afw.py [--data ../shared/data/afw-68-points] [--model models/keypoints.keras]
                             [--limit N] [--json]

For each setting (Haar detector settings, with and without the refinement pass) it runs the
package's own path on the 185 AFW photos: detection, crops, one model call per photo, keypoints
mapped back to the photo. A detection belongs to an annotated face when the face's two eye centres
and mouth centre lie inside its box (best overlap with the face's landmark box first, one detection
per face); detections of faces nobody annotated are ignored. Per setting it reports:

* found: share of the annotated faces that got a detection,
* NME: mean distance over the 15 keypoints / distance between the eye centres (photo pixels both),
  mean and median over found faces, and the mean over the faces every setting found ("common"),
  so that settings compare on the same faces,
* the mean detection time per photo.

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

from facial_keypoints.faces import HaarDetector, predict_keypoints, to_gray  # noqa: E402
from facial_keypoints.keypoints import LEFT_EYE, RIGHT_EYE  # noqa: E402
from facial_keypoints.predictor import load_predictor  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "afw-68-points"

# name -> (scale factor, min neighbours, refinement pass)
SETTINGS = {
    "original (1.25, 6)": (1.25, 6, False),
    "original (1.25, 6) + refine": (1.25, 6, True),
    "training (1.1, 5)": (1.1, 5, False),
    "training (1.1, 5) + refine": (1.1, 5, True),
    "dense (1.05, 3)": (1.05, 3, False),
    "dense (1.05, 3) + refine": (1.05, 3, True),
}


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


def evaluate(photos, predictor, settings, progress=True):
    """Run every setting on every photo: per setting, the NME of each annotated face (NaN where
    not found) and the total detection time."""
    from tqdm import tqdm

    n_faces = sum(len(f) for f in photos.values())
    errors = {name: np.full(n_faces, np.nan) for name in settings}
    seconds = dict.fromkeys(settings, 0.0)
    detectors = {(s, n): HaarDetector(scale_factor=s, min_neighbors=n, max_side=1600)
                 for s, n, _ in settings.values()}
    first = 0
    for path, faces in tqdm(photos.items(), unit="photo", disable=not progress):
        gray = to_gray(cv2.imread(str(path)))
        boxes = {}
        for key, detector in detectors.items():
            start = time.perf_counter()
            boxes[key] = detector.detect(gray)
            boxes[key + ("time",)] = time.perf_counter() - start
        for name, (scale, neighbours, refine) in settings.items():
            found = boxes[(scale, neighbours)]
            seconds[name] += boxes[(scale, neighbours, "time")]
            pairs = match(faces, found)
            if not pairs:
                continue
            points, _ = predict_keypoints(gray, [found[j] for _, j in pairs], predictor,
                                          refine=refine)
            for (i, _), p in zip(pairs, points):
                errors[name][first + i] = nme(p, faces[i]["points"])
        first += len(faces)
    return errors, seconds


def summarise(errors, seconds, n_photos):
    common = np.all([np.isfinite(e) for e in errors.values()], axis=0)
    rows = []
    for name, e in errors.items():
        found = np.isfinite(e)
        rows.append({
            "setting": name, "faces": int(len(e)), "found": float(found.mean()),
            "nme_mean": float(np.mean(e[found])) if found.any() else None,
            "nme_median": float(np.median(e[found])) if found.any() else None,
            "nme_common": float(np.mean(e[common])) if common.any() else None,
            "common_faces": int(common.sum()),
            "detect_ms_per_photo": 1000 * seconds[name] / max(n_photos, 1),
        })
    return rows


def print_table(rows):
    header = (f"{'setting':<30} {'found':>7} {'NME mean':>9} {'median':>8} "
              f"{'common':>8} {'detect ms':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if v is not None else "-"  # noqa: E731
        print(f"{r['setting']:<30} {r['found']:>7.1%} {fmt(r['nme_mean']):>9} "
              f"{fmt(r['nme_median']):>8} {fmt(r['nme_common']):>8} "
              f"{r['detect_ms_per_photo']:>10.0f}")
    print(f"\n{rows[0]['faces']} annotated faces; 'common': mean NME over the "
          f"{rows[0]['common_faces']} faces every setting found.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with images/ and annotations/ (default: %(default)s)")
    parser.add_argument("--model", default=None,
                        help="keypoint model (default: models/keypoints.keras)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        metavar="NAME", help="which settings to run (default: all)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    if not (args.data / "annotations").is_dir():
        parser.error(f"no AFW data at {args.data} (expected {args.data / 'annotations'})")
    photos = load_faces(args.data)
    if args.limit:
        photos = dict(list(photos.items())[:args.limit])
    predictor = load_predictor(args.model)
    settings = {name: SETTINGS[name] for name in args.settings}
    errors, seconds = evaluate(photos, predictor, settings, progress=not args.json)
    rows = summarise(errors, seconds, len(photos))
    if args.json:
        model = str(getattr(predictor, "path", args.model))
        print(json.dumps({"data": str(args.data), "model": model,
                          "photos": len(photos), "results": rows}))
    else:
        print(f"model: {getattr(predictor, 'path', args.model)}, {len(photos)} photos\n")
        print_table(rows)


if __name__ == "__main__":
    main()
