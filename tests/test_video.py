"""The video loop: smoothing, following faces, reading cameras and files, writing videos."""

import os
import warnings

import cv2
import numpy as np
import pytest

from facial_keypoints import notebook, smoothing, tracking, video
from facial_keypoints.crops import MEAN_KEYPOINTS, to_photo
from facial_keypoints.detectors import iou
from facial_keypoints.keypoints import to_normalised

FACE_SIDE, FRAME_SIZE, FRAMES = 180, (480, 320), 24


class MeanFacePredictor:
    """Predicts the average training face for every crop, and counts its calls."""

    def __init__(self):
        self.calls = []

    def predict(self, crops):
        self.calls.append(len(crops))
        return np.repeat(to_normalised(MEAN_KEYPOINTS)[None], len(crops), axis=0)


def face_position(i):
    """Top-left corner of the pasted face in frame i: moving right 8 pixels per frame."""
    return 20 + 8 * i, 60


@pytest.fixture(scope="module")
def moving_face_video(tmp_path_factory):
    """A short mp4 of Grace Hopper's face sliding across a grey background."""
    import matplotlib

    photo = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    face = cv2.resize(photo[60:420, 90:450], (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("video") / "moving.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, FRAME_SIZE)
    for i in range(FRAMES):
        frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 120, np.uint8)
        x, y = face_position(i)
        frame[y:y + FACE_SIDE, x:x + FACE_SIDE] = face
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    from facial_keypoints.architectures import get_model

    path = tmp_path_factory.mktemp("model") / "untrained.keras"
    get_model("resnet").save(path)
    return path


def test_one_euro_filter_removes_jitter_and_follows_a_step():
    rng = np.random.default_rng(0)
    smoother = smoothing.OneEuroFilter(min_cutoff=1.0, beta=0.01)
    t = np.arange(120) / 30  # 4 s at 30 fps
    noisy = 100 + rng.normal(0, 2, (120, 15, 2))
    smoothed = np.array([smoother(x, ti) for x, ti in zip(noisy, t)])
    assert smoothed[30:].std() < noisy[30:].std() / 2.5
    assert abs(smoothed[30:].mean() - 100) < 0.5
    # A step of 50 pixels: followed to within a pixel half a second later.
    smoother = smoothing.OneEuroFilter(min_cutoff=1.0, beta=0.01)
    values = np.where(t < 2, 0.0, 50.0)[:, None, None] * np.ones((1, 15, 2))
    smoothed = np.array([smoother(x, ti) for x, ti in zip(values, t)])
    assert smoothed[60 + 15].min() > 49
    assert smoothed[59].max() == 0


def test_boxes_are_matched_by_overlap():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0
    old = [(0, 0, 50, 50), (100, 0, 50, 50)]
    new = [(105, 2, 50, 50), (300, 300, 40, 40), (3, 1, 50, 50)]
    assert sorted(tracking.match_boxes(old, new)) == [(0, 2), (1, 0)]


def test_filter_follows_a_moving_face_with_one_model_call_per_frame(moving_face_video):
    predictor = MeanFacePredictor()
    # The average-face predictor is blind: its crops move only when the detector re-anchors
    # them, every other frame here, so the box lags by at most one frame's move (8 px).
    sunglasses_filter = video.SunglassesFilter(predictor, redetect_every=10, anchor_every=2,
                                               show_fps=False)
    with video.VideoSource(moving_face_video) as source:
        frames = list(source)
    assert len(frames) == FRAMES
    for i, (t, frame) in enumerate(frames):
        out = sunglasses_filter.process(frame, t)
        assert out.shape == frame.shape and out.dtype == frame.dtype
        assert len(sunglasses_filter.tracks) == 1
        x, y, w, h = (int(round(v)) for v in sunglasses_filter.tracks[0].box)
        fx, fy = face_position(i)
        assert abs(x + w / 2 - (fx + FACE_SIDE / 2)) < 0.1 * FACE_SIDE
        assert abs(y + h / 2 - (fy + FACE_SIDE / 2)) < 0.1 * FACE_SIDE
        # Glasses across the eyes, and nothing drawn on the mouth.
        changed = (out != frame).any(axis=2)
        track = sunglasses_filter.tracks[0]
        (_, eye_y), (_, mouth_y) = to_photo(MEAN_KEYPOINTS[[1, 13]], track.transform).astype(int)
        assert changed[eye_y, x:x + w].mean() > 0.4
        assert not changed[mouth_y:, x:x + w].any()
    assert predictor.calls == [1] * FRAMES


def test_timings_give_each_stage_of_the_last_frame(moving_face_video):
    sunglasses_filter = video.SunglassesFilter(MeanFacePredictor(), show_fps=False)
    with video.VideoSource(moving_face_video) as source:
        for _, (t, frame) in zip(range(3), source):
            sunglasses_filter.process(frame, t)
            assert set(sunglasses_filter.timings) == set(video.STAGES)
            assert all(0 < seconds < 1 for seconds in sunglasses_filter.timings.values())
    sunglasses_filter.process(None)
    assert sunglasses_filter.timings == dict.fromkeys(video.STAGES, 0.0)


def test_video_file_in_video_file_out(moving_face_video, untrained_model, tmp_path):
    from facial_keypoints.predictor import load_predictor

    output = tmp_path / "out" / "glasses.mp4"
    written = video.write_video(moving_face_video, output, progress=False,
                                 predictor=load_predictor(untrained_model))
    assert written == FRAMES
    capture = cv2.VideoCapture(str(output))
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
        frames += 1
    capture.release()
    assert frames == FRAMES


def test_empty_frames_are_passed_through():
    sunglasses_filter = video.SunglassesFilter(MeanFacePredictor())
    assert sunglasses_filter.process(None) is None
    empty = np.zeros((0, 0, 3), np.uint8)
    assert sunglasses_filter.process(empty) is empty


class FakeCapture:
    """Stands in for cv2.VideoCapture: a scripted list of read results."""

    instances = []

    def __init__(self, source, opened=True, reads=()):
        self.source, self.opened, self.reads, self.released = source, opened, list(reads), False
        FakeCapture.instances.append(self)

    def isOpened(self):
        return self.opened and not self.released

    def read(self):
        return self.reads.pop(0) if self.reads else (False, None)

    def get(self, prop):
        return 0

    def release(self):
        self.released = True


def test_a_camera_that_cannot_open_raises_and_is_released(monkeypatch):
    FakeCapture.instances.clear()
    monkeypatch.setattr(video.cv2, "VideoCapture", lambda s: FakeCapture(s, opened=False))
    with pytest.raises(video.InputError, match="camera 7"):
        video.VideoSource(7)
    assert FakeCapture.instances[-1].released
    with pytest.raises(FileNotFoundError, match="no_such_video.mp4"):
        video.VideoSource("no_such_video.mp4")


def test_camera_read_failures_are_retried_then_the_stream_ends(monkeypatch):
    frame = np.zeros((4, 4, 3), np.uint8)
    script = [(False, None), (True, frame), (True, None), (False, None), (True, frame)] + \
             [(False, None)] * 10
    monkeypatch.setattr(video.cv2, "VideoCapture", lambda s: FakeCapture(s, reads=script))
    with video.VideoSource("0", retries=3, retry_wait=0) as source:
        assert source.camera
        with pytest.warns(video.StreamWarning, match="camera 0 stopped sending frames after 2"):
            got = [f for _, f in source]
    assert len(got) == 2
    assert FakeCapture.instances[-1].released


@pytest.mark.parametrize("frames, counted, warned", [
    (9, 10, False),  # a container that counts one frame too many: its end, no damage
    (5, 10, True),  # five frames missing at the end: a damaged end
])
def test_only_a_real_loss_at_the_end_of_a_file_is_reported(monkeypatch, tmp_path, frames,
                                                              counted, warned):
    class CountedCapture(FakeCapture):
        def get(self, prop):
            return counted if prop == video.cv2.CAP_PROP_FRAME_COUNT else 25.0

    frame = np.zeros((4, 4, 3), np.uint8)
    monkeypatch.setattr(video.cv2, "VideoCapture",
                        lambda s: CountedCapture(s, reads=[(True, frame)] * frames))
    (tmp_path / "clip.mp4").write_bytes(b"a video")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with video.VideoSource(str(tmp_path / "clip.mp4")) as source:
            assert len(list(source)) == frames
    messages = [str(w.message) for w in caught if w.category is video.StreamWarning]
    assert messages == ([f"video file {tmp_path / 'clip.mp4'}: skipped {counted - frames} "
                         f"frame(s) that could not be decoded, read {frames} of {counted}"]
                        if warned else [])


def test_a_broken_stream_still_releases(monkeypatch):
    frame = np.zeros((4, 4, 3), np.uint8)
    monkeypatch.setattr(video.cv2, "VideoCapture",
                        lambda s: FakeCapture(s, reads=[(True, frame)] * 5))
    with pytest.raises(RuntimeError):
        with video.VideoSource(0) as source:
            for _ in source:
                raise RuntimeError("a sink failed")
    assert FakeCapture.instances[-1].released


def test_notebook_display_runs_headless_and_stops_at_max_frames(moving_face_video):
    widgets = pytest.importorskip("ipywidgets")
    sunglasses_filter = video.SunglassesFilter(MeanFacePredictor())
    thread = notebook.show_in_notebook(moving_face_video, sunglasses_filter, max_frames=3, wait=True)
    assert isinstance(thread.widget, widgets.Image)
    assert thread.widget.value[:2] == b"\xff\xd8"  # a JPEG
