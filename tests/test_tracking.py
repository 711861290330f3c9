"""The face-following tracker of the live stream finds the same faces as full-frame detection.

Runs on the benchmark's synthetic videos (faces moving, turning and tilting; see
``benchmarks/moving_faces.py``) with a stand-in model that always answers the average face, so the
keypoints compared depend only on the boxes. Needs no TensorFlow.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import moving_faces  # noqa: E402
from pipeline import tracking_check  # noqa: E402

from facial_keypoints.faces import MEAN_KEYPOINTS  # noqa: E402
from facial_keypoints.keypoints import to_normalised  # noqa: E402
from facial_keypoints.stream import SunglassesFilter  # noqa: E402


class AverageFace:
    """A predictor that puts the average training face in every crop."""

    def predict(self, crops):
        return np.repeat(to_normalised(MEAN_KEYPOINTS)[None], len(crops), axis=0)


@pytest.mark.parametrize("faces", [moving_faces.ONE_FACE, moving_faces.SEVERAL_FACES],
                         ids=["one_face", "several_faces"])
def test_followed_faces_match_full_detection(faces):
    frames, _ = moving_faces.make_frames(faces, seconds=1.5)
    tracker = SunglassesFilter(predictor=AverageFace(), smoothing=None, show_fps=False)
    check = tracking_check(frames, tracker)
    assert check["followed_share"] >= 0.95
    assert check["mean_iou"] >= 0.8
    assert check["keypoints_mean_px"] <= 3.0  # faces are 75 to 150 px wide


def test_synthetic_faces_are_where_the_video_says():
    from facial_keypoints.faces import HaarDetector, to_gray
    from facial_keypoints.stream import iou, match_boxes

    frames, boxes = moving_faces.make_frames(moving_faces.SEVERAL_FACES, seconds=0.5)
    detector = HaarDetector(max_side=640)
    for frame, truth in list(zip(frames, boxes))[::5]:
        found = detector.detect(to_gray(frame))
        pairs = match_boxes(truth, found)
        assert len(pairs) == len(truth)
        assert min(iou(truth[i], found[j]) for i, j in pairs) > 0.6
