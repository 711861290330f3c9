"""Training: a masked loss, batches, checkpoints that survive a crash (settings: :mod:`.config`).

Targets travel through Keras as ``(N, 60)``: the 30 normalised keypoints (missing ones set to 0)
followed by a 30-value mask (1 = present). The losses below use the mask, so a missing keypoint
adds nothing to the loss or its gradient, and all 7049 rows of Kaggle's file can be used.
"""

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from . import data as datasets
from .architectures import check_name, get_model, load_model
from .augment import Augmentation, align_batch, alignments, augment_batch
from .config import TrainConfig
from .errors import InputError, reason
from .keypoints import HALF, NUM_COORDS


# ----------------------------------------------------------------------------- losses

def pack_targets(keypoints, mask):
    """Normalised keypoints ``(N, 30)`` (NaN = missing) and mask -> ``(N, 60)`` training targets."""
    return np.concatenate([np.nan_to_num(keypoints, nan=0.0), mask], axis=1).astype(np.float32)


def _unpack(y_true, y_pred):
    values, mask = y_true[:, :NUM_COORDS], y_true[:, NUM_COORDS:]
    return (y_pred - values) * mask, mask


def masked_mse(y_true, y_pred):
    """Mean squared error (normalised units) over present keypoint values only."""
    diff, mask = _unpack(y_true, y_pred)
    return ops.sum(diff**2) / ops.maximum(ops.sum(mask), 1.0)


def masked_wing(y_true, y_pred, width_px=4.0, curvature_px=1.0):
    """Wing loss (Feng et al. 2018) in crop pixels over present values, scaled to MSE's range.

    Logarithmic for errors below ``width_px`` (small errors still pull hard), linear above it
    (a few bad labels pull no harder than a good one).
    """
    diff, mask = _unpack(y_true, y_pred)
    error = ops.abs(diff) * HALF
    offset = width_px - width_px * math.log(1.0 + width_px / curvature_px)
    wing = ops.where(error < width_px, width_px * ops.log(1.0 + error / curvature_px), error - offset)
    return ops.sum(wing * mask) / ops.maximum(ops.sum(mask), 1.0) / HALF**2


def batch_rmse_px(y_true, y_pred):
    """Masked RMSE in crop pixels of one batch: the figure Keras' progress bar and the history
    show (``batch_rmse_px``, ``val_batch_rmse_px``). Keras averages it over an epoch's batches,
    which is close to, but not, the RMSE of the whole set: for that, see
    :func:`.metrics.rmse_px`."""
    return ops.sqrt(masked_mse(y_true, y_pred)) * HALF


LOSSES = {"mse": masked_mse, "wing": masked_wing}
# Models saved before the metric's rename name it "rmse_px".
CUSTOM_OBJECTS = {"masked_mse": masked_mse, "masked_wing": masked_wing,
                  "batch_rmse_px": batch_rmse_px, "rmse_px": batch_rmse_px}


# ----------------------------------------------------------------------------- batches

class Batches(keras.utils.PyDataset):
    """``(images, targets)`` batches of a :class:`~.data.KeypointData`, reshuffled (and
    re-augmented) every epoch.

    ``align``: every face is first turned upright and framed from its own keypoints
    (:func:`~.augment.alignments`). ``settings``: the ranges of the random changes.

    ``multiple_of`` trims the data to a multiple of that many rows: a distribution strategy
    needs every batch to split evenly over its replicas (at most ``multiple_of - 1`` rows are left
    out, different ones every epoch when shuffling)."""

    def __init__(self, data, batch_size, augment, seed, shuffle=True, multiple_of=1, align=False,
                 settings=Augmentation()):
        super().__init__()
        self.data, self.batch_size, self.augment, self.shuffle = data, batch_size, augment, shuffle
        self.settings = settings
        self.matrices = alignments(data.keypoints) if align else None
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(data)) if shuffle else np.arange(len(data))
        self.order = self.order[:len(data) - len(data) % multiple_of]

    def __len__(self):
        return math.ceil(len(self.order) / self.batch_size)

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        images, keypoints = self.data.images[rows], self.data.keypoints[rows]
        aligned = None if self.matrices is None else self.matrices[rows]
        if self.augment:
            images, keypoints = augment_batch(images, keypoints, self.rng, self.settings, aligned)
        elif aligned is not None:
            images, keypoints = align_batch(images, keypoints, aligned)
        return images, pack_targets(keypoints, ~np.isnan(keypoints))

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.data))[:len(self.order)]


# ----------------------------------------------------------------------------- callbacks

