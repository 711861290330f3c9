"""Keras models, built from the original project's compact notation or by name.

The notation (from the original write-up):

* ``C(32)``    one Conv2D(32, 3x3, padding "same", ReLU) followed by MaxPool(2).
* ``C(32x2)``  two such convolutions, then one MaxPool(2).
* ``D(256)``   Dense(256, ReLU) followed by Dropout(0.5) (the original's rule: dropout after every
  hidden dense layer).
* ``D(30)``    the last block: the output layer of 30 numbers, with ``last_activation``
  (``"tanh"`` or ``None``) and no dropout.

Blocks are joined by ``-``. A Flatten sits between the last C block and the first D block.

Models take ``(batch, 96, 96, 1)`` float32 images in [0, 1] and predict ``(batch, 30)`` keypoints
in normalised coordinates (see :mod:`facial_keypoints.keypoints`).
"""

import re
import zipfile
from pathlib import Path

import keras
from keras import layers

from .errors import InputError, reason
from .keypoints import IMAGE_SIZE, NUM_COORDS
from .layers import SoftArgmax  # also registers it with Keras, so saved models that use it load

# The original's final model ("inspired by VGG-16/19"): 2,852,942 parameters.
ORIGINAL_FINAL = "C(16x2)-C(32x2)-C(64x3)-C(128x3)-D(512)-D(30)"

# The original's comparison table: name -> (structure, last activation, batch size, its "Max Acc").
# "Max Acc" was Keras' argmax accuracy, kept only to line up with the original's figures.
ORIGINAL_TABLE = {
    "original-1": ("C(32)-C(64)-C(128)-D(256)-D(1000)-D(30)", "tanh", 256, 0.7196),
    "original-2": ("C(32)-C(64)-C(128)-D(512)-D(30)", "tanh", 256, 0.7150),
    "original-3": ("C(32)-C(64)-C(128)-D(512)-D(30)", None, 256, 0.7103),
    "original-4": ("C(16)-C(32)-C(64)-C(128)-D(512)-D(30)", "tanh", 256, 0.7196),
    "original-5": ("C(16)-C(32)-C(64)-C(128)-D(512)-D(30)", None, 256, 0.7430),
    "original-6": ("C(16)-C(32)-C(64)-C(128)-D(512)-D(30)", None, 64, 0.7477),
    "original-7": ("C(16)-C(32)-C(64)-C(128)-D(512)-D(30)", None, 16, 0.7874),
    "original-8": ("C(16)-C(32)-C(64)-C(128)-D(512)-D(30)", "tanh", 16, 0.7593),
    "original-9": (ORIGINAL_FINAL, "tanh", 16, 0.8154),
}

_BLOCK = re.compile(r"^([CD])\((\d+)(?:x(\d+))?\)$")


def parse_spec(spec):
    """``"C(16x2)-D(30)"`` -> ``[("C", 16, 2), ("D", 30, 1)]``; a clear ValueError otherwise."""
    blocks = []
    for part in spec.replace(" ", "").split("-"):
        match = _BLOCK.match(part)
        if not match:
            raise InputError(
                f"bad block {part!r} in architecture {spec!r}: expected C(filters), "
                "C(filtersxrepeats) or D(units), e.g. 'C(16x2)-C(32)-D(512)-D(30)'"
            )
        kind, width, repeats = match.group(1), int(match.group(2)), int(match.group(3) or 1)
        if kind == "D" and repeats != 1:
            raise InputError(f"dense block {part!r} in {spec!r} cannot repeat; write D(units)")
        blocks.append((kind, width, repeats))
    kinds = "".join(kind for kind, _, _ in blocks)
    if not re.fullmatch(r"C*D+", kinds):
        raise InputError(f"architecture {spec!r} must be C blocks followed by D blocks")
    if blocks[-1][1] != NUM_COORDS:
        raise InputError(f"architecture {spec!r} must end in D({NUM_COORDS}), one per coordinate")
    return blocks


def build_model(spec=ORIGINAL_FINAL, last_activation="tanh", dropout=0.5, name=None):
    """Build (not compile) a Keras model from the original's notation.

    ``last_activation`` is ``"tanh"`` (outputs confined to [-1, 1]) or ``None`` (linear), the two
    choices of the original table.
    """
    blocks = parse_spec(spec)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    flattened = False
    for i, (kind, width, repeats) in enumerate(blocks):
        if kind == "C":
            for _ in range(repeats):
                x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D(2)(x)
            continue
        if not flattened:
            x = layers.Flatten()(x)
            flattened = True
        last = i == len(blocks) - 1
        x = layers.Dense(width, activation=last_activation if last else "relu",
                         name="keypoints" if last else None)(x)
        if not last and dropout:
            x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, x, name=name or _model_name(spec))


def _model_name(spec):
    return re.sub(r"[^0-9A-Za-z]+", "_", spec).strip("_").lower()


