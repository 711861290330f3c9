"""Models from the original's notation: structure, parameter counts, save and load."""

import numpy as np
import pytest

from facial_keypoints.architectures import (ORIGINAL_TABLE, build_model, get_model, model_names,
                                            parse_spec)


def test_final_model_has_the_original_parameter_count():
    model = build_model("C(16x2)-C(32x2)-C(64x3)-C(128x3)-D(512)-D(30)", last_activation="tanh")
    assert model.count_params() == 2_852_942
    assert model.output_shape == (None, 30)
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 10 and kinds.count("MaxPooling2D") == 4
    assert kinds.count("Dropout") == 1  # after D(512), not after the output
    assert model.layers[-1].activation.__name__ == "tanh"


def test_every_original_row_builds_with_its_activation():
    assert len(ORIGINAL_TABLE) == 9
    for name, (spec, activation, _, _) in ORIGINAL_TABLE.items():
        model = get_model(name)
        assert model.layers[-1].activation.__name__ == (activation or "linear"), name
        dense = [l for l in model.layers if l.__class__.__name__ == "Dense"]
        assert [l.units for l in dense] == [w for k, w, _ in parse_spec(spec) if k == "D"]


@pytest.mark.parametrize("bad", ["C(16)-D(29)", "D(30)-C(16)", "C(16x)-D(30)", "X(3)-D(30)",
                                 "D(30x2)"])
def test_bad_notation_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="architecture|block"):
        parse_spec(bad)


def test_every_named_model_predicts_and_survives_keras_format(tmp_path):
    import keras

    x = np.random.default_rng(0).random((2, 96, 96, 1), dtype=np.float32)
    for name in ["original", "vgg-bn", "resnet"]:
        assert name in model_names()
        model = get_model(name)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        again = keras.models.load_model(path)
        np.testing.assert_allclose(model.predict_on_batch(x), again.predict_on_batch(x), atol=1e-6)


@pytest.mark.parametrize("name, cells", [("heatmap", 24), ("heatmap48", 48),
                                         ("heatmap-residual", 24), ("heatmap-wide", 24)])
def test_the_heatmap_models_save_and_reload_with_their_soft_argmax(tmp_path, name, cells):
    from facial_keypoints.architectures import load_model

    model = get_model(name)
    assert model.get_layer("heatmaps").output.shape[1:3] == (cells, cells)
    images = np.random.default_rng(0).random((3, 96, 96, 1)).astype(np.float32)
    model.save(tmp_path / f"{name}.keras")
    reloaded = load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(reloaded(images, training=False), model(images, training=False),
                               atol=1e-6)


def test_the_residual_heatmap_model_has_a_strided_stem_and_shortcuts():
    from keras import layers

    model = get_model("heatmap-residual")
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert convs[0].strides == (2, 2) and convs[0].output.shape[1:3] == (48, 48)
    # every dilated convolution after the first (which widens 32 to 64 channels) adds its input
    assert sum(isinstance(layer, layers.Add) for layer in model.layers) == 4


def test_every_registered_name_is_offered_on_the_command_line():
    from facial_keypoints.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    arch_help = " ".join(train.format_help().split("--arch ARCH")[-1].split("--data")[0].split())
    assert all(name in arch_help for name in model_names()) and "heatmap" in arch_help
