"""Shared fixtures: small data sets in Kaggle's exact CSV format, made by the tests themselves."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facial_keypoints.keypoints import COLUMNS, IMAGE_SIZE  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
SUBSTITUTE_ZIP = SHARED_DATA / "kaggle-format" / "training.zip"
AFW_DIR = SHARED_DATA / "afw-68-points"


def synthetic_faces(n, seed=0):
    """``n`` grey 96x96 uint8 images with a face-like layout and their keypoints in crop pixels
    ``(n, 30)``: each keypoint is a bright 3x3 dot on a dark, noisy background, so a test can
    find where the keypoints are from the pixels alone."""
    rng = np.random.default_rng(seed)
    mean_shape = np.array([66, 38, 31, 39, 59, 39, 73, 38, 38, 39, 25, 39, 58, 28, 80, 30, 39, 28,
                           17, 30, 49, 62, 64, 76, 35, 77, 49, 72, 49, 79], np.float64)
    keypoints = mean_shape + rng.normal(0, 2.0, size=(n, 30))
    images = rng.integers(0, 40, size=(n, IMAGE_SIZE, IMAGE_SIZE)).astype(np.uint8)
    for image, points in zip(images, keypoints.reshape(n, 15, 2)):
        for x, y in np.round(points).astype(int):
            image[y - 1:y + 2, x - 1:x + 2] = 255
    return images, keypoints


def write_kaggle_csv(path, images, keypoints, test=False):
    """Write ``training.csv`` (or ``test.csv``) exactly as Kaggle lays it out: 30 keypoint columns
    then ``Image``, empty cells for missing values (NaN), CRLF line ends."""
    lines = ["ImageId,Image" if test else ",".join(COLUMNS) + ",Image"]
    for i, image in enumerate(images):
        points = None if test else keypoints[i]
        pixels = " ".join(str(v) for v in image.reshape(-1))
        if test:
            lines.append(f"{i + 1},{pixels}")
        else:
            cells = ["" if np.isnan(v) else f"{v:.10g}" for v in points]
            lines.append(",".join(cells) + "," + pixels)
    Path(path).write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return Path(path)


def kaggle_missing_pattern(n, seed=0):
    """A bool ``(n, 30)`` "present" mask in Kaggle's pattern: about 70% of rows keep only the eye
    centres, nose tip and bottom lip (8 values); the rest are complete."""
    rng = np.random.default_rng(seed)
    present = np.ones((n, 30), bool)
    four_points = [0, 1, 2, 3, 20, 21, 28, 29]  # left/right eye centre, nose tip, bottom lip
    sparse = rng.random(n) < 0.7
    sparse[0] = False  # the first row always complete, the second always sparse
    sparse[1] = True
    present[sparse] = False
    present[np.ix_(sparse, four_points)] = True
    return present


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test caches parsed CSVs in its own folder, never in the user's cache."""
    monkeypatch.setenv("FACIAL_KEYPOINTS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def kaggle_csv(tmp_path):
    """A 40-row training.csv in Kaggle's format with Kaggle's pattern of missing keypoints."""
    images, keypoints = synthetic_faces(40)
    keypoints[~kaggle_missing_pattern(40)] = np.nan
    return write_kaggle_csv(tmp_path / "training.csv", images, keypoints)


def needs_substitute_data():
    return pytest.mark.skipif(not SUBSTITUTE_ZIP.exists(),
                              reason=f"substitute Kaggle data not found at {SUBSTITUTE_ZIP}")