class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the model whenever its validation loss is the best so far: to a side file first,
    then renamed over ``path``, so an interrupted run never leaves a half-written model.

    ``best``: the best validation loss before this run (a resumed run passes its history's), so
    that a worse epoch after a restart never replaces a better model."""

    def __init__(self, path, best=math.inf):
        super().__init__()
        self.path, self.best = path, best

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_loss"] < self.best:
            self.best = logs["val_loss"]
            save_atomic(self.model, self.path)


class HistoryFile(keras.callbacks.Callback):
    """Keep ``NAME.history.json`` beside the model up to date after every epoch: the run's
    settings and one row per epoch (its logs, seconds and learning rate)."""

    def __init__(self, path, settings, previous=()):
        super().__init__()
        self.path, self.settings, self.epochs = path, settings, list(previous)
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        row = {key: float(value) for key, value in logs.items()}
        row.update(epoch=epoch + 1, seconds=round(time.time() - self.start, 1),
                   learning_rate=float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        self.epochs.append(row)
        self.start = time.time()
        _write_json(self.path, {"config": self.settings, "epochs": self.epochs})


class TimeBudget(keras.callbacks.Callback):
    """Stop at the end of the first epoch that ends past ``seconds`` of training, so models can
    be compared under the same budget of time rather than of epochs. With ``peak``, also set the
    learning rate before every batch from the share of the budget spent
    (:func:`budget_learning_rate`): a decay planned over epochs that never all run would stop
    near its start."""

    def __init__(self, seconds, peak=None):
        super().__init__()
        self.seconds, self.peak = seconds, peak
        self.start = time.time()

    def on_train_batch_begin(self, batch, logs=None):
        if self.peak is not None:
            spent = (time.time() - self.start) / self.seconds
            self.model.optimizer.learning_rate = budget_learning_rate(spent, self.peak)

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def callbacks_for(config, out_path, settings, previous=(), best=math.inf):
    """The callbacks of a run: checkpoint, history file, and the schedule and stopping rules
    that ``config`` asks for. ``previous``: the history rows of the run being resumed; ``best``:
    the validation loss an epoch must beat to be saved."""
    callbacks = [AtomicCheckpoint(out_path, best),
                 HistoryFile(history_path_for(out_path), settings, previous)]
    if config.ema:
        # First: the averaged weights go into the model for validation and stay there through
        # the epoch's other callbacks, so the checkpoint saves them.
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    cosine = config.schedule == "cosine"
    if config.time_budget_s:
        callbacks.append(TimeBudget(config.time_budget_s, config.learning_rate if cosine else None))
    elif cosine:
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_learning_rate(epoch, config.epochs, config.learning_rate)))
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            "val_loss", min_delta=config.min_delta, patience=config.patience,
            restore_best_weights=True))
    return callbacks


def cosine_learning_rate(epoch, epochs, peak, warmup=3):
    """Linear warm-up for ``warmup`` epochs, then cosine decay to 1% of ``peak``."""
    if epoch < warmup:
        return peak * (epoch + 1) / warmup
    progress = (epoch - warmup) / max(1, epochs - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def budget_learning_rate(spent, peak, warmup=0.05):
    """The learning rate once the share ``spent`` of a time budget is used (0 at the start, 1 at
    the end): linear warm-up over the first ``warmup`` of it, then cosine decay to 1% of ``peak``
    at the end of the budget, and 1% past it."""
    if spent < warmup:
        return peak * max(0.01, spent / warmup)
    progress = min(1.0, (spent - warmup) / (1 - warmup))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomic(model, path):
    """``model.save(path)`` through a temporary file and an atomic rename."""
    path = Path(path)
    partial = path.with_name(f".{path.stem}.partial.keras")
    model.save(partial)
    os.replace(partial, path)


def history_path_for(model_path):
    """``models/NAME.keras`` -> ``models/NAME.history.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".history.json")


def _read_history(path):
    return json.loads(Path(path).read_text())["epochs"] if Path(path).exists() else []


def _write_json(path, payload):
    partial = Path(path).with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=1))
    os.replace(partial, path)


# ----------------------------------------------------------------------------- the run

