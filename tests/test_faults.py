"""Bad input, damaged files and lost work: each class of fault gives a correct result or one clear
line naming the file and the problem, with a non-zero exit status, and replaces no file that the
user did not name. Every damaged file here is made by the test itself."""

import json
import warnings
import zipfile

import cv2
import numpy as np
import pytest

from conftest import PROJECT_DIR, synthetic_faces, write_kaggle_csv
from facial_keypoints.cli import main
from facial_keypoints.errors import InputError
from facial_keypoints.photos import read_image

PHOTO = PROJECT_DIR / "images" / "grace_hopper.jpg"
MODEL_ONNX = PROJECT_DIR / "models" / "keypoints.onnx"


def error_line(capsys):
    """The one line a failed command printed: no traceback, names what went wrong."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("error: ")
    return last


# ----------------------------------------------------------------------------- lost work

@pytest.fixture
def tiny_training_csv(tmp_path):
    images, keypoints = synthetic_faces(40, seed=4)
    (tmp_path / "data").mkdir()
    return write_kaggle_csv(tmp_path / "data" / "training.csv", images, keypoints)


def test_training_without_out_writes_a_new_file_and_never_replaces_one(
        tmp_path, monkeypatch, tiny_training_csv, capsys):
    monkeypatch.chdir(tmp_path)
    shipped = tmp_path / "models" / "keypoints.keras"  # as if run from the project folder
    shipped.parent.mkdir()
    shipped.write_bytes(b"the shipped model")
    quick = ["train", "--quick", "--arch", "original-5", "--epochs", "1", "--no-onnx",
             "--data", str(tiny_training_csv)]
    assert main(quick) == 0
    (made,) = (tmp_path / "runs").glob("keypoints-*.keras")
    assert shipped.read_bytes() == b"the shipped model"
    # A named --out that exists is kept unless --resume or --overwrite says otherwise.
    before = made.read_bytes()
    assert main(quick + ["--out", str(made)]) == 2
    assert "exists" in error_line(capsys) and made.read_bytes() == before


def test_a_retrained_model_never_leaves_an_older_8_bit_twin_behind(
        tmp_path, monkeypatch, tiny_training_csv, capsys):
    """The 8-bit twin is what runs by default: when a new model's twin fails its check, the old
    model's twin beside it must not survive to answer for the new model."""
    from facial_keypoints import export

    out = tmp_path / "keypoints.keras"
    stale = tmp_path / "keypoints.int8.onnx"
    stale.write_bytes(b"the twin of an older model")
    quick = ["train", "--quick", "--arch", "original-5", "--epochs", "1",
             "--data", str(tiny_training_csv), "--out", str(out)]
    assert main(quick) == 2  # both twins are files the user did not name
    assert "keypoints.int8.onnx exists" in error_line(capsys)
    assert stale.read_bytes() == b"the twin of an older model"

    monkeypatch.setattr(export, "mean_distance_px", lambda *paths_and_crops: 3.0)
    assert main(quick + ["--overwrite"]) == 0
    assert "warning: no 8-bit twin" in capsys.readouterr().err
    assert out.exists() and out.with_suffix(".onnx").exists() and not stale.exists()


def test_export_keeps_an_onnx_file_it_was_not_told_to_replace(tmp_path, capsys):
    model = tmp_path / "keypoints.keras"
    model.write_bytes((PROJECT_DIR / "models" / "keypoints.keras").read_bytes())
    model.with_suffix(".onnx").write_bytes(b"an earlier export")
    assert main(["export", "--model", str(model)]) == 2
    assert "keypoints.onnx exists" in error_line(capsys)
    assert model.with_suffix(".onnx").read_bytes() == b"an earlier export"


