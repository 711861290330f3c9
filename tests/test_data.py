"""Loading Kaggle CSVs: values, missing keypoints, zips, the cache, splits and clear errors."""

import time
import zipfile

import numpy as np
import pytest

from conftest import (SUBSTITUTE_ZIP, kaggle_missing_pattern, needs_substitute_data,
                      synthetic_faces, write_kaggle_csv)
from facial_keypoints.data import DataError, load_data, load_dataset, load_groups, split


def test_values_and_ranges_match_the_file(tmp_path):
    images, keypoints = synthetic_faces(5)
    path = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    data = load_dataset(path)
    assert data.images.shape == (5, 96, 96, 1) and data.images.dtype == np.float32
    np.testing.assert_allclose(data.images[..., 0] * 255, images, atol=1e-3)
    np.testing.assert_allclose(data.keypoints * 48 + 48, keypoints, atol=1e-4)
    assert data.mask.all()


def test_load_data_keeps_the_original_interface(kaggle_csv):
    X, y = load_data(kaggle_csv)
    complete = kaggle_missing_pattern(40).all(axis=1).sum()
    assert X.shape == (complete, 96, 96, 1) and y.shape == (complete, 30)
    assert X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert -1 <= y.min() and y.max() <= 1 and not np.isnan(y).any()
    X2, y2 = load_data(kaggle_csv)
    np.testing.assert_array_equal(y, y2)  # shuffled with a fixed seed
    assert not np.array_equal(y, load_dataset(kaggle_csv).subset(
        load_dataset(kaggle_csv).complete).keypoints)  # ...but shuffled


def test_missing_keypoints_are_kept_with_a_mask(kaggle_csv):
    X, y, mask = load_data(kaggle_csv, complete_only=False)
    assert len(X) == 40
    np.testing.assert_array_equal(np.isnan(y), ~mask)
    assert mask.sum() == kaggle_missing_pattern(40).sum()


def test_zip_reads_like_the_csv(kaggle_csv, tmp_path):
    archive = tmp_path / "training.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(kaggle_csv, "training.csv")
    a, b = load_dataset(kaggle_csv), load_dataset(archive)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_folder_prefers_csv_and_test_files_load(tmp_path):
    images, _ = synthetic_faces(3)
    write_kaggle_csv(tmp_path / "test.csv", images, None, test=True)
    X, y = load_data(tmp_path, test=True)
    assert X.shape == (3, 96, 96, 1) and y is None
    assert list(load_dataset(tmp_path, test=True).image_ids) == [1, 2, 3]


def test_cache_is_used_and_invalidated(kaggle_csv, tmp_path):
    first = load_dataset(kaggle_csv)
    cached = list((tmp_path / "cache").glob("*.npz"))
    assert len(cached) == 1
    again = load_dataset(kaggle_csv)
    np.testing.assert_array_equal(first.keypoints, again.keypoints)
    # Change the file: the cache must not serve the old arrays.
    images, keypoints = synthetic_faces(7, seed=3)
    time.sleep(0.01)
    write_kaggle_csv(kaggle_csv, images, keypoints)
    assert len(load_dataset(kaggle_csv)) == 7


def test_read_only_data_folder_still_loads(kaggle_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("FACIAL_KEYPOINTS_CACHE", "/proc/no-such-place")
    with pytest.warns(UserWarning, match="cache"):
        assert len(load_dataset(kaggle_csv)) == 40


@pytest.mark.parametrize("mutate, message", [
    (lambda lines: lines[:1], "no data rows"),
    (lambda lines: [], "empty"),
    (lambda lines: [lines[0].replace("nose_tip_x,", "")] + [
        ",".join(l.split(",")[:20] + l.split(",")[21:]) for l in lines[1:]], "nose_tip_x"),
    (lambda lines: lines[:3] + [",".join(lines[3].split(",")[:4] + ["abc"] + lines[3].split(",")[5:])]
     + lines[4:],
     r"row 2 \(line 4\), column 'left_eye_inner_corner_x'"),
    (lambda lines: lines[:2] + [lines[2].rsplit(" ", 1)[0]] + lines[3:], r"row 1 \(line 3\).*9215"),
    (lambda lines: lines[:2] + [lines[2].rsplit(" ", 1)[0] + " 300"] + lines[3:],
     r"row 1 \(line 3\).*outside 0-255"),
    (lambda lines: lines[:2] + [lines[2].rsplit(" ", 1)[0] + " x"] + lines[3:],
     r"row 1 \(line 3\).*'x' is not a number"),
])
def test_bad_files_name_the_problem(tmp_path, mutate, message):
    images, keypoints = synthetic_faces(4)
    path = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(mutate(lines)))
    with pytest.raises(DataError, match=message) as error:
        load_dataset(path)
    assert "training.csv" in str(error.value)


def test_missing_file_says_where_to_get_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="kaggle.com"):
        load_data(tmp_path / "nowhere.csv")
    with pytest.raises(FileNotFoundError, match="training.csv or training.zip"):
        load_data(tmp_path)


def test_split_is_deterministic_and_respects_groups(kaggle_csv):
    data = load_dataset(kaggle_csv)
    groups = np.array([f"person{i // 4}" for i in range(40)])
    train, val = split(data, 0.3, seed=1, groups=groups)
    train2, val2 = split(data, 0.3, seed=1, groups=groups)
    np.testing.assert_array_equal(val.rows, val2.rows)
    assert not set(groups[train.rows]) & set(groups[val.rows])
    assert len(train) + len(val) == 40 and len(val) == 12
    _, other = split(data, 0.3, seed=2, groups=groups)
    assert not np.array_equal(other.rows, val.rows)


@needs_substitute_data()
def test_substitute_data_loads_with_groups():
    data = load_dataset(SUBSTITUTE_ZIP)
    assert data.images.shape == (3653, 96, 96, 1) and data.mask.all()
    groups = load_groups(data)
    train, val = split(data, groups=groups)
    assert not set(groups[train.rows]) & set(groups[val.rows])
    assert 0.15 < len(val) / len(data) < 0.25
