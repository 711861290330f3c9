"""A training file for a model taught by several: each training face's keypoints moved halfway
to the mean of the models' keypoints; validation faces keep their own labels. With ``--extra``,
an extra training file (e.g. MTFL's, 5 of 15 keypoints) labelled wholly by the models.

    python benchmarks/distill.py runs/heatmap90.int8.onnx runs/wide90.int8.onnx runs/residual90.int8.onnx \
        --data ../shared/data/kaggle-format/training.zip --out runs/distill/training.csv
    python -m facial_keypoints train --data runs/distill/training.csv --epochs 90 --ema 0.999 --out runs/distill90.keras

    python benchmarks/distill.py runs/heatmap90.int8.onnx runs/wide90.int8.onnx runs/residual90.int8.onnx \
        --data ../shared/data/kaggle-format-mtfl/training.zip --extra --out runs/pseudo-mtfl/training.csv
    python -m facial_keypoints train --data runs/distill/training.csv runs/pseudo-mtfl/training.csv \
        --init runs/distill90.keras --epochs 16 --learning-rate 5e-4 --ema 0.999 --out runs/keypoints.keras

(The shipped model's whole chain, the teachers' training included: ``models/reproduce.sh``.)

The models' keypoints are found as the photo path finds them (``evaluate --refine``: a first
pass, then a second on the crop aligned from it), one look each. The main file keeps the grouped
split ``train`` makes by default (seed 42, 20% of the groups): validation still measures against
the true labels of faces no model was trained on, as long as the new file is trained with those
defaults (another ``--seed`` would validate on moved labels). The file's
``training_sources.csv`` is written beside the new file (for ``--extra``, the lines of the faces
kept, with their line in the original file as ``source_row``), so that training finds the same
groups, and leaves out validation people from an extra file
(:func:`facial_keypoints.data.without_people`). Writes a Kaggle-format CSV; an existing ``--out``,
or a ``training_sources.csv`` already in its folder, is not replaced.

``--extra``: every face of the file gets all 15 of the models' keypoints, so that its own
labels, which may define the points otherwise (MTFL's nose tip sits higher), and its missing
ones no longer matter. A face whose own keypoints the models' disagree with by more than
``--max-disagreement`` px (:func:`disagreement_px`) is left out: there the models are likely
wrong.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from ensemble import Average  # noqa: E402
from facial_keypoints import data as datasets  # noqa: E402
from facial_keypoints.evaluation import predict_refined  # noqa: E402
from facial_keypoints.keypoints import COLUMNS, IMAGE_COLUMN, to_pixels  # noqa: E402
from facial_keypoints.predictor import OnnxPredictor  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="ONNX keypoint models to average")
    parser.add_argument("--data", required=True, help="the training.csv/.zip to relabel")
    parser.add_argument("--out", required=True, type=Path, help="the new training .csv")
    parser.add_argument("--extra", action="store_true",
                        help="an extra training file: label every face wholly by the models")
    parser.add_argument("--max-disagreement", type=float, default=3.0, metavar="PX",
                        help="with --extra: leave out faces whose own keypoints the models' "
                             "disagree with by more than this (default 3.0 px RMS)")
    args = parser.parse_args(argv)
    sources_out = args.out.parent / "training_sources.csv"
    for path in (args.out, sources_out):
        if path.exists():
            parser.error(f"{path} exists: name an --out in another folder")

    data = datasets.load_dataset(args.data)
    teachers = Average([OnnxPredictor(path) for path in args.models])
    teacher = predict_refined(teachers.predict, data.images)
    sources = datasets.sources_table(data)
    if args.extra:
        keep = disagreement_px(teacher, data.keypoints, data.mask) <= args.max_disagreement
        data, labels = data.subset(keep), teacher[keep]
        summary = (f"{keep.sum()} faces labelled by the models, {(~keep).sum()} left out "
                   f"(disagreeing by more than {args.max_disagreement} px)")
    else:
        _, val = datasets.split(data, groups=datasets.load_groups(data))
        is_val = np.isin(data.rows, val.rows)
        labels = np.where(is_val[:, None], data.keypoints, (data.keypoints + teacher) / 2)
        summary = (f"{len(data) - is_val.sum()} training faces relabelled, {is_val.sum()} "
                   "validation faces as they were")

    frame = pd.DataFrame(to_pixels(labels), columns=COLUMNS)
    frame[IMAGE_COLUMN] = [" ".join(map(str, np.round(image[..., 0] * 255).astype(int).ravel()))
                           for image in data.images]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if sources is not None:  # first: a training file without its groups would split at random
        lines = sources.iloc[data.rows].copy()
        if args.extra:
            lines["source_row"] = data.rows
            lines["row"] = np.arange(len(lines))
        write_atomic(lines, sources_out)
    write_atomic(frame, args.out)
    print(f"wrote {args.out}: {summary}")
    return 0


def write_atomic(frame, path):
    """``frame`` as a CSV at ``path``, whole or not at all."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.to_csv(partial, index=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def disagreement_px(teacher, keypoints, mask):
    """Per face, the RMS distance in crop pixels between the models' keypoints and the file's
    own, over the keypoints the file has, after each keypoint's mean difference over the file
    (the two definitions' offset) is taken away. ``teacher``, ``keypoints``: normalised
    ``(N, 30)``; ``mask``: ``(N, 30)``, True where the file has the value. A face with none of
    its own keypoints has nothing to disagree with: 0. (The offset is the plain mean, outliers
    included, as for the shipped model's training file; on MTFL the largest is the nose tip's,
    2.84 px.)"""
    difference = to_pixels(teacher) - to_pixels(keypoints)
    difference = np.where(mask, difference, 0)
    offset = difference.sum(axis=0) / np.maximum(mask.sum(axis=0), 1)
    difference = np.where(mask, difference - offset, 0)
    squared = difference[:, 0::2] ** 2 + difference[:, 1::2] ** 2
    present = mask[:, 0::2].sum(axis=1)
    return np.sqrt(squared.sum(axis=1) / np.maximum(present, 1))


if __name__ == "__main__":
    sys.exit(main())