def test_settings_out_of_range_are_refused_before_any_work(tiny_training_csv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--batch-size", "0", "--data", str(tiny_training_csv)])
    assert stop.value.code == 2 and "--batch-size: must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["train", "--max-rows", "-1", "--data", str(tiny_training_csv)])
    assert stop.value.code == 2 and "--max-rows: must be at least 1" in capsys.readouterr().err


def test_resuming_without_a_history_must_beat_the_model_itself(
        tmp_path, tiny_training_csv, monkeypatch):
    from facial_keypoints import training
    from facial_keypoints.config import PRESETS, with_overrides

    out = tmp_path / "m.keras"
    config = with_overrides(PRESETS["quick"], arch="original-5", epochs=1)
    training.train(tiny_training_csv, out, config, verbose=0)
    training.history_path_for(out).unlink()  # say the history was lost
    seen = {}
    real = training.callbacks_for

    def spy(*args):
        seen["best"] = args[-1]
        return real(*args)

    monkeypatch.setattr(training, "callbacks_for", spy)
    training.train(tiny_training_csv, out, with_overrides(config, epochs=2), resume=True,
                   verbose=0)
    assert 0 < seen["best"] < float("inf")  # the model's own validation loss, not infinity


def test_a_history_without_its_model_is_named(tmp_path, tiny_training_csv, capsys):
    (tmp_path / "m.history.json").write_text('{"epochs": []}')
    assert main(["train", "--quick", "--data", str(tiny_training_csv), "--out",
                 str(tmp_path / "m.keras"), "--resume"]) == 2
    assert "m.history.json exists without its model m.keras" in error_line(capsys)


def test_an_unknown_model_is_named_before_the_data_is_read(tmp_path, capsys):
    assert main(["train", "--arch", "hetamap", "--data", str(tmp_path / "nowhere.csv"),
                 "--out", str(tmp_path / "m.keras")]) == 2
    assert "unknown model 'hetamap'" in error_line(capsys)


def test_data_that_leaves_no_rows_is_named(tmp_path, capsys):
    images, keypoints = synthetic_faces(1, seed=4)
    path = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    assert main(["train", "--quick", "--data", str(path), "--out", str(tmp_path / "m.keras")]) == 2
    assert "training.csv: no rows left for" in error_line(capsys)
    assert main(["evaluate", "--model", str(MODEL_ONNX), "--data", str(path), "--json"]) == 2
    assert "the val split has no faces" in error_line(capsys)  # not NaN in the JSON


# ----------------------------------------------------------------------------- photos and videos

def test_float_images_are_scaled_or_refused_never_black(tmp_path):
    photo = cv2.imread(str(PHOTO))
    cv2.imwrite(str(tmp_path / "unit.tiff"), photo.astype(np.float32) / 255)
    assert np.abs(read_image(str(tmp_path / "unit.tiff")).astype(int) - photo).max() <= 1
    cv2.imwrite(str(tmp_path / "wild.tiff"), photo.astype(np.float32) * 10 - 500)
    with pytest.raises(InputError, match=r"wild.tiff: float32 pixels from -500 to .* fit neither"):
        read_image(str(tmp_path / "wild.tiff"))


@pytest.mark.parametrize("output, message", [
    ("out", "out: has no extension; image files end in one of"),
    ("out.mp4", ".mp4 is not among the image file extensions"),
    (".", "is a folder"),
    ("a_file/out.jpg", "a_file is a file, not a folder"),
])
def test_a_photo_output_that_cannot_be_written_is_named_before_any_work(
        tmp_path, monkeypatch, capsys, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    assert main(["sunglasses", str(PHOTO), "-o", output]) == 2
    assert message in error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["a_file"]


def test_a_folder_without_write_permission_is_named(tmp_path, monkeypatch):
    # As root (CI) every folder is writable: stand in for a read-only one.
    from facial_keypoints import photos

    monkeypatch.setattr(photos.cv2, "imwrite", lambda path, image: False)
    monkeypatch.setattr(photos.os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match=r"out.jpg: no permission to write in"):
        photos.write_image(tmp_path / "out.jpg", np.zeros((4, 4, 3), np.uint8))


def test_default_outputs_never_replace_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sunglasses_grace_hopper.jpg").write_bytes(b"mine")
    assert main(["sunglasses", str(PHOTO)]) == 0
    assert (tmp_path / "sunglasses_grace_hopper.jpg").read_bytes() == b"mine"
    assert cv2.imread(str(tmp_path / "sunglasses_grace_hopper-2.jpg")).shape == (600, 512, 3)


@pytest.fixture
def damaged_video(tmp_path):
    """60 frames of the photo (mp4v, 10 fps) with a stretch in the middle of the file zeroed:
    frames there cannot be decoded, the frames after it can."""
    frame = cv2.resize(cv2.imread(str(PHOTO)), (320, 376))
    path = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 376))
    for i in range(60):
        writer.write(np.roll(frame, 2 * i, axis=1))
    writer.release()
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * 0.4):int(len(raw) * 0.6)] = bytes(int(len(raw) * 0.6) - int(len(raw) * 0.4))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(raw))
    return damaged


