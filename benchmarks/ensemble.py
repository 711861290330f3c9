"""What averaging several keypoint models would buy: each model alone, then the mean of their
keypoints, on the grouped validation split and on AFW's whole path.

    python benchmarks/ensemble.py runs/heatmap90.int8.onnx runs/wide90.int8.onnx runs/residual90.int8.onnx

Each face's keypoints are the mean of the models' keypoints, on every look the path takes (first
pass, refined pass, second looks). Figures per row: validation RMSE and NME as
``evaluate --refine`` measures them, with one look and with the mirror look on the last pass
(each model less its own mirror bias; a model that holds none looks once), and AFW's mean NME,
success@0.10 and median ms per photo for the settings ``yunet`` and ``yunet, mirror look`` of
``benchmarks/afw.py``.
Models are ONNX files (their 8-bit twins for the time a photo path would take).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import afw  # noqa: E402
from facial_keypoints import data as datasets, metrics  # noqa: E402
from facial_keypoints.evaluation import predict_refined  # noqa: E402
from facial_keypoints.predictor import OnnxPredictor  # noqa: E402


class Average:
    """Models that answer as one: the mean of their normalised ``(N, 15, 2)`` keypoints."""

    def __init__(self, models):
        self.models = models
        mirrored = all(m.flip_offset is not None for m in models)
        # Each model removes its own bias; the mean needs none of its own.
        self.flip_offset = np.zeros((15, 2), np.float32) if mirrored else None

    def predict(self, crops, flip_average=False):
        return np.mean([m.predict(crops, flip_average) for m in self.models], axis=0)


def measure(predictor, val, photos):
    """One row: validation as ``evaluate --refine [--flip-average]`` (the mirror look on the last
    pass only, as photos get it), then AFW."""
    row = {}
    for label, flip in (("one look", False), ("mirror look", True)):
        def last_look(batch, flip=flip):
            return predictor.predict(batch, flip_average=flip)

        predicted = predict_refined(predictor.predict, val.images, last_look)
        row[f"val RMSE px, {label}"] = metrics.rmse_px(val.keypoints, predicted)
        row[f"val NME, {label}"] = metrics.nme(val.keypoints, predicted)
    settings = ["yunet", "yunet, mirror look"]
    errors, seconds, returned, detecting = afw.evaluate(photos, predictor, settings,
                                                        progress=False)
    for result, label in zip(afw.summarise(errors, seconds, returned, detecting),
                             ("one look", "mirror look")):
        row[f"AFW NME, {label}"] = result["nme_mean"]
        row[f"AFW success@0.10, {label}"] = result["success_010"]
        row[f"AFW ms per photo, {label}"] = result["ms_per_photo_median"]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="ONNX keypoint models")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "kaggle-format"
                                              / "training.zip"),
                        help="training.csv/.zip whose grouped validation split is measured")
    parser.add_argument("--afw", type=Path, default=afw.DEFAULT_DATA, help="AFW folder")
    args = parser.parse_args(argv)

    data = datasets.load_dataset(args.data)
    _, val = datasets.split(data, groups=datasets.load_groups(data))
    photos = afw.load_faces(args.afw)
    models = [OnnxPredictor(path) for path in args.models]
    rows = {Path(path).name: measure(model, val, photos)
            for path, model in zip(args.models, models)}
    if len(models) > 1:
        rows[f"mean of {len(models)}"] = measure(Average(models), val, photos)
    columns = list(next(iter(rows.values())))
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        cells = [f"{value:.1f}" if "ms" in column else f"{value:.4f}"
                 for column, value in row.items()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
