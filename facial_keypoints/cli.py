"""The command line: ``python -m facial_keypoints COMMAND ...`` (or ``facial-keypoints COMMAND``).

Every command lives here, each a short function over the library: ``keypoints`` and ``sunglasses``
for photos, folders, videos and cameras; ``train``, ``evaluate``, ``export`` and ``submission`` for
models. ``--help`` on any command lists its options.

Bad input ends a command with one line naming the file and what is wrong, and exit status 2
(``--debug`` shows the traceback instead); anything else is a bug and keeps its traceback. No
command replaces a file that the user did not name.
"""

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import video
from .config import PRESETS, with_overrides
from .detectors import load_detector
from .errors import InputError
from .faces import find_keypoints
from .keypoints import HALF, named
from .photos import (OUTPUT_SUFFIXES, VIDEO_SUFFIXES, check_output, fresh_path, image_paths,
                     read_image, sample_photo, write_image)
from .predictor import load_predictor
from .sunglasses import load_glasses, put_sunglasses

# TensorFlow's start-up chatter hides the output a user asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Videos are written with the mp4v codec, which these containers hold.
VIDEO_OUTPUT_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv"}


# ----------------------------------------------------------------------------- photos and videos

def cmd_keypoints(args):
    """Faces and keypoints of photos, one line per photo: JSON with ``--json``, else a summary.
    Exit status 1 when no photo could be read."""
    predictor, detector = load_predictor(args.model), detector_from(args)
    done = failed = 0
    for path in image_paths(args.paths):
        try:
            image = read_image(path)
        except (InputError, OSError) as error:
            record, failed = {"image": path, "error": str(error)}, failed + 1
        else:
            record = keypoints_record(path, image, find_keypoints(image, predictor, detector))
            done += 1
        print(json.dumps(record) if args.json else summary(record), flush=True)
    if not done:
        print(f"error: none of the {failed} input(s) could be read" if failed
              else f"error: no photos in {' '.join(args.paths)}", file=sys.stderr)
        return 1
    return 0


def keypoints_record(path, image, faces):
    """The JSON-ready result for one photo: its size and each face's box, score, angle (degrees
    clockwise) and named keypoints, box and keypoints in photo pixels (x, y)."""
    height, width = image.shape[:2]
    return {"image": str(path), "width": width, "height": height,
            "faces": [{"box": [round(float(v), 1) for v in face["box"]],
                       "score": face["score"], "angle": face["angle"],
                       "keypoints": {name: [round(x, 2), round(y, 2)]
                                     for name, (x, y) in named(face["keypoints"]).items()}}
                      for face in faces]}


def summary(record):
    """A readable version of :func:`keypoints_record`'s result."""
    if "error" in record:
        return f"{record['image']}: error: {record['error']}"
    lines = [f"{record['image']}: {record['width']}x{record['height']}, "
             f"{len(record['faces'])} face(s)"]
    for i, face in enumerate(record["faces"]):
        eyes = [face["keypoints"][n] for n in ("left_eye_center", "right_eye_center")]
        lines.append(f"  face {i}: box {face['box']}, score {face['score']:.2f}, eyes at "
                     + " and ".join(f"({x:.1f}, {y:.1f})" for x, y in eyes))
    return "\n".join(lines)


