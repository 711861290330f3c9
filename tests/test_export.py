"""ONNX export: exported models give the Keras model's keypoints, and the ONNX path stays light.

Tolerance: Keras and ONNX keypoints agree within 1e-4 normalised units (0.005 crop pixels).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("onnxruntime")

from facial_keypoints import predictor  # noqa: E402
from facial_keypoints.architectures import get_model  # noqa: E402
from facial_keypoints.export import TOLERANCE, export_onnx, max_difference  # noqa: E402
from facial_keypoints.predictor import KerasPredictor, OnnxPredictor, load_predictor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def randomise(model, seed=0):
    """Give BatchNormalization layers non-trivial statistics, and spread the outputs out."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.3, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.2, 2.0, n)])
    # Random init gives tiny outputs; scale the last weighted layer so they spread out.
    last = [layer for layer in model.layers if layer.get_weights()][-1]
    kernel, *bias = last.get_weights()
    scale = 0.5 / max(np.std(np.asarray(model(crops(4), training=False))), 1e-6)
    last.set_weights([kernel * scale] + bias)
    return model


def crops(n, seed=1):
    """Random crops plus, first, a real face (the Grace Hopper photo bundled with matplotlib)."""
    import cv2
    import matplotlib

    rng = np.random.default_rng(seed)
    batch = rng.random((n, 96, 96, 1)).astype(np.float32)
    photo = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    grey = cv2.imread(photo, cv2.IMREAD_GRAYSCALE)
    if grey is not None:
        face = cv2.resize(grey[80:400, 100:420], (96, 96), interpolation=cv2.INTER_AREA)
        batch[0, ..., 0] = face / 255.0
    return batch


def every_layer_model():
    """Strides, valid and odd-sized same padding, folded and standalone batch norms, GAP."""
    layers = keras.layers
    inputs = keras.Input((96, 96, 1), name="image")
    x = layers.Conv2D(8, 5, strides=2, activation="relu")(inputs)  # 46x46, BN below not folded
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)  # 23x23
    x = layers.BatchNormalization()(x)  # folded into the convolution
    x = layers.Activation("tanh")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)  # 12x12
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(16)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return keras.Model(inputs, layers.Dense(30, activation="sigmoid")(x))


def sequential_model():
    return keras.Sequential([keras.Input((96, 96, 1)), keras.layers.Conv2D(4, 3, strides=4),
                             keras.layers.ReLU(), keras.layers.Flatten(), keras.layers.Dense(30)])


MODELS = {"original": lambda: get_model("original"), "resnet": lambda: get_model("resnet"),
          "heatmap": lambda: get_model("heatmap"), "every_layer": every_layer_model, "sequential": sequential_model}


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    model = randomise(MODELS[request.param]())
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    export_onnx(model, path, check=False)
    return model, path


def test_onnx_gives_the_keras_keypoints(exported):
    model, path = exported
    batch = crops(8)
    expected = np.asarray(model(batch, training=False))
    assert expected.std() > 0.05  # the comparison means something
    assert max_difference(model, path, batch) < TOLERANCE
    points = OnnxPredictor(path).predict(batch)
    assert points.shape == (8, 15, 2) and points.dtype == np.float32
    assert np.max(np.abs(points.reshape(8, 30) - expected)) < TOLERANCE


