"""What a training run depends on, as plain data: :class:`TrainConfig` and the named presets.

No TensorFlow here: the command line, the notebooks and the benchmarks read and change settings
without loading it. :func:`~.training.train` takes a :class:`TrainConfig`.
"""

from dataclasses import dataclass, replace

from .errors import InputError
from .keypoints import KEYPOINT_NAMES


@dataclass
class TrainConfig:
    """Everything a training run depends on. Presets below are instances of this."""

    arch: str = "heatmap"  # a name from architectures.model_names() or a notation string
    last_activation: str = "tanh"  # only for notation strings
    epochs: int = 60
    batch_size: int = 32  # per replica under a distribution strategy
    learning_rate: float = 2e-3
    schedule: str = "cosine"  # "cosine" (warm-up, then cosine decay) or "constant"; the decay
    # runs over ``epochs``, or over ``time_budget_s`` when that is set
    weight_decay: float = 1e-4  # AdamW; 0 gives the original's plain Adam
    ema: float = 0.0  # momentum of an exponential moving average of the weights (Polyak
    # averaging), which is what validation measures and the checkpoint saves; 0 = off
    loss: str = "wing"  # "mse" or "wing"
    augment: bool = True
    # Ranges of the random geometric change (+-), drawn uniformly per face: degrees, relative
    # size, fraction of the crop side. With ``align`` they stand for what the alignment at
    # inference leaves (models/README.md measures it).
    rotation: float = 15.0
    scale: float = 0.1
    shift: float = 0.06
    flip: float = 0.0  # probability of a horizontal flip (left/right labels swapped); off: the
    # substitute data's left/right labels are not mirror images of each other, and a model
    # trained on mirrored faces learns a blur of both definitions (models/README.md)
    occlusion: float = 0.0  # probability of a grey rectangle over part of a training face
    blur: float = 0.0  # probability of a Gaussian blur of a training face
    align: bool = True  # train on crops turned upright and framed from their own keypoints, as
    # the photo path cuts them (models/README.md: what it bought)
    init: str = ""  # start from this .keras model's weights (fine-tuning) instead of random ones
    extra_ignore: tuple = ()  # keypoint names left out of the extra data files (the second and
    # later ones), where they are defined otherwise than in the first (MTFL: "nose_tip")
    complete_only: bool = False  # drop rows with missing keypoints (the original did)
    patience: int = 0  # early stopping on val_loss; 0 = off
    min_delta: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 42
    max_rows: int = 0  # use at most this many rows (0 = all): for smoke runs
    time_budget_s: float = 0  # stop after the epoch that passes this many seconds (0 = no limit)
    strategy: str = "default"  # "default", "mirrored" or "multi-worker"

    def __post_init__(self):
        for name, low in (("epochs", 1), ("batch_size", 1), ("max_rows", 0), ("patience", 0),
                          ("time_budget_s", 0), ("weight_decay", 0), ("min_delta", 0),
                          ("rotation", 0), ("scale", 0), ("shift", 0)):
            if getattr(self, name) < low:
                raise InputError(f"{name} must be at least {low}, not {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise InputError(f"ema is a momentum, at least 0 and below 1, not {self.ema}")
        for name in ("flip", "occlusion", "blur"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"{name} is a probability, between 0 and 1, "
                                 f"not {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise InputError(f"learning_rate must be above 0, not {self.learning_rate}")
        if not 0 < self.val_fraction < 1:
            raise InputError(f"val_fraction must be between 0 and 1, not {self.val_fraction}")
        unknown = set(self.extra_ignore) - set(KEYPOINT_NAMES)
        if unknown:
            raise InputError(f"extra_ignore: no keypoint named {', '.join(sorted(unknown))}; "
                             f"the names are {', '.join(KEYPOINT_NAMES)}")
        for name, allowed in (("schedule", ("cosine", "constant")), ("loss", ("mse", "wing")),
                              ("strategy", ("default", "mirrored", "multi-worker"))):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, "
                                 f"not {getattr(self, name)!r}")


PRESETS = {
    # The original project's recipe, as published: its final VGG-style model, plain Adam, MSE, batch
    # 16, early stopping with patience 10, complete rows only, no augmentation.
    "original": TrainConfig(arch="original", epochs=100, batch_size=16, learning_rate=1e-3,
                            schedule="constant", weight_decay=0.0, loss="mse", augment=False,
                            align=False, complete_only=True, patience=10),
    # The project's recipe (see models/README.md for what each part buys).
    "default": TrainConfig(),
    # A smoke run: a few hundred rows, two epochs.
    "quick": TrainConfig(epochs=2, max_rows=256, batch_size=32),
}


def with_overrides(config, **overrides):
    """A copy of ``config`` with the given fields changed; None values are ignored."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
