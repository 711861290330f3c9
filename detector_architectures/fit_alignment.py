"""Fit where YuNet puts its five landmarks in the training crops: ``crops.LANDMARK_TEMPLATE``.

    python detector_architectures/fit_alignment.py [--data ../shared/data/kaggle-format/training.zip]

The keypoint model learned on Haar-framed 96x96 crops. To cut a face from a photo the way those
crops were cut, the photo-path moves the detector's five landmarks onto where the same detector
puts them in the training crops. This script measures that: it runs YuNet on every training crop
(padded by 48 replicated pixels on each side, so the face is not at the picture's edge), keeps the
detection nearest the crop centre, and prints the mean of each landmark in crop pixels, ready to
paste into ``facial_keypoints/crops.py``. It also prints how far the alignment built from one
face's landmarks puts that face's labelled keypoints from :data:`~crops.MEAN_KEYPOINTS` (the
jitter a model trained on aligned crops must tolerate).
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facial_keypoints import crops  # noqa: E402
from facial_keypoints.data import load_dataset  # noqa: E402
from facial_keypoints.detectors import YuNetDetector  # noqa: E402
from facial_keypoints.keypoints import as_points, to_pixels  # noqa: E402

PAD = 48


def landmarks_in_crops(images):
    """YuNet's five landmarks and its box in each 96x96 crop: ``(N, 5, 2)`` crop pixels and
    ``(N, 3)`` box centre x, y and long side, NaN where no face was found."""
    size = 96 + 2 * PAD
    detector = YuNetDetector()
    found = np.full((len(images), 5, 2), np.nan)
    boxes = np.full((len(images), 3), np.nan)
    for i, image in enumerate(images):
        grey = np.round(image[..., 0] * 255).astype(np.uint8)
        padded = cv2.copyMakeBorder(grey, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        faces = detector.detect_upright(padded, None, min_score=0.5)
        if not faces:
            continue
        best = min(faces, key=lambda f: abs(f.box[0] + f.box[2] / 2 - size / 2)
                   + abs(f.box[1] + f.box[3] / 2 - size / 2))
        found[i] = best.landmarks - PAD
        x, y, w, h = best.box
        boxes[i] = (x + w / 2 - 0.5 - PAD, y + h / 2 - 0.5 - PAD, max(w, h))
    return found, boxes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "kaggle-format"
                                              / "training.zip"))
    args = parser.parse_args(argv)
    data = load_dataset(args.data)
    landmarks, boxes = landmarks_in_crops(data.images)
    ok = np.isfinite(landmarks).all(axis=(1, 2))
    template = landmarks[ok].mean(0)
    print(f"faces found in {ok.sum()} of {len(ok)} crops of {args.data}")
    print("BOX_TEMPLATE = ({:.2f}, {:.2f}, {:.2f})  # centre x, y and long side, crop pixels".format(
        *boxes[ok].mean(0)))
    print("LANDMARK_TEMPLATE = np.array([")
    print("    " + ", ".join(f"[{x:.2f}, {y:.2f}]" for x, y in template) + ",")
    print("], dtype=np.float32)")
    # Jitter: align each crop by its own landmarks onto the template, and see where its labelled
    # keypoints land compared with the mean keypoints.
    truth = to_pixels(as_points(data.keypoints))
    moved = np.stack([crops.apply(crops.similarity(lm, template), p)
                      for lm, p in zip(landmarks[ok], truth[ok])])
    error = moved - crops.MEAN_KEYPOINTS
    print("after alignment, labelled keypoints sit from the mean keypoints (crop px, std x / y):")
    print("  " + " ".join(f"{v:.2f}" for v in np.nanstd(error, axis=0).ravel()))
    eyes = (moved[:, 0] + moved[:, 1]) / 2
    print(f"eye midpoint std {np.nanstd(eyes, 0).round(2)} px; eye distance std "
          f"{np.nanstd(np.linalg.norm(moved[:, 0] - moved[:, 1], axis=1)):.2f} px; roll std "
          f"{np.nanstd(np.degrees(np.arctan2(*(moved[:, 0] - moved[:, 1]).T[::-1]))):.2f} deg")


if __name__ == "__main__":
    main()