def test_onnx_batch_size_is_dynamic(exported):
    _, path = exported
    onnx_predictor = OnnxPredictor(path, threads=1)
    batch = crops(5)
    together = onnx_predictor.predict(batch)
    one_by_one = np.concatenate([onnx_predictor.predict(batch[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert onnx_predictor.predict(np.zeros((0, 96, 96, 1))).shape == (0, 15, 2)


def test_export_from_a_keras_file_checks_the_result(tmp_path):
    model = randomise(sequential_model())
    model.save(tmp_path / "small.keras")
    path = export_onnx(tmp_path / "small.keras", tmp_path / "small.onnx")  # check=True
    assert path.exists()


def test_a_failed_check_leaves_no_file(tmp_path, monkeypatch):
    from facial_keypoints import export

    monkeypatch.setattr(export, "max_difference", lambda model, path: 1.0)  # as if it differed
    target = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError, match="model.onnx"):
        export_onnx(randomise(sequential_model()), target)
    assert list(tmp_path.iterdir()) == []


def test_load_predictor_picks_the_backend(tmp_path, monkeypatch):
    model = sequential_model()
    model.save(tmp_path / "keypoints.keras")
    export_onnx(model, tmp_path / "keypoints.onnx")
    assert isinstance(load_predictor(tmp_path / "keypoints.onnx"), OnnxPredictor)
    assert isinstance(load_predictor(tmp_path / "keypoints.keras"), KerasPredictor)

    monkeypatch.setattr(predictor, "DEFAULT_INT8", tmp_path / "keypoints.int8.onnx")
    monkeypatch.setattr(predictor, "DEFAULT_ONNX", tmp_path / "keypoints.onnx")
    monkeypatch.setattr(predictor, "DEFAULT_MODEL", tmp_path / "keypoints.keras")
    assert load_predictor().path == tmp_path / "keypoints.onnx"
    (tmp_path / "keypoints.int8.onnx").write_bytes((tmp_path / "keypoints.onnx").read_bytes())
    assert load_predictor().path == tmp_path / "keypoints.int8.onnx"  # the 8-bit twin first
    (tmp_path / "keypoints.int8.onnx").unlink()
    monkeypatch.setattr(predictor, "DEFAULT_ONNX", tmp_path / "missing.onnx")
    assert isinstance(load_predictor(), KerasPredictor)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        load_predictor(tmp_path / "missing.onnx")


def test_onnx_path_does_not_import_tensorflow(exported):
    _, path = exported
    code = ("import sys, numpy as np\n"
            "from facial_keypoints.predictor import load_predictor\n"
            f"points = load_predictor({str(path)!r}).predict(np.zeros((1, 96, 96, 1)))\n"
            "assert points.shape == (1, 15, 2)\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------- the 8-bit twin

SHIPPED_ONNX = ROOT / "models" / "keypoints.onnx"


@pytest.fixture(scope="module")
def real_faces():
    """Crops of real faces from the substitute training file: ``(train images, val images, val
    keypoints in crop pixels (N, 15, 2))``, split as training splits them."""
    from conftest import SUBSTITUTE_ZIP
    from facial_keypoints import data as datasets
    from facial_keypoints.keypoints import as_points, to_pixels

    if not SUBSTITUTE_ZIP.exists():
        pytest.skip(f"substitute Kaggle data not found at {SUBSTITUTE_ZIP}")
    data = datasets.load_dataset(SUBSTITUTE_ZIP, cache=False)
    train, val = datasets.split(data, groups=datasets.load_groups(data))
    return train.images[:300], val.images[:200], as_points(to_pixels(val.keypoints[:200]))


def refined_points(path, images):
    """Keypoints, crop pixels ``(N, 15, 2)``, as the photo path finds them (two passes)."""
    from facial_keypoints.evaluation import predict_refined
    from facial_keypoints.keypoints import as_points, to_pixels

    return as_points(to_pixels(predict_refined(OnnxPredictor(path).predict, images)))


def test_the_shipped_8bit_twin_is_the_shipped_models(real_faces):
    """Not a stale twin of an older model: on 200 validation faces its keypoints lie within the
    tolerance of the float model's, and its error is within 0.02 px of the float model's."""
    from facial_keypoints.export import INT8_TOLERANCE_PX, int8_path

    _, images, truth = real_faces
    float_points = refined_points(SHIPPED_ONNX, images)
    int8_points = refined_points(int8_path(SHIPPED_ONNX), images)
    assert np.linalg.norm(int8_points - float_points, axis=-1).mean() < INT8_TOLERANCE_PX

    def rmse(points):
        return np.sqrt(np.mean((points - truth) ** 2))

    assert rmse(float_points) < 2.0  # a trained model: the average face is at 4.3 px
    assert abs(rmse(int8_points) - rmse(float_points)) < 0.02


def test_quantize_int8_computes_in_8_bits_and_keeps_the_keypoints(real_faces, tmp_path):
    import onnx

    from facial_keypoints.export import (INT8_TOLERANCE_PX, calibration_crops,
                                         mean_distance_px, quantize_int8)

    train_images, val_images, _ = real_faces
    calibration = calibration_crops(SHIPPED_ONNX, train_images, count=100)
    assert calibration.shape == (100, 96, 96, 1) and calibration.dtype == np.float32
    path, moved = quantize_int8(SHIPPED_ONNX, tmp_path / "k.int8.onnx", calibration)
    assert 0 < moved < INT8_TOLERANCE_PX
    # Faces it was not calibrated on move as little.
    assert mean_distance_px(SHIPPED_ONNX, path, val_images) < INT8_TOLERANCE_PX
    graph = onnx.load(path).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 7  # every convolution's weights: 7 3x3 ones and the 1x1 head
    assert path.stat().st_size < SHIPPED_ONNX.stat().st_size / 2


def test_a_twin_that_moves_the_keypoints_too_far_is_not_written(real_faces, tmp_path,
                                                               monkeypatch):
    from facial_keypoints import export
    from facial_keypoints.errors import InputError

    monkeypatch.setattr(export, "mean_distance_px", lambda *paths_and_crops: 3.0)
    with pytest.raises(InputError, match=r"keypoints\.onnx: its 8-bit twin would move"):
        export.quantize_int8(SHIPPED_ONNX, tmp_path / "k.int8.onnx", real_faces[0][:32])
    assert list(tmp_path.iterdir()) == []


def test_export_int8_from_the_command_line_writes_both_twins_and_replaces_neither(
        real_faces, tmp_path, capsys):
    from conftest import write_kaggle_csv
    from facial_keypoints.cli import main

    images = np.round(real_faces[0][:60, ..., 0] * 255).astype(np.uint8)
    data = write_kaggle_csv(tmp_path / "training.csv", images, np.full((60, 30), 40.0))
    model = tmp_path / "keypoints.keras"
    model.write_bytes((ROOT / "models" / "keypoints.keras").read_bytes())
    assert main(["export", "--model", str(model), "--int8", "--data", str(data)]) == 0
    assert "8-bit twin" in capsys.readouterr().out
    twin = tmp_path / "keypoints.int8.onnx"
    assert isinstance(load_predictor(twin), OnnxPredictor)
    for path in (twin, tmp_path / "keypoints.onnx"):  # both learned their mirror bias
        assert load_predictor(path).flip_offset.shape == (15, 2)

    before = twin.read_bytes()
    (tmp_path / "keypoints.onnx").unlink()  # only the 8-bit twin is in the way now
    assert main(["export", "--model", str(model), "--int8", "--data", str(data)]) == 2
    assert "keypoints.int8.onnx exists" in capsys.readouterr().err
    assert twin.read_bytes() == before and not (tmp_path / "keypoints.onnx").exists()


# ----------------------------------------------------------------------------- the mirror look

def test_the_shipped_twins_hold_the_mirror_bias_their_training_faces_teach(real_faces):
    """Learned again from 300 training faces, each twin's bias is within 0.15 px of the one it
    holds, and it is what it should be: about 2 px to the image's left in x, little in y."""
    from facial_keypoints.evaluation import aligned_crops, flip_offset
    from facial_keypoints.export import int8_path

    for path in (SHIPPED_ONNX, int8_path(SHIPPED_ONNX)):
        model = OnnxPredictor(path)
        aligned, _ = aligned_crops(model.predict, real_faces[0])
        learned = flip_offset(model.predict, aligned) * 48  # crop pixels
        held = model.flip_offset * 48
        assert np.abs(learned - held).max() < 0.15
        assert -2.5 < held[:, 0].mean() < -1.5 and abs(held[:, 1].mean()) < 0.3


def test_taking_off_the_mirror_bias_is_what_makes_the_mirror_look_usable(real_faces):
    """On 200 validation faces, cut as the photo path cuts them, one call with the mirror look
    gives the average of the plain and the mirrored-back keypoints less the bias. Taking the
    bias off is what makes the average usable: without it the average is farther from the
    truth than one look; with it, within 5% of one look (the shipped model's mirror look
    costs 0.02 px on validation, models/README.md)."""
    from facial_keypoints import crops
    from facial_keypoints.evaluation import aligned_crops
    from facial_keypoints.export import int8_path
    from facial_keypoints.keypoints import mirror_average, to_pixels

    _, images, truth = real_faces
    model = OnnxPredictor(int8_path(SHIPPED_ONNX))
    aligned, transforms = aligned_crops(model.predict, images)
    plain = model.predict(aligned)
    mirrored = model.predict(aligned[:, :, ::-1])
    both = model.predict(aligned, flip_average=True)
    np.testing.assert_allclose(both, mirror_average(plain, mirrored, model.flip_offset),
                               atol=1e-5)

    def rmse(normalised):
        back = np.stack([crops.to_photo(p, t) for p, t in
                         zip(to_pixels(normalised), transforms)])
        return np.sqrt(np.mean((back - truth) ** 2))

    assert rmse(plain) < rmse(mirror_average(plain, mirrored))
    assert rmse(both) < min(1.05 * rmse(plain), rmse(mirror_average(plain, mirrored)))


def test_record_flip_offset_replaces_the_bias_and_keeps_the_model(real_faces, tmp_path):
    import onnx

    from facial_keypoints.export import record_flip_offset
    from facial_keypoints.predictor import FLIP_OFFSET_KEY

    path = tmp_path / "k.onnx"
    path.write_bytes(SHIPPED_ONNX.read_bytes())
    first = record_flip_offset(path, real_faces[0][:40])
    second = record_flip_offset(path, real_faces[0][40:80])  # replaced, not added
    entries = [e for e in onnx.load(path).metadata_props if e.key == FLIP_OFFSET_KEY]
    assert len(entries) == 1 and not np.allclose(first, second)
    np.testing.assert_allclose(OnnxPredictor(path).flip_offset, second, atol=1e-5)
    images = real_faces[1][:8]
    np.testing.assert_array_equal(OnnxPredictor(path).predict(images),
                                  OnnxPredictor(SHIPPED_ONNX).predict(images))
    assert [p.name for p in tmp_path.iterdir()] == ["k.onnx"]


@pytest.mark.parametrize("value", ["[1, 2]", "not json", '{"x": 1}', "[" + "null, " * 29 + "1]"])
def test_a_model_whose_mirror_bias_is_damaged_is_refused_by_name_and_can_be_mended(
        real_faces, tmp_path, value):
    import onnx

    from facial_keypoints.errors import InputError
    from facial_keypoints.export import record_flip_offset
    from facial_keypoints.predictor import FLIP_OFFSET_KEY

    model = onnx.load(SHIPPED_ONNX)
    (entry,) = [e for e in model.metadata_props if e.key == FLIP_OFFSET_KEY]
    entry.value = value
    path = tmp_path / "damaged.onnx"
    onnx.save(model, path)
    with pytest.raises(InputError, match=r"damaged\.onnx: its metadata 'flip_offset' must be"):
        OnnxPredictor(path)
    record_flip_offset(path, real_faces[0][:16])
    assert OnnxPredictor(path).flip_offset.shape == (15, 2)
