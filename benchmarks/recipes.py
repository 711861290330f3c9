"""What each change to the training recipe buys: train candidates, print a table.

Each candidate is the default preset with some fields changed (on Haar-framed crops unless it
says "aligned", on faces mirrored half the time unless it says "not mirrored"); all are trained
on the same data and measured on the same grouped validation split, for RMSE in pixels (as
the crops are; averaged over a horizontal flip, less the model's mirror bias learned on the
training side; and cut again from the first keypoints as the photo path does: ``--refine``),
the time taken and the parameter count.

    python benchmarks/recipes.py --data ../shared/data/kaggle-format/training.zip --epochs 20
    python benchmarks/recipes.py --data ... --time-budget 1500 --only "heatmap, wing" "heatmap48, wing"

With ``--time-budget`` every candidate gets the same seconds of training (and its cosine decay
runs over them) instead of the same number of epochs.

The shipped model goes one step beyond a candidate here: three models of the default recipe teach
a fourth (``benchmarks/distill.py``), whose whole chain is ``models/reproduce.sh``; the model
card's "What each change bought" has the figures of each step.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facial_keypoints import data as datasets  # noqa: E402
from facial_keypoints.evaluation import evaluate  # noqa: E402
from facial_keypoints.config import PRESETS, with_overrides  # noqa: E402
from facial_keypoints.training import train  # noqa: E402

CANDIDATES = {
    "original recipe": dict(arch="original", loss="mse", augment=False, schedule="constant",
                            weight_decay=0.0, batch_size=16, learning_rate=1e-3),
    "original + augmentation": dict(arch="original", loss="mse", schedule="constant",
                                    weight_decay=0.0, batch_size=16, learning_rate=1e-3),
    "vgg-bn, mse": dict(arch="vgg-bn", loss="mse"),
    "vgg-bn, wing": dict(arch="vgg-bn"),
    "vgg-bn, wing, no augmentation": dict(arch="vgg-bn", augment=False),
    "resnet, wing": dict(arch="resnet"),
    "heatmap, mse, no augmentation": dict(arch="heatmap", loss="mse", augment=False),
    "heatmap, mse": dict(arch="heatmap", loss="mse"),
    "heatmap, wing": dict(arch="heatmap"),
    "heatmap48, wing": dict(arch="heatmap48"),
    "heatmap, wing, aligned": dict(arch="heatmap", align=True),
    "heatmap, wing, aligned, small jitter": dict(arch="heatmap", align=True, rotation=8,
                                                 shift=0.03),
    "heatmap-residual, wing, aligned": dict(arch="heatmap-residual", align=True),
    "heatmap, wing, aligned, not mirrored": dict(arch="heatmap", align=True, flip=0.0),
    "heatmap, wing, aligned, not mirrored, averaged weights": dict(arch="heatmap", align=True,
                                                                   flip=0.0, ema=0.999),
    "heatmap-wide, wing, aligned, not mirrored, averaged weights": dict(
        arch="heatmap-wide", align=True, flip=0.0, ema=0.999),
    "heatmap, wing, aligned, not mirrored, averaged weights, occluded and blurred": dict(
        arch="heatmap", align=True, flip=0.0, ema=0.999, occlusion=0.5, blur=0.3),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="training.csv/.zip (default: data/)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--time-budget", type=float, default=0,
                        help="seconds of training per candidate (then --epochs is only a cap)")
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    parser.add_argument("--out", default="runs/recipes", help="folder for the trained models")
    args = parser.parse_args()

    data = datasets.load_dataset(args.data)
    rows = []
    for name, overrides in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        config = with_overrides(PRESETS["default"], epochs=args.epochs,
                                time_budget_s=args.time_budget,
                                **{"align": False, "flip": 0.5, **overrides})
        start = time.time()
        model, history = train(data, Path(args.out) / (name.replace(" ", "_").replace(",", "") + ".keras"),
                         config, overwrite=True, verbose=2)
        seconds = time.time() - start
        plain = evaluate(model.predict_on_batch, data)
        flipped = evaluate(model.predict_on_batch, data, flip_average=True)
        refined = evaluate(model.predict_on_batch, data, refine=True)
        rows.append({"candidate": name, "rmse_px": plain["rmse_px"],
                     "rmse_px_flip_average": flipped["rmse_px"], "nme": flipped["nme"],
                     "rmse_px_refine": refined["rmse_px"],
                     "mean_shape_rmse_px": plain["mean_shape_rmse_px"],
                     "params": model.count_params(), "train_s": seconds, "epochs": len(history)})
        print(json.dumps(rows[-1]), flush=True)

    print("\n| candidate | val RMSE px | + flip avg | --refine | NME | params | train time | "
          "epochs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['candidate']} | {r['rmse_px']:.2f} | {r['rmse_px_flip_average']:.2f} | "
              f"{r['rmse_px_refine']:.2f} | "
              f"{r['nme']:.4f} | {r['params']:,} | {r['train_s'] / 60:.1f} min | "
              f"{r['epochs']} |")
    if rows:
        print(f"\naverage face (mean shape): {rows[0]['mean_shape_rmse_px']:.2f} px")


if __name__ == "__main__":
    main()
