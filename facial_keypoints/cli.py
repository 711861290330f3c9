"""The command line: ``python -m facial_keypoints COMMAND ...``. Each command is a thin wrapper
around a library function; ``--help`` on any command lists its options."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

# TensorFlow's start-up chatter hides the output a user asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cmd_train(args):
    from . import export, training
    from .config import PRESETS, with_overrides

    config = with_overrides(
        PRESETS["quick" if args.quick else args.preset],
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
        learning_rate=args.learning_rate, loss=args.loss, augment=args.augment,
        complete_only=args.complete_only, seed=args.seed, max_rows=args.max_rows,
        strategy=args.strategy, align=args.align, time_budget_s=args.time_budget, init=args.init)
    start = time.time()
    data = args.data if args.data and len(args.data) > 1 else (args.data or [None])[0]
    model, history = training.train(data, args.out, config, resume=args.resume)
    best = min(history, key=lambda row: row["val_loss"]) if history else {}
    print(f"trained in {(time.time() - start) / 60:.1f} min; best epoch {best.get('epoch')} "
          f"(val_loss {best.get('val_loss', float('nan')):.3g}); model: {args.out}, "
          f"history: {training.history_path_for(args.out)}")
    if args.onnx:
        onnx_path = Path(args.out).with_suffix(".onnx")
        export.export_onnx(args.out, onnx_path)
        print(f"ONNX twin: {onnx_path}")


def cmd_evaluate(args):
    from .evaluation import evaluate
    from .predictor import load_predictor

    predictor = load_predictor(args.model)
    result = evaluate(predictor.predict, args.data, split=args.split, seed=args.seed,
                      flip_average=args.flip_average, refine=args.refine)
    result["model"] = str(args.model)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['n']} faces ({args.split} split) of {args.data}")
    print(f"RMSE {result['rmse_px']:.3f} px (average face: {result['mean_shape_rmse_px']:.3f} px), "
          f"NME {result['nme']:.4f}, argmax accuracy {result['argmax_acc']:.2%}")
    for name, value in result["per_keypoint_rmse_px"].items():
        print(f"  {name:<26} {value:6.3f} px")


def cmd_submission(args):
    from .data import load_dataset
    from .evaluation import predict_crops
    from .predictor import load_predictor
    from .submission import make_submission

    test = load_dataset(args.test, test=True)
    predicted = predict_crops(load_predictor(args.model).predict, test.images, args.flip_average)
    rows = make_submission(test.image_ids, predicted, args.lookup, args.out)
    print(f"wrote {rows} rows for {len(test)} test images to {args.out}")


def cmd_export(args):
    from .export import run_export

    run_export(args.model, args.out)


def cmd_keypoints(args):
    from .apps import run_keypoints

    run_keypoints(args.paths, model=args.model, as_json=args.json, detector=args.detector,
                  min_score=args.min_score)


def cmd_sunglasses(args):
    from .apps import run_sunglasses

    run_sunglasses(args.input, output=args.output, model=args.model, glasses=args.glasses,
                   detector=args.detector, min_score=args.min_score)


def score(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a score is between 0 and 1, not {text}")
    return value


def add_detector_options(parser):
    parser.add_argument("--detector", choices=["yunet", "haar"], default="yunet",
                        help="face detector: yunet (a CNN, faces at any angle; default) or haar "
                             "(the original project's, upright faces only)")
    parser.add_argument("--min-score", type=score, metavar="0..1",
                        help="keep faces the detector scores at least this high "
                             "(default 0.7 for yunet)")


def build_parser():
    from .architectures import model_names

    parser = argparse.ArgumentParser(
        prog="python -m facial_keypoints",
        description="Find 15 facial keypoints with a CNN and put sunglasses on every face.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a model on Kaggle-format data")
    p.add_argument("--preset", choices=["default", "original", "quick"], default="default",
                   help="a recipe from facial_keypoints.config.PRESETS (default: default)")
    p.add_argument("--quick", action="store_true", help="a smoke run: same as --preset quick")
    p.add_argument("--arch", help=f"model name ({', '.join(model_names())}) or notation like "
                                  "'C(16x2)-C(32x2)-D(512)-D(30)' (default: heatmap)")
    p.add_argument("--data", nargs="+",
                   help="training.csv or .zip, or their folder (default: data/); more files add "
                        "training faces, the first is split for validation")
    p.add_argument("--out", default="models/keypoints.keras", help="where to save (.keras)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="per device under a distribution strategy")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (0: off)")
    p.add_argument("--loss", choices=["mse", "wing"])
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=None,
                   help="train on crops turned upright and framed from their own keypoints")
    p.add_argument("--init", help="start from this .keras model's weights (fine-tuning)")
    p.add_argument("--time-budget", type=float, help="stop after the epoch that passes this "
                                                     "many seconds of training")
    p.add_argument("--complete-only", action=argparse.BooleanOptionalAction, default=None,
                   help="drop rows with missing keypoints (default: keep them, masked)")
    p.add_argument("--max-rows", type=int, help="use only the first N rows")
    p.add_argument("--seed", type=int)
    p.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"])
    p.add_argument("--resume", action="store_true", help="continue from the model at --out")
    p.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=True,
                   help="also export an ONNX twin beside the model (default: on)")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("evaluate", help="RMSE in pixels and more on a data set")
    p.add_argument("--model", help="a .keras or .onnx model (default: models/keypoints.*)")
    p.add_argument("--data", help="training.csv or .zip (default: data/)")
    p.add_argument("--split", choices=["val", "train", "all"], default="val",
                   help="which rows (default: val, the validation split training used)")
    p.add_argument("--seed", type=int, default=42, help="split seed, as used for training")
    p.add_argument("--flip-average", action="store_true",
                   help="average with the prediction on the mirrored face")
    p.add_argument("--refine", action="store_true",
                   help="predict twice, the second time on the crop aligned from the first "
                        "keypoints (for models trained with --align)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser("submission", help="write a Kaggle submission CSV")
    p.add_argument("--model")
    p.add_argument("--test", help="Kaggle's test.csv or test.zip (default: data/)")
    p.add_argument("--lookup", required=True, help="Kaggle's IdLookupTable.csv")
    p.add_argument("--out", default="submission.csv")
    p.add_argument("--flip-average", action="store_true")
    p.set_defaults(run=cmd_submission)

    p = commands.add_parser("export", help="export a .keras model to ONNX")
    p.add_argument("--model", default="models/keypoints.keras")
    p.add_argument("--out", help="default: the model's path with .onnx")
    p.set_defaults(run=cmd_export)

    p = commands.add_parser("keypoints", help="faces and keypoints of images, in photo pixels")
    p.add_argument("paths", nargs="+", help="image files or folders of images")
    p.add_argument("--model")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    add_detector_options(p)
    p.set_defaults(run=cmd_keypoints)

    p = commands.add_parser("sunglasses", help="sunglasses on every face")
    p.add_argument("input", nargs="?", default=None,
                   help="an image, a folder of images, a video file or a camera index "
                        "(default: a bundled photo)")
    p.add_argument("-o", "--output", help="where to write the result")
    p.add_argument("--model")
    p.add_argument("--glasses", help="any RGBA PNG (default: images/sunglasses.png)")
    add_detector_options(p)
    p.set_defaults(run=cmd_sunglasses)
    return parser


# The optional parts of the install (pyproject.toml) and the modules that only they bring.
EXTRAS = {"train": ("tensorflow", "keras", "onnx", "pandas", "matplotlib"),
          "notebooks": ("ipywidgets", "IPython", "ipykernel")}


def missing_extra(error):
    """For a ModuleNotFoundError of an optional module: the one-line fix, else None."""
    top = (error.name or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return (f"this command needs {top}, which comes with the {extra!r} extra: "
                    f"pip install 'facial-keypoints[{extra}]' (or pip install -r requirements.txt)")
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ModuleNotFoundError as error:
        fix = missing_extra(error)
        if fix is None:
            raise
        print(f"error: {fix}", file=sys.stderr)
        return 2
    except ImportError as error:  # e.g. an OpenCV without Haar cascades: the message names the fix
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