def build_resnet(widths=(32, 64, 128, 256), name="keypoint_resnet"):
    """A residual CNN with batch normalisation and a small head.

    Four stages at 48, 24, 12 and 6 pixels; each stage is a strided 3x3 convolution followed by a
    residual pair of 3x3 convolutions. Global average pooling keeps the head small, and a linear
    output predicts normalised coordinates (no tanh: points may legitimately sit near the border).
    """
    def conv_bn(x, filters, stride=1, relu=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x) if relu else x

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = conv_bn(inputs, widths[0] // 2)
    for filters in widths:
        x = conv_bn(x, filters, stride=2)
        shortcut = x
        x = conv_bn(x, filters)
        x = conv_bn(x, filters, relu=False)
        x = layers.ReLU()(layers.Add()([x, shortcut]))
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(NUM_COORDS, name="keypoints")(x)
    return keras.Model(inputs, outputs, name=name)


def build_vgg_bn(spec="C(32x2)-C(64x2)-C(128x2)-C(256x2)", dense=256, name="keypoint_vgg_bn"):
    """The original's VGG-style stack with batch normalisation after every convolution, a
    smaller dense head and a linear output."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    for kind, width, repeats in parse_spec(spec + f"-D({NUM_COORDS})")[:-1]:
        for _ in range(repeats):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(NUM_COORDS, name="keypoints")(x)
    return keras.Model(inputs, outputs, name=name)


def build_heatmap(widths=(16, 32, 64), dilations=(1, 2, 4, 8), fine=False, stem=False,
                  residual=False, name="keypoint_heatmap"):
    """The project's default model: heatmaps and a soft-argmax instead of a dense head.

    Two VGG-style stages with batch normalisation bring the crop down to 24x24; then dilated
    3x3 convolutions (rates ``dilations``) widen the view to the whole face without losing
    resolution, a 1x1 convolution draws one heatmap per keypoint, and ``layers.SoftArgmax`` turns
    each map into an (x, y). About 150,000 parameters, 20 times fewer than the original.

    ``fine``: heatmaps at 48x48 instead: the 24x24 features, thinned by a 1x1 convolution and
    doubled in size, are joined with the second stage's 48x48 features (before its pooling) and
    one more 3x3 convolution draws the maps, so each cell covers 2 crop pixels, not 4.

    ``stem``: the first stage is one strided 3x3 convolution (96x96 to 48x48) instead of two
    convolutions at 96x96 and a pooling: the full-resolution stage is a fifth of the model's time
    and, the maps being 24x24, buys little. ``residual``: each dilated convolution after the first
    adds its input back (a shortcut), so a deeper stack still trains from the start.
    """
    def conv_bn(x, filters, dilation=1, size=3, strides=1):
        x = layers.Conv2D(filters, size, strides=strides, padding="same", dilation_rate=dilation,
                          use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    if fine and len(widths) < 3:
        raise ValueError("fine heatmaps join the second stage's 48x48 features: give 3 widths")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    for i, filters in enumerate(widths[:-1]):
        if stem and i == 0:
            x = conv_bn(x, filters, strides=2)
            continue
        sharp = conv_bn(conv_bn(x, filters), filters)
        x = layers.MaxPooling2D(2)(sharp)
    for dilation in dilations:
        shortcut = x
        x = conv_bn(x, widths[-1], dilation)
        if residual and shortcut.shape[-1] == widths[-1]:
            x = layers.Add()([shortcut, x])
    if fine:
        coarse = layers.UpSampling2D(2, interpolation="bilinear")(conv_bn(x, widths[0], size=1))
        x = conv_bn(layers.Concatenate()([coarse, sharp]), widths[1])
    heatmaps = layers.Conv2D(NUM_COORDS // 2, 1, name="heatmaps")(x)
    outputs = SoftArgmax(name="keypoints")(heatmaps)
    return keras.Model(inputs, outputs, name=name)


def _original_row(name):
    spec, activation, _, _ = ORIGINAL_TABLE[name]
    return lambda: build_model(spec, activation, name=name.replace("-", "_"))


# Every model a user can ask for by name: the nine original rows, the original's final model, and
# the project's own. Each entry builds a fresh, uncompiled model.
MODELS = {
    **{name: _original_row(name) for name in ORIGINAL_TABLE},
    "original": lambda: build_model(ORIGINAL_FINAL, "tanh", name="original"),
    "vgg-bn": build_vgg_bn,
    "resnet": build_resnet,
    "heatmap": build_heatmap,
    "heatmap48": lambda: build_heatmap(fine=True, name="keypoint_heatmap48"),
    "heatmap-residual": lambda: build_heatmap(dilations=(1, 2, 4, 8, 1), stem=True, residual=True,
                                              name="keypoint_heatmap_residual"),
    # 80 channels instead of 64 at 24x24: 1.5 times the parameters, within the 8-bit time budget.
    "heatmap-wide": lambda: build_heatmap(widths=(16, 32, 80), name="keypoint_heatmap_wide"),
}


def model_names():
    """The names :func:`get_model` knows, in the order of :data:`MODELS`."""
    return list(MODELS)


def check_name(name_or_spec):
    """InputError unless :func:`get_model` can build ``name_or_spec``: a name of :data:`MODELS`
    or valid notation. Cheap: builds nothing."""
    if name_or_spec in MODELS:
        return
    if name_or_spec.startswith(("C(", "D(")):
        parse_spec(name_or_spec)
        return
    raise InputError(f"unknown model {name_or_spec!r}: use one of {model_names()} or a notation "
                     "like 'C(16x2)-C(32x2)-D(512)-D(30)'")


def get_model(name_or_spec, last_activation="tanh"):
    """Build a model by name (see :data:`MODELS`) or from a notation string."""
    check_name(name_or_spec)
    if name_or_spec in MODELS:
        return MODELS[name_or_spec]()
    return build_model(name_or_spec, last_activation)


def load_model(path, **options):
    """Load a ``.keras`` model saved by this project (its custom layers included), uncompiled
    unless ``options`` say otherwise (they go to ``keras.models.load_model``).

    Raises FileNotFoundError, or InputError for a file that is not a loadable Keras model (cut
    short, something else, or holding code that Keras' safe mode refuses), naming the path."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a Keras model (a .keras file is a zip archive; this one is "
                         "damaged or something else)")
    try:
        return keras.models.load_model(path, **{"compile": False, **options})
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: cannot be loaded as a Keras model: {reason(error)}") from error