def test_a_damaged_stretch_of_video_is_skipped_and_said(damaged_video, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["sunglasses", str(damaged_video), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    skipped = int(err.split("skipped ")[1].split()[0])
    capture = cv2.VideoCapture(str(out))
    written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert 0 < skipped < 30 and written + skipped == 60  # went on to the end, and said so
    assert "warning: video file" in err and "Traceback" not in err


def test_a_video_written_as_a_photo_or_over_itself_is_refused(damaged_video, tmp_path, capsys):
    assert main(["sunglasses", str(damaged_video), "-o", str(tmp_path / "out.jpg")]) == 2
    assert ".jpg is not among the video file extensions" in error_line(capsys)
    assert not (tmp_path / "out.jpg").exists()
    before = damaged_video.read_bytes()
    assert main(["sunglasses", str(damaged_video), "-o", str(damaged_video)]) == 2
    assert "is the video being read" in error_line(capsys)
    assert damaged_video.read_bytes() == before


def test_a_whole_video_reads_without_a_warning(damaged_video):
    from facial_keypoints.video import VideoSource

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with VideoSource(damaged_video.with_name("walk.mp4")) as stream:  # the undamaged one
            assert len(list(stream)) == 60 and stream.skipped == 0


def test_a_folder_written_into_itself_keeps_its_photos(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "hopper.jpg").write_bytes(PHOTO.read_bytes())
    assert main(["sunglasses", str(folder), "-o", str(folder)]) == 0
    assert (folder / "hopper.jpg").read_bytes() == PHOTO.read_bytes()
    assert cv2.imread(str(folder / "hopper-2.jpg")).shape == (600, 512, 3)


def test_a_camera_that_stops_says_so(monkeypatch):
    from facial_keypoints import video

    class FailingCamera:
        """Three frames, then nothing, like a camera unplugged."""
        def __init__(self, index):
            self.frames = 3

        def isOpened(self):
            return True

        def get(self, prop):
            return 30.0 if prop == cv2.CAP_PROP_FPS else 0

        def read(self):
            self.frames -= 1
            return (True, np.zeros((48, 64, 3), np.uint8)) if self.frames >= 0 else (False, None)

        def release(self):
            pass

    monkeypatch.setattr(video.cv2, "VideoCapture", FailingCamera)
    with pytest.warns(video.StreamWarning, match="camera 0 stopped sending frames after 3"):
        with video.VideoSource(0, retry_wait=0) as stream:
            assert len(list(stream)) == 3


def test_a_jpeg_cut_short_is_read_with_a_warning(tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(PHOTO.read_bytes()[:20000])
    with pytest.warns(UserWarning, match="cut.jpg: the JPEG file is cut short"):
        image = read_image(str(cut))
    assert image.shape == (600, 512, 3)
    motion = tmp_path / "motion.jpg"  # a phone's motion photo: a video after the picture
    motion.write_bytes(PHOTO.read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(10000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(str(PHOTO))  # whole ones are read quietly
        read_image(str(motion))


def test_keypoints_fails_when_no_input_could_be_read(tmp_path, capsys):
    (tmp_path / "notes.jpg").write_text("not a photo")
    assert main(["keypoints", str(tmp_path / "notes.jpg"), str(tmp_path / "none.jpg")]) == 1
    captured = capsys.readouterr()
    assert "notes.jpg: not an image OpenCV can read" in captured.out
    assert "none of the 2 input(s) could be read" in captured.err


# ----------------------------------------------------------------------------- model files

def test_damaged_or_foreign_model_files_are_named(tmp_path, capsys):
    for name, content in [("cut.onnx", MODEL_ONNX.read_bytes()[:3000]), ("text.onnx", b"hello"),
                          ("cut.keras", (PROJECT_DIR / "models" / "keypoints.keras")
                           .read_bytes()[:3000])]:
        (tmp_path / name).write_bytes(content)
        assert main(["keypoints", str(PHOTO), "--model", str(tmp_path / name)]) == 2
        line = error_line(capsys)
        assert f"{name}: not a" in line and "model" in line


def test_a_model_of_another_shape_is_named(tmp_path, capsys):
    import keras

    model = keras.Sequential([keras.Input((64, 64, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(30)])
    model.save(tmp_path / "small.keras")
    assert main(["keypoints", str(PHOTO), "--model", str(tmp_path / "small.keras")]) == 2
    assert "small.keras: takes input shaped (None, 64, 64, 1)" in error_line(capsys)


# ----------------------------------------------------------------------------- data files

def test_a_damaged_cache_is_rebuilt_with_a_warning(kaggle_csv):
    from facial_keypoints.data import cache_dir, load_dataset

    first = load_dataset(kaggle_csv)
    (cache_file,) = cache_dir().glob("*.npz")
    for damage in (cache_file.read_bytes()[:100], b"", None):
        if damage is None:
            np.savez(cache_file.with_suffix(""), something_else=np.zeros(3))  # other arrays
        else:
            cache_file.write_bytes(damage)
        with pytest.warns(UserWarning, match="data cache .* is damaged"):
            again = load_dataset(kaggle_csv)
        assert np.array_equal(again.images, first.images)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # rebuilt: the next load is quiet
            load_dataset(kaggle_csv)


def test_csv_pixels_written_as_floats_in_0_1_are_scaled_with_a_warning(tmp_path, kaggle_csv):
    from facial_keypoints.data import load_dataset

    lines = kaggle_csv.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    scaled = [row.rsplit(",", 1)[0] + "," + " ".join(f"{int(v) / 255:.6f}" for v in
                                                      row.rsplit(",", 1)[1].split())
              for row in rows]
    floats = tmp_path / "floats" / "training.csv"
    floats.parent.mkdir()
    floats.write_text("\n".join([header] + scaled) + "\n")
    with pytest.warns(UserWarning, match="pixel values are in \\[0, 1\\]"):
        data = load_dataset(floats)
    assert np.abs(data.images - load_dataset(kaggle_csv).images).max() <= 1 / 255 + 1e-6


def test_a_zip_from_macos_finder_loads(tmp_path, kaggle_csv):
    from facial_keypoints.data import load_dataset

    archive = tmp_path / "training.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(kaggle_csv, "training.csv")
        z.writestr("__MACOSX/._training.csv", b"\x00\x05\x16\x07 Mac OS X metadata")
    assert len(load_dataset(archive)) == 40


def test_a_utf16_csv_loads_and_other_encodings_are_named(tmp_path, kaggle_csv):
    from facial_keypoints.data import DataError, load_dataset

    utf16 = tmp_path / "u16" / "training.csv"
    utf16.parent.mkdir()
    utf16.write_bytes(kaggle_csv.read_text().encode("utf-16"))
    assert len(load_dataset(utf16)) == 40
    latin = tmp_path / "latin" / "training.csv"
    latin.parent.mkdir()
    latin.write_bytes(b"caf\xe9," + kaggle_csv.read_bytes())
    with pytest.raises(DataError, match=r"latin/training.csv: not UTF-8 text \(byte 0xe9"):
        load_dataset(latin)


def test_a_row_with_a_missing_field_is_named_briefly(tmp_path, kaggle_csv):
    from facial_keypoints.data import DataError, load_dataset

    lines = kaggle_csv.read_text().splitlines()
    lines[3] = lines[3].split(",", 1)[1]  # the first keypoint cell of data row 2 is gone
    broken = tmp_path / "broken" / "training.csv"
    broken.parent.mkdir()
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as error:
        load_dataset(broken)
    assert "row 2 (line 4)" in str(error.value) and len(str(error.value)) < 300


def test_submission_refuses_a_training_file_and_duplicate_image_ids(tmp_path, kaggle_csv, capsys):
    lookup = tmp_path / "IdLookupTable.csv"  # both faults are found before it is read
    lookup.write_text("RowId,ImageId,FeatureName,Location\n1,1,nose_tip_x,\n")
    out = tmp_path / "submission.csv"
    common = ["submission", "--model", str(MODEL_ONNX), "--lookup", str(lookup), "--out", str(out)]
    assert main(common + ["--test", str(kaggle_csv)]) == 2
    assert "a training file (it has keypoint columns), not a test file" in error_line(capsys)
    images, _ = synthetic_faces(3)
    test_csv = write_kaggle_csv(tmp_path / "test.csv", images, None, test=True)
    test_csv.write_bytes(test_csv.read_bytes().replace(b"\r\n3,", b"\r\n2,"))
    assert main(common + ["--test", str(test_csv)]) == 2
    assert "ImageId 2 appears more than once (rows 1 and 2" in error_line(capsys)
    assert not out.exists()


def test_pixels_numpy_spells_its_own_way_are_read(tmp_path, kaggle_csv):
    from facial_keypoints.data import load_dataset

    text = kaggle_csv.read_bytes()
    header, first, rest = text.split(b"\r\n", 2)
    cells = first.split(b",")
    pixels = cells[-1].split(b" ")
    pixels[0] = b"1_0"  # Python reads it as 10; numpy's fast parser refuses it
    odd = tmp_path / "odd" / "training.csv"
    odd.parent.mkdir()
    odd.write_bytes(b"\r\n".join([header, b",".join(cells[:-1] + [b" ".join(pixels)]), rest]))
    assert round(float(load_dataset(odd).images[0, 0, 0, 0]) * 255) == 10


def test_evaluate_json_writes_figures_without_faces_as_null(tmp_path, capsys):
    images, keypoints = synthetic_faces(40, seed=6)
    keypoints[:, 4:6] = np.nan  # one keypoint never labelled
    path = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    assert main(["evaluate", "--model", str(MODEL_ONNX), "--data", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["per_keypoint_rmse_px"]["left_eye_inner_corner"] is None
    assert result["rmse_px"] > 0


def test_an_export_over_another_kind_of_file_is_refused(tmp_path, capsys):
    assert main(["export", "--model", str(PROJECT_DIR / "models" / "keypoints.keras"),
                 "--out", str(tmp_path / "mine.keras")]) == 2
    assert "mine.keras: .keras is not among the ONNX file extensions" in error_line(capsys)


# ----------------------------------------------------------------------------- bugs stay loud

def test_an_unexpected_error_keeps_its_traceback_and_debug_shows_any(monkeypatch, capsys):
    from facial_keypoints import cli

    def broken(*args, **kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr(cli, "find_keypoints", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["keypoints", str(PHOTO)])
    with pytest.raises(FileNotFoundError):
        main(["keypoints", str(PHOTO), "--model", "none.onnx", "--debug"])
    with pytest.raises(FileNotFoundError):  # before the command, too
        main(["--debug", "keypoints", str(PHOTO), "--model", "none.onnx"])