def get_strategy(name):
    """A ``tf.distribute`` strategy by name: default (one device), mirrored (all local GPUs, or
    CPUs) or multi-worker (machines listed in $TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InputError(f"unknown strategy {name!r}: use default, mirrored or multi-worker")


def train(data, out_path, config=TrainConfig(), val_data=None, resume=False, overwrite=False,
          verbose=1):
    """Train a model on ``data`` (a KeypointData, or a path for :func:`data.load_dataset`, or a
    list of those: the first is split for validation, the others only add training faces, less
    any of the first's validation people, see :func:`data.without_people`).

    The validation set is ``val_data`` or a split of ``data`` (grouped by person when the data
    set says who is who; see :func:`data.split`). The best model (lowest val_loss) is written to
    ``out_path`` (``.keras``), and the per-epoch history to ``NAME.history.json`` beside it.

    An existing model at ``out_path`` is never replaced by accident: ``resume=True`` continues
    from it at the next epoch (and keeps it unless an epoch beats the best validation loss in its
    history, or, with no history, its own validation loss), ``overwrite=True`` starts again from
    scratch; with neither, FileExistsError.

    Returns ``(model, history)``: the model as the last epoch left it (the best one is at
    ``out_path``) and the list of per-epoch dicts.
    """
    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise InputError(f"models are saved in Keras 3's format: {out_path} must end in .keras")
    history_path = history_path_for(out_path)
    resuming = resume and out_path.exists()
    if not (resuming or overwrite):
        if out_path.exists():
            raise FileExistsError(f"{out_path} exists: resume training it (--resume), replace it "
                                  "(--overwrite), or choose another --out")
        if history_path.exists():
            raise FileExistsError(f"{history_path} exists without its model {out_path.name}: "
                                  "replace it (--overwrite) or choose another --out")
    if not resuming:
        check_name(config.arch)  # before the data is read
    keras.utils.set_random_seed(config.seed)
    data, val_data, sources = _training_sets(data, val_data, config)

    settings = {**asdict(config), "data": sources, "train_rows": len(data),
                "val_rows": len(val_data), "resume": resume}
    strategy = get_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        if resuming:
            model = load_model(out_path, compile=True, custom_objects=CUSTOM_OBJECTS)
        else:
            model = get_model(config.arch, config.last_activation)
            if config.init:
                _start_from(model, config.init, config.arch)
            averaging = dict(use_ema=bool(config.ema), ema_momentum=config.ema or 0.99)
            optimizer = (keras.optimizers.AdamW(config.learning_rate,
                                                weight_decay=config.weight_decay, **averaging)
                         if config.weight_decay
                         else keras.optimizers.Adam(config.learning_rate, **averaging))
            model.compile(optimizer, loss=LOSSES[config.loss], metrics=[batch_rmse_px])
    previous = _read_history(history_path) if resuming else []
    if len(previous) >= config.epochs:
        return model, previous

    out_path.parent.mkdir(parents=True, exist_ok=True)
    jitter = Augmentation(rotation=config.rotation, scale=config.scale, shift=config.shift,
                          flip=config.flip, occlusion=config.occlusion, blur=config.blur)
    batches = Batches(data, config.batch_size * replicas, config.augment, config.seed,
                      multiple_of=replicas, align=config.align, settings=jitter)
    val = Batches(val_data, 256, augment=False, seed=0, shuffle=False, multiple_of=replicas,
                  align=config.align)
    # The loss to beat: the history's best, or, resuming without one, the model's own.
    best = min((row["val_loss"] for row in previous), default=math.inf)
    if resuming and not previous:
        best = model.evaluate(val, verbose=0, return_dict=True)["loss"]
    model.fit(batches, validation_data=val, epochs=config.epochs, initial_epoch=len(previous),
              callbacks=callbacks_for(config, out_path, settings, previous, best),
              verbose=verbose)
    return model, _read_history(history_path)


def _start_from(model, path, arch):
    """Copy the weights of the model at ``path`` into ``model`` (fine-tuning); InputError naming
    the file when they do not fit."""
    weights = load_model(path).get_weights()
    try:
        model.set_weights(weights)
    except ValueError as error:
        raise InputError(f"{path}: its weights do not fit a {arch!r} model "
                         f"({reason(error)})") from error


def _training_sets(data, val_data, config):
    """``(training set, validation set, names of the sources)`` from what :func:`train` was
    given, or DataError when they leave nothing to learn from."""
    parts = list(data) if isinstance(data, (list, tuple)) else [data]
    parts = [p if isinstance(p, datasets.KeypointData) else datasets.load_dataset(p)
             for p in parts]
    if config.max_rows:
        parts = [p.subset(np.arange(min(config.max_rows, len(p)))) for p in parts]
    data, extras = parts[0], parts[1:]
    source = data.path or "the training data"
    if val_data is None:  # the same split evaluation.evaluate() uses
        groups = datasets.load_groups(data)
        data, val_data = datasets.split(data, config.val_fraction, config.seed, groups=groups)
        if groups is not None and extras:
            people = set(datasets.load_groups(val_data))
            extras = [datasets.without_people(extra, people) for extra in extras]
    extras = [datasets.without_keypoints(extra, config.extra_ignore) for extra in extras]
    data = datasets.concatenate([data] + extras)
    if config.complete_only:
        data, val_data = data.subset(data.complete), val_data.subset(val_data.complete)
    for name, rows in (("training", data), ("validation", val_data)):
        if len(rows) == 0:
            raise datasets.DataError(
                f"{source}: no rows left for {name} ({len(parts[0])} row(s) in all"
                + (", complete rows only" if config.complete_only else "")
                + f", {config.val_fraction:.0%} of them for validation)")
        if np.isnan(rows.keypoints).all():
            raise datasets.DataError(f"{source}: the {name} rows have no keypoints at all: "
                                     "every keypoint column is empty")
    return data, val_data, [str(p.path) for p in parts]