def cmd_sunglasses(args):
    """Sunglasses on a photo (writes a photo), a folder of photos (a folder), a video file (an
    mp4v video) or a camera index (a window; ``-o`` also records). With no input, the bundled
    photo. Without ``-o`` the output is ``sunglasses_<input name>`` in the current folder, with a
    number added when that name is taken."""
    source = args.input if args.input is not None else str(sample_photo())
    camera = video.is_camera(source)
    if not camera and not Path(source).exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    kind = ("camera" if camera else "folder" if Path(source).is_dir()
            else "video" if Path(source).suffix.lower() in VIDEO_SUFFIXES else "photo")
    output = output_for(kind, source, args.output)
    glasses = load_glasses(args.glasses)  # a bad glasses file fails before the model loads
    predictor, detector = load_predictor(args.model), detector_from(args)
    settings = dict(predictor=predictor, glasses=glasses, detector=detector)

    if kind == "camera":
        video.show_window(int(source), output=output, **settings)
        if output is not None:
            print(f"wrote {output}")
    elif kind == "folder":
        return sunglasses_folder(Path(source), output, predictor, glasses, detector)
    elif kind == "video":
        frames = video.write_video(source, output, show_fps=False, **settings)
        print(f"wrote {output} ({frames} frames)")
    else:
        image = read_image(source)
        faces = find_keypoints(image, predictor, detector)
        write_image(output, put_sunglasses(image, faces, glasses))
        print(f"wrote {output} ({len(faces)} face(s))")
    return 0


def output_for(kind, source, output):
    """Where ``sunglasses`` writes: ``output`` checked for the kind of input, or a fresh default
    name (None for a camera without one)."""
    if kind == "camera":
        return None if output is None else check_output(output, VIDEO_OUTPUT_SUFFIXES, "video")
    if output is not None:
        if kind == "folder":
            if Path(output).exists() and not Path(output).is_dir():
                raise InputError(f"{output} is a file: the output of a folder is a folder")
            return Path(output)
        if kind == "video" and Path(output).resolve() == Path(source).resolve():
            raise InputError(f"{output} is the video being read: name another output")
        suffixes = VIDEO_OUTPUT_SUFFIXES if kind == "video" else OUTPUT_SUFFIXES
        return check_output(output, suffixes, kind if kind == "video" else "image")
    source = Path(source)
    name = {"folder": source.resolve().name, "video": f"{source.stem}.mp4",
            "photo": source.name}[kind]
    default = Path(f"sunglasses_{name}")
    if kind == "photo" and default.suffix.lower() not in OUTPUT_SUFFIXES:
        default = default.with_suffix(".png")
    return fresh_path(default)


def sunglasses_folder(folder, output, predictor, glasses, detector):
    """Every photo of ``folder`` into ``output`` under the same names (``name-2.jpg``, ... where a
    file is already there: the originals too, when ``output`` is ``folder``), with a progress
    bar; photos that cannot be read are named and skipped. Exit status 1 when none could be."""
    paths = list(image_paths([folder]))
    written = 0
    for path in tqdm(paths, unit="photo"):
        try:
            image = read_image(path)
        except (InputError, OSError) as error:
            tqdm.write(f"skipped {path}: {error}")
            continue
        faces = find_keypoints(image, predictor, detector)
        write_image(fresh_path(output / Path(path).name), put_sunglasses(image, faces, glasses))
        written += 1
    print(f"wrote {written} of {len(paths)} photo(s) to {output}/")
    return 0 if written else 1


def detector_from(args):
    """The detector that ``--detector`` and ``--min-score`` ask for."""
    if args.detector == "haar" or args.min_score is None:
        return load_detector(args.detector)
    return load_detector(args.detector, min_score=args.min_score)


# ----------------------------------------------------------------------------- models
# These commands need the `train` extra (TensorFlow, pandas): they import it when they run, so
# that the commands above work with the filter's light install.

