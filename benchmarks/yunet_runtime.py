"""YuNet run by ONNX Runtime (the package's way) against OpenCV's own ``cv2.FaceDetectorYN``.

    python benchmarks/yunet_runtime.py            # the AFW photos, shrunk to 480 pixels
    python benchmarks/yunet_runtime.py --side 128

Both run the same network file on the same pictures (shrunk so the long side is ``--side``,
padded to multiples of 32, 2 CPU threads each) and decode the same way; the script prints the
median milliseconds per picture of each, interleaved picture by picture, the faces each found, and
the largest difference between their boxes, landmarks and scores. It also times the crops'
shrinking step (:func:`facial_keypoints.crops.warp` of a 600-pixel region to 96 pixels) with
exact area averaging and with whole blocks (``blocks=True``).
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facial_keypoints import crops  # noqa: E402
from facial_keypoints.detectors import YUNET_PATH, YuNetDetector  # noqa: E402
from inference import time_calls  # noqa: E402  (benchmarks/inference.py, beside this file)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "afw-68-points" / "images"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_DATA,
                        help="folder of .jpg photos (default: %(default)s)")
    parser.add_argument("--side", type=int, default=480, help="long side of the pictures")
    args = parser.parse_args(argv)
    paths = sorted(args.images.glob("*.jpg"))
    if not paths:
        parser.error(f"no .jpg photos in {args.images}")
    cv2.setNumThreads(2)
    ours = YuNetDetector(threads=2)
    times = {"ONNX Runtime": [], "OpenCV": []}
    found = {"ONNX Runtime": 0, "OpenCV": 0}
    worst = 0.0
    for path in paths:
        photo = cv2.imread(str(path))
        scale = args.side / max(photo.shape[:2])
        picture = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)))
        height, width = picture.shape[:2]
        picture = cv2.copyMakeBorder(picture, 0, -height % 32, 0, -width % 32, cv2.BORDER_CONSTANT)
        opencv = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", picture.shape[1::-1],
                                           ours.candidate_score, ours.nms_threshold, 5000)
        start = time.perf_counter()
        faces = ours._run(picture, 1.0)
        times["ONNX Runtime"].append(time.perf_counter() - start)
        start = time.perf_counter()
        rows = opencv.detect(picture)[1]
        times["OpenCV"].append(time.perf_counter() - start)
        rows = np.zeros((0, 15)) if rows is None else rows
        found["ONNX Runtime"] += len(faces)
        found["OpenCV"] += len(rows)
        if len(faces) == len(rows) and len(rows):
            mine = np.array([[*f.box, *f.landmarks.ravel(), f.score] for f in faces])
            worst = max(worst, float(np.abs(mine[np.argsort(-mine[:, 14])]
                                            - rows[np.argsort(-rows[:, 14])]).max()))
    print(f"{len(paths)} photos at {args.side} pixels, 2 threads; ms per picture (median):")
    for name, values in times.items():
        print(f"  {name:13s} {1000 * np.median(values):7.2f} ms   {found[name]} faces")
    print(f"  largest difference where both found as many faces: {worst:.2g} (pixels / score)")
    region = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2GRAY)
    transform = np.array([[96 / 600, 0, 0], [0, 96 / 600, 0]])
    for blocks in (False, True):
        ms, _ = time_calls(lambda: crops.warp(region, transform, (96, 96), blocks=blocks), 50)
        print(f"warp of a 600-pixel region to 96, blocks={blocks}: {ms:.2f} ms")


if __name__ == "__main__":
    main()
