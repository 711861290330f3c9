"""Reading photos as they are meant to be seen, and the keypoints JSON."""

import json
import os

import cv2
import numpy as np
import pytest

from facial_keypoints.cli import main
from facial_keypoints.photos import read_image


def hopper_path():
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


@pytest.fixture
def sideways_phone_photo(tmp_path):
    """Grace Hopper stored sideways (pixels turned 90 degrees clockwise) with EXIF orientation 8,
    which tells a viewer to turn it back, as phones write portrait photos."""
    from PIL import Image

    upright = Image.open(hopper_path())
    stored = upright.transpose(Image.Transpose.ROTATE_270)  # 90 degrees clockwise
    exif = Image.Exif()
    exif[0x0112] = 8  # orientation: rotate 90 degrees counter-clockwise to view
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    return path


def test_exif_orientation_is_honoured(sideways_phone_photo):
    image = read_image(str(sideways_phone_photo))
    upright = cv2.imread(hopper_path())
    assert image.shape == upright.shape
    assert np.abs(image.astype(int) - upright).mean() < 4  # the same picture, up to JPEG noise


def test_keypoints_json_has_score_and_angle(sideways_phone_photo, capsys):
    assert main(["keypoints", "--json", str(sideways_phone_photo)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["width"] == 512 and record["height"] == 600
    (face,) = record["faces"]
    assert 0.7 <= face["score"] <= 1 and abs(face["angle"]) < 10
    assert set(face["keypoints"]) >= {"left_eye_center", "nose_tip"}
    # A threshold above the face's score leaves no face; Haar finds it too.
    main(["keypoints", "--json", str(sideways_phone_photo), "--min-score", "0.999"])
    assert json.loads(capsys.readouterr().out)["faces"] == []
    main(["keypoints", "--json", str(sideways_phone_photo), "--detector", "haar"])
    assert len(json.loads(capsys.readouterr().out)["faces"]) == 1