def cmd_train(args):
    """Train a model. Without ``--out`` it goes to a new file under ``runs/``; an existing
    ``--out`` needs ``--resume`` or ``--overwrite``, its ONNX twin too."""
    from . import export, training

    config = with_overrides(
        PRESETS["quick" if args.quick else args.preset],
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
        learning_rate=args.learning_rate, ema=args.ema, loss=args.loss, augment=args.augment,
        rotation=args.rotation, scale=args.scale, shift=args.shift, flip=args.flip,
        occlusion=args.occlusion, blur=args.blur,
        complete_only=args.complete_only, seed=args.seed, max_rows=args.max_rows,
        strategy=args.strategy, align=args.align, time_budget_s=args.time_budget, init=args.init,
        extra_ignore=tuple(args.extra_ignore) if args.extra_ignore else None)
    out = Path(args.out) if args.out else fresh_path(
        Path("runs") / f"keypoints-{time.strftime('%Y%m%d-%H%M%S')}.keras")
    twins = [out.with_suffix(".onnx"), export.int8_path(out.with_suffix(".onnx"))]
    for twin in twins if args.onnx and not (args.resume or args.overwrite) else []:
        if twin.exists():
            raise FileExistsError(f"{twin} exists: resume training its model (--resume), "
                                  "replace them all (--overwrite), or choose another --out")
    start = time.time()
    data = args.data if args.data and len(args.data) > 1 else (args.data or [None])[0]
    _, history = training.train(data, out, config, resume=args.resume, overwrite=args.overwrite)
    best = min(history, key=lambda row: row["val_loss"])
    print(f"trained in {(time.time() - start) / 60:.1f} min; best epoch {best['epoch']} "
          f"(val_loss {best['val_loss']:.3g}); model: {out}, "
          f"history: {training.history_path_for(out)}")
    if args.onnx:
        export.export_onnx(out, twins[0])
        print(f"ONNX twin: {twins[0]}")
        try:
            write_int8_twin(twins[0], (args.data or [None])[0])
        except InputError as error:  # the model is kept; the predictor uses the float twin
            twins[1].unlink(missing_ok=True)  # an older model's, which --overwrite gave up
            print(f"warning: no 8-bit twin: {error}", file=sys.stderr)
    return 0


def write_int8_twin(onnx_path, data_path):
    """Finish the ONNX twins of a model from the training side of the data file's usual split
    (the validation faces stay unseen): learn the float twin's mirror bias
    (:func:`~.export.record_flip_offset`), then write the 8-bit twin
    (:func:`~.export.quantize_int8`) and learn its own. InputError when the 8-bit twin would
    move the keypoints too far (the float twin keeps its bias)."""
    from .data import load_dataset, load_groups, split
    from .export import calibration_crops, int8_path, quantize_int8, record_flip_offset

    data = load_dataset(data_path)
    train, _ = split(data, groups=load_groups(data))
    print_flip_offset(onnx_path, record_flip_offset(onnx_path, train.images))
    crops = calibration_crops(onnx_path, train.images)
    path, moved = quantize_int8(onnx_path, int8_path(onnx_path), crops)
    print(f"8-bit twin: {path}; on {len(crops)} calibration faces its keypoints lie {moved:.2f} "
          "px (of the 96x96 crop) from the float model's on average")
    print_flip_offset(path, record_flip_offset(path, train.images))


def print_flip_offset(path, offset):
    x, y = np.asarray(offset).mean(axis=0) * HALF  # normalised -> crop pixels
    print(f"{path}: mirror bias learned on the training faces, mean x {x:+.2f} px, "
          f"y {y:+.2f} px (of the 96x96 crop)")


def cmd_evaluate(args):
    """RMSE in crop pixels, NME and per-keypoint figures on a data set's split."""
    from .evaluation import evaluate

    result = evaluate(load_predictor(args.model).predict, args.data, split=args.split,
                      seed=args.seed, flip_average=args.flip_average, refine=args.refine)
    result["model"] = str(args.model)
    if args.json:  # a figure with no faces behind it (a keypoint absent from the split) is null
        print(json.dumps(finite_or_none(result), allow_nan=False))
        return 0
    print(f"{result['n']} faces ({args.split} split) of {args.data}")
    print(f"RMSE {result['rmse_px']:.3f} px (average face: {result['mean_shape_rmse_px']:.3f} px), "
          f"NME {result['nme']:.4f}, argmax accuracy {result['argmax_acc']:.2%}")
    print("mean offset x {:+.2f} px, y {:+.2f} px".format(*result["mean_offset_px"]))
    for name, value in result["per_keypoint_rmse_px"].items():
        print(f"  {name:<26} {value:6.3f} px")
    for name, figures in result.get("by_source", {}).items():
        print(f"source {name}: {figures['n']} faces, RMSE {figures['rmse_px']:.3f} px, "
              f"NME {figures['nme']:.4f}")
    return 0


