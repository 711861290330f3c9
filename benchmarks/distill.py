"""A training file for a model taught by several: each training face's keypoints moved halfway
to the mean of the models' keypoints; validation faces keep their own labels.

    python benchmarks/distill.py models/keypoints.int8.onnx runs/wide80.int8.onnx runs/residual90.int8.onnx \
        --data ../shared/data/kaggle-format/training.zip --out runs/distill/training.csv
    python -m facial_keypoints train --data runs/distill/training.csv --epochs 90 --ema 0.999 --out runs/distill90.keras

The models' keypoints are found as the photo path finds them (``evaluate --refine``: a first
pass, then a second on the crop aligned from it), one look each. The grouped split is the same as
the original file's (its ``training_sources.csv`` is copied beside the new file), so validation
still measures against the true labels of faces no model was trained on. Writes a Kaggle-format
CSV; an existing ``--out`` is not replaced.
"""

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facial_keypoints import data as datasets  # noqa: E402
from facial_keypoints.evaluation import predict_refined  # noqa: E402
from facial_keypoints.keypoints import COLUMNS, IMAGE_COLUMN, to_pixels  # noqa: E402
from facial_keypoints.predictor import OnnxPredictor  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="ONNX keypoint models to average")
    parser.add_argument("--data", required=True, help="the training.csv/.zip to relabel")
    parser.add_argument("--out", required=True, type=Path, help="the new training .csv")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists: name another --out")

    data = datasets.load_dataset(args.data)
    _, val = datasets.split(data, groups=datasets.load_groups(data))
    models = [OnnxPredictor(path) for path in args.models]
    teacher = predict_refined(lambda batch: np.mean([m.predict(batch) for m in models], axis=0),
                              data.images)
    is_val = np.isin(data.rows, val.rows)
    labels = np.where(is_val[:, None], data.keypoints, (data.keypoints + teacher) / 2)

    frame = pd.DataFrame(to_pixels(labels), columns=COLUMNS)
    frame[IMAGE_COLUMN] = [" ".join(map(str, np.round(image[..., 0] * 255).astype(int).ravel()))
                           for image in data.images]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.partial")
    frame.to_csv(partial, index=False)
    partial.replace(args.out)
    shutil.copy(Path(data.path).parent / "training_sources.csv", args.out.parent)
    print(f"wrote {args.out}: {len(data) - is_val.sum()} training faces relabelled, "
          f"{is_val.sum()} validation faces as they were")
    return 0


if __name__ == "__main__":
    sys.exit(main())
