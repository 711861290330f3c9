"""The command line end to end on small Kaggle-format files: train, evaluate --json, submission."""

import json

import numpy as np
import pandas as pd

from conftest import kaggle_missing_pattern, synthetic_faces, write_kaggle_csv
from facial_keypoints.cli import main
from facial_keypoints.keypoints import KEYPOINT_NAMES


def test_train_evaluate_and_submission(tmp_path, capsys):
    images, keypoints = synthetic_faces(48, seed=7)
    keypoints[~kaggle_missing_pattern(48)] = np.nan
    train_csv = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    model = tmp_path / "m.keras"
    assert main(["train", "--quick", "--arch", "original-5", "--epochs", "1", "--data",
                 str(train_csv), "--out", str(model)]) == 0
    assert model.exists() and model.with_suffix(".onnx").exists()
    assert model.with_suffix(".int8.onnx").exists()  # the 8-bit twin, calibrated on the data

    capsys.readouterr()
    assert main(["evaluate", "--model", str(model.with_suffix(".onnx")), "--data", str(train_csv),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["per_keypoint_rmse_px"]) == set(KEYPOINT_NAMES)
    assert result["n"] > 0 and result["rmse_px"] > 0 and 0 <= result["argmax_acc"] <= 1
    assert result["mean_shape_rmse_px"] > 0 and result["nme"] > 0
    assert "by_source" not in result  # no sources file beside the data

    # With a sources file that names two sources, the figures come per source as well.
    pd.DataFrame({"group": [f"person{i // 4}" for i in range(48)],
                  "source_dataset": ["video" if i % 3 else "photo" for i in range(48)]}).to_csv(
        tmp_path / "training_sources.csv", index=False)
    assert main(["evaluate", "--model", str(model.with_suffix(".onnx")), "--data", str(train_csv),
                 "--json", "--split", "all"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    by_source = result["by_source"]
    assert set(by_source) == {"photo", "video"}
    assert by_source["photo"]["n"] == 16 and by_source["video"]["n"] == 32
    # the whole set's RMSE lies between its parts'
    assert min(s["rmse_px"] for s in by_source.values()) <= result["rmse_px"] \
        <= max(s["rmse_px"] for s in by_source.values())

    test_csv = write_kaggle_csv(tmp_path / "test.csv", images[:3], None, test=True)
    lookup = pd.DataFrame({"RowId": [1, 2, 3], "ImageId": [1, 3, 3],
                           "FeatureName": ["nose_tip_x", "left_eye_center_y", "mouth_left_corner_x"],
                           "Location": [None] * 3})
    lookup.to_csv(tmp_path / "IdLookupTable.csv", index=False)
    out = tmp_path / "submission.csv"
    assert main(["submission", "--model", str(model), "--test", str(test_csv), "--lookup",
                 str(tmp_path / "IdLookupTable.csv"), "--out", str(out)]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["RowId", "Location"] and list(written.RowId) == [1, 2, 3]
    assert written.Location.between(0, 96).all()

    # With the mirror look: other keypoints, still in the crop.
    mirrored = tmp_path / "mirrored.csv"
    assert main(["submission", "--model", str(model), "--test", str(test_csv), "--lookup",
                 str(tmp_path / "IdLookupTable.csv"), "--out", str(mirrored),
                 "--flip-average"]) == 0
    looked_twice = pd.read_csv(mirrored).Location
    assert looked_twice.between(0, 96).all() and not np.allclose(looked_twice, written.Location)
    figures = []
    for flip in ([], ["--flip-average"]):
        assert main(["evaluate", "--model", str(model.with_suffix(".int8.onnx")), "--data",
                     str(train_csv), "--refine", "--json"] + flip) == 0
        figures.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rmse_px"])
    assert np.isfinite(figures).all() and figures[0] != figures[1]


def test_missing_data_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(tmp_path)]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_a_command_missing_an_optional_part_names_the_extra_to_install(monkeypatch, capsys):
    import sys

    from facial_keypoints import cli

    import facial_keypoints

    monkeypatch.setitem(sys.modules, "keras", None)  # as if the 'train' extra were not installed
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    for module in ("training", "export", "architectures", "layers"):  # imported by earlier tests
        monkeypatch.delitem(sys.modules, f"facial_keypoints.{module}", raising=False)
        monkeypatch.delattr(facial_keypoints, module, raising=False)
    assert cli.main(["train", "--quick", "--data", "nowhere.csv", "--out", "x.keras"]) == 2
    assert "pip install 'facial-keypoints[train]'" in capsys.readouterr().err
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    assert "listed with the 'train' extra installed" in " ".join(train.format_help().split())