def finite_or_none(value):
    """``value`` with every NaN or infinite float, in nested dicts too, replaced by None: JSON has
    no NaN."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def cmd_submission(args):
    """A Kaggle submission CSV from Kaggle's test file and lookup table."""
    from .data import load_dataset
    from .evaluation import flip_offset, predict_crops
    from .submission import make_submission

    out = check_output(args.out, {".csv"}, "CSV") if args.out else fresh_path("submission.csv")
    predict = load_predictor(args.model).predict
    test = load_dataset(args.test, test=True)
    # The mirror bias, learned on the test faces themselves (it needs no labels), framed as
    # they are: the one a twin holds was learned on aligned crops, which these are not.
    offset = flip_offset(predict, test.images) if args.flip_average else None
    predicted = predict_crops(predict, test.images, args.flip_average, offset)
    rows = make_submission(test.image_ids, predicted, args.lookup, out)
    print(f"wrote {rows} rows for {len(test)} test images to {out}")
    return 0


def cmd_export(args):
    """A ``.keras`` model to ONNX, checked against Keras; with ``--int8`` its 8-bit twin too,
    calibrated on the faces of ``--data``. Without ``--out``, beside the model with ``.onnx``
    (and ``.int8.onnx``); a file already there that was not named is replaced only with
    ``--overwrite``."""
    from .export import TOLERANCE, export_onnx, int8_path

    out = check_output(args.out, {".onnx"}, "ONNX") if args.out else \
        Path(args.model).with_suffix(".onnx")
    unnamed = ([] if args.out else [out]) + ([int8_path(out)] if args.int8 else [])
    for path in [] if args.overwrite else unnamed:
        if path.exists():
            raise FileExistsError(f"{path} exists: replace it (--overwrite) or name another "
                                  "--out")
    out = export_onnx(args.model, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); it matches {args.model} within "
          f"{TOLERANCE:g} normalised units")
    if args.int8:
        write_int8_twin(out, args.data)
    return 0


# ----------------------------------------------------------------------------- arguments

def probability(text):
    """An argparse type: a number from 0 to 1."""
    value = at_least(0, float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"a probability is at most 1, not {text}")
    return value


def at_least(low, kind=int):
    """An argparse type: a number of ``kind`` that is at least ``low``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {text}")
        return value
    return parse


def score(text):
    """An argparse type: a detector score between 0 and 1."""
    value = at_least(0.0, float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"a score is between 0 and 1, not {text}")
    return value


def add_detector_options(parser):
    parser.add_argument("--detector", choices=["yunet", "haar"], default="yunet",
                        help="face detector: yunet (a CNN, faces at any angle; default) or haar "
                             "(the original project's, upright faces only)")
    parser.add_argument("--min-score", type=score, metavar="0..1",
                        help="keep faces the detector scores at least this high "
                             "(default 0.7 for yunet)")


class ModelNamesInHelp(argparse.HelpFormatter):
    """Fills ``{model names}`` in a help text from the registry in :mod:`.architectures`, when the
    help is shown: that needs Keras, which the commands on photos never load (and which the
    filter's light install does not have)."""

    def _get_help_string(self, action):
        help = super()._get_help_string(action)
        if "{model names}" in (help or ""):
            try:
                from .architectures import model_names
            except ModuleNotFoundError:  # the light install: no Keras, no models to train
                names = "listed with the 'train' extra installed"
            else:
                names = ", ".join(model_names())
            help = help.replace("{model names}", names)
        return help


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's own default must not undo a --debug given before the command.
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the full traceback instead of one line")
    parser = argparse.ArgumentParser(
        prog="python -m facial_keypoints", parents=[common],
        description="Find 15 facial keypoints with a CNN and put sunglasses on every face.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, run, help):
        p = commands.add_parser(name, help=help, description=run.__doc__, parents=[common],
                                formatter_class=ModelNamesInHelp)
        p.set_defaults(run=run)
        return p

    p = command("sunglasses", cmd_sunglasses, "sunglasses on every face")
    p.add_argument("input", nargs="?", default=None,
                   help="an image, a folder of images, a video file or a camera index "
                        "(default: a bundled photo)")
    p.add_argument("-o", "--output", help="where to write the result (default: "
                                          "sunglasses_<input name>, never replacing a file)")
    p.add_argument("--model", help="a .onnx or .keras model (default: the shipped one)")
    p.add_argument("--glasses", help="any RGBA PNG (default: images/sunglasses.png)")
    add_detector_options(p)

    p = command("keypoints", cmd_keypoints, "faces and keypoints of images, in photo pixels")
    p.add_argument("paths", nargs="+", help="image files or folders of images")
    p.add_argument("--model", help="a .onnx or .keras model (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    add_detector_options(p)

    p = command("train", cmd_train, "train a model on Kaggle-format data")
    p.add_argument("--preset", choices=["default", "original", "quick"], default="default",
                   help="a recipe from facial_keypoints.config.PRESETS (default: default)")
    p.add_argument("--quick", action="store_true", help="a smoke run: same as --preset quick")
    p.add_argument("--arch", help="model name ({model names}) or notation like "
                                  "'C(16x2)-C(32x2)-D(512)-D(30)' (default: heatmap)")
    p.add_argument("--data", nargs="+",
                   help="training.csv or .zip, or their folder (default: data/); more files add "
                        "training faces, the first is split for validation")
    p.add_argument("--extra-ignore", nargs="+", metavar="KEYPOINT",
                   help="keypoints to leave out of the second and later --data files, where "
                        "they are defined otherwise (MTFL: nose_tip)")
    p.add_argument("--out", help="where to save (.keras; default: a new file under runs/)")
    p.add_argument("--resume", action="store_true", help="continue from the model at --out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the model at --out (and its history and ONNX twins)")
    p.add_argument("--epochs", type=at_least(1))
    p.add_argument("--batch-size", type=at_least(1), help="per device under a distribution "
                                                          "strategy")
    p.add_argument("--learning-rate", type=at_least(1e-12, float))
    p.add_argument("--ema", type=probability, metavar="MOMENTUM",
                   help="validate and save a moving average of the weights, e.g. 0.999 "
                        "(default 0: off)")
    p.add_argument("--patience", type=at_least(0),
                   help="early-stopping patience in epochs (0: off)")
    p.add_argument("--loss", choices=["mse", "wing"])
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--rotation", type=at_least(0, float),
                   help="augmentation: random rotation up to +- this many degrees (default 15)")
    p.add_argument("--scale", type=at_least(0, float),
                   help="augmentation: random size change up to +- this share (default 0.1)")
    p.add_argument("--shift", type=at_least(0, float),
                   help="augmentation: random shift up to +- this share of the crop (default 0.06)")
    p.add_argument("--flip", type=probability,
                   help="augmentation: probability of a mirrored face, left/right labels swapped "
                        "(default 0: off)")
    p.add_argument("--occlusion", type=probability,
                   help="augmentation: probability of a grey rectangle over part of the face "
                        "(default 0: off)")
    p.add_argument("--blur", type=probability,
                   help="augmentation: probability of a Gaussian blur (default 0: off)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=None,
                   help="train on crops turned upright and framed from their own keypoints")
    p.add_argument("--init", help="start from this .keras model's weights (fine-tuning)")
    p.add_argument("--time-budget", type=at_least(1, float),
                   help="stop after the epoch that passes this many seconds of training")
    p.add_argument("--complete-only", action=argparse.BooleanOptionalAction, default=None,
                   help="drop rows with missing keypoints (default: keep them, masked)")
    p.add_argument("--max-rows", type=at_least(1), help="use only the first N rows")
    p.add_argument("--seed", type=int)
    p.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"])
    p.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=True,
                   help="also export ONNX twins beside the model, float and 8-bit "
                        "(default: on)")

    p = command("evaluate", cmd_evaluate, "RMSE in pixels and more on a data set")
    p.add_argument("--model", help="a .keras or .onnx model (default: models/keypoints.*)")
    p.add_argument("--data", help="training.csv or .zip (default: data/)")
    p.add_argument("--split", choices=["val", "train", "all"], default="val",
                   help="which rows (default: val, the validation split training used)")
    p.add_argument("--seed", type=int, default=42, help="split seed, as used for training")
    p.add_argument("--flip-average", action="store_true",
                   help="average with the prediction on the mirrored face, less the model's "
                        "mirror bias learned on the training side")
    p.add_argument("--refine", action="store_true",
                   help="predict twice, the second time on the crop aligned from the first "
                        "keypoints (for models trained with --align)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("submission", cmd_submission, "write a Kaggle submission CSV")
    p.add_argument("--model")
    p.add_argument("--test", help="Kaggle's test.csv or test.zip (default: data/)")
    p.add_argument("--lookup", required=True, help="Kaggle's IdLookupTable.csv")
    p.add_argument("--out", help="where to write (.csv; default: submission.csv, or -2, -3, ... "
                                  "when that is taken)")
    p.add_argument("--flip-average", action="store_true",
                   help="average with the prediction on the mirrored face, less the model's "
                        "mirror bias, learned on the test faces (no labels needed)")

    p = command("export", cmd_export, "export a .keras model to ONNX")
    p.add_argument("--model", default="models/keypoints.keras")
    p.add_argument("--out", help="default: the model's path with .onnx")
    p.add_argument("--int8", action="store_true",
                   help="also write the 8-bit twin (.int8.onnx), about twice as fast a crop, "
                        "and learn both twins' mirror bias (for --flip-average and the mirror "
                        "look on photos)")
    p.add_argument("--data", help="training.csv or .zip whose faces calibrate the 8-bit twin "
                                  "and teach the mirror bias (default: data/)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the ONNX files beside the model when they are there")
    return parser


# ----------------------------------------------------------------------------- errors

# The optional parts of the install (pyproject.toml) and the modules that only they bring.
EXTRAS = {"train": ("tensorflow", "keras", "onnx", "tf2onnx", "pandas", "matplotlib"),
          "notebooks": ("ipywidgets", "IPython", "ipykernel", "anywidget")}


def missing_extra(error):
    """For a ModuleNotFoundError of an optional module: the one-line fix, else None."""
    top = (error.name or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return (f"this command needs {top}, which comes with the {extra!r} extra: "
                    f"pip install 'facial-keypoints[{extra}]' (or pip install -r requirements.txt)")
    return None


def user_error(error):
    """The one line to print for an error the user can fix, or None for a bug (which keeps its
    traceback): bad input, a file that is missing, taken or not writable, a missing extra."""
    if isinstance(error, InputError):
        return str(error)
    if isinstance(error, ModuleNotFoundError):
        return missing_extra(error)
    if isinstance(error, (FileNotFoundError, FileExistsError, PermissionError,
                          IsADirectoryError, NotADirectoryError)) or (
            isinstance(error, OSError) and error.errno is not None):
        return str(error)
    return None


def show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (skipped video frames, a rebuilt cache) as one line each, not Python's four."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    args = build_parser().parse_args(argv)
    warnings.showwarning = show_warning
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        message = user_error(error)
        if message is None or getattr(args, "debug", False):
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
