"""Training: the masked loss, a real short run, checkpoints, resume and a distributed run."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import PROJECT_DIR, kaggle_missing_pattern, synthetic_faces, write_kaggle_csv
from facial_keypoints.config import PRESETS, TrainConfig, with_overrides
from facial_keypoints.data import DataError, load_dataset
from facial_keypoints.training import (budget_learning_rate, history_path_for, masked_mse,
                                       masked_wing, pack_targets, train)


@pytest.mark.parametrize("loss", [masked_mse, masked_wing])
def test_missing_keypoints_add_nothing_to_the_loss_or_its_gradient(loss):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    keypoints = rng.uniform(-0.5, 0.5, (4, 30)).astype(np.float32)
    keypoints[:, 4:] = np.nan  # only the eye centres are known
    targets = tf.constant(pack_targets(keypoints, ~np.isnan(keypoints)))
    pred = tf.Variable(rng.uniform(-0.5, 0.5, (4, 30)).astype(np.float32))
    with tf.GradientTape() as tape:
        value = loss(targets, pred)
    gradient = tape.gradient(value, pred).numpy()
    assert np.isfinite(value.numpy()) and value.numpy() > 0
    assert np.all(gradient[:, 4:] == 0) and np.all(gradient[:, :4] != 0)
    # Wild values where keypoints are missing change nothing.
    changed = tf.concat([pred[:, :4], pred[:, 4:] + 100.0], axis=1)
    assert np.isclose(loss(targets, changed).numpy(), value.numpy())


def test_mse_loss_is_plain_mse_on_complete_rows():
    truth = np.random.default_rng(1).uniform(-1, 1, (3, 30)).astype(np.float32)
    pred = truth + 0.1
    value = float(masked_mse(pack_targets(truth, np.ones_like(truth, bool)), pred))
    assert np.isclose(value, 0.01, rtol=1e-4)


@pytest.fixture
def small_data(tmp_path):
    images, keypoints = synthetic_faces(96, seed=5)
    keypoints[~kaggle_missing_pattern(96)] = np.nan
    return load_dataset(write_kaggle_csv(tmp_path / "training.csv", images, keypoints))


def test_a_short_run_learns_and_writes_model_and_history(small_data, tmp_path):
    out = tmp_path / "m.keras"
    config = with_overrides(PRESETS["quick"], arch="vgg-bn", epochs=4, batch_size=16,
                            augment=False, learning_rate=3e-3)
    model, history = train(small_data, out, config, verbose=0)
    assert out.exists() and len(history) == 4
    saved = json.loads(history_path_for(out).read_text())
    assert saved["config"]["arch"] == "vgg-bn" and len(saved["epochs"]) == 4
    assert history[-1]["loss"] < history[0]["loss"]  # it learns, on rows with missing keypoints too
    assert not list(tmp_path.glob(".*partial*"))  # no half-written side files left behind


def test_resume_continues_from_the_checkpoint(small_data, tmp_path):
    out = tmp_path / "m.keras"
    config = with_overrides(PRESETS["quick"], arch="original-5", epochs=2, batch_size=32)
    train(small_data, out, config, verbose=0)
    _, history = train(small_data, out, with_overrides(config, epochs=3), resume=True, verbose=0)
    assert [row["epoch"] for row in history] == [1, 2, 3]


def test_with_ema_the_checkpoint_holds_the_averaged_weights(small_data, tmp_path):
    from facial_keypoints.architectures import get_model, load_model

    start = tmp_path / "start.keras"
    get_model("original-5").save(start)
    initial = load_model(start).get_weights()
    moved = {}
    for ema in (0.0, 0.99):
        out = tmp_path / f"ema{ema}.keras"
        config = with_overrides(PRESETS["quick"], arch="original-5", epochs=2, batch_size=32,
                                augment=False, init=str(start), ema=ema)
        train(small_data, out, config, verbose=0)
        saved = load_model(out).get_weights()
        moved[ema] = sum(np.abs(a - b).sum() for a, b in zip(saved, initial))
    # A few steps into a run, an average with momentum 0.99 is still mostly the starting weights
    # (about a fifth of the way, in runs here; without the averaging, all of it).
    assert 0 < moved[0.99] < 0.5 * moved[0.0]
    with pytest.raises(ValueError, match="ema is a momentum"):
        with_overrides(PRESETS["default"], ema=1.0)


def test_a_resumed_run_keeps_the_better_model_it_started_from(small_data, tmp_path):
    out = tmp_path / "m.keras"
    config = with_overrides(PRESETS["quick"], arch="original-5", epochs=1, batch_size=32)
    train(small_data, out, config, verbose=0)
    # Say the first run's best epoch was far better than any new epoch can be.
    record = json.loads(history_path_for(out).read_text())
    record["epochs"][0]["val_loss"] = 1e-9
    history_path_for(out).write_text(json.dumps(record))
    before = out.read_bytes()
    _, history = train(small_data, out, with_overrides(config, epochs=3), resume=True, verbose=0)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert out.read_bytes() == before  # the worse epochs 2 and 3 did not replace it


def test_an_existing_model_is_replaced_only_when_asked(small_data, tmp_path):
    out = tmp_path / "m.keras"
    config = with_overrides(PRESETS["quick"], arch="original-5", epochs=1, batch_size=32)
    train(small_data, out, config, verbose=0)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="m.keras exists.*--resume.*--overwrite"):
        train(small_data, out, config, verbose=0)
    assert out.read_bytes() == before
    train(small_data, out, with_overrides(config, seed=7), overwrite=True, verbose=0)
    assert out.read_bytes() != before


@pytest.mark.parametrize("rows, missing, complete_only, message", [
    (1, False, False, "no rows left for (training|validation)"),
    (40, True, False, "the training rows have no keypoints at all"),
    (40, False, True, "no rows left for training.*complete rows only"),
])
def test_data_that_leaves_nothing_to_learn_is_refused_by_name(tmp_path, rows, missing,
                                                               complete_only, message):
    images, keypoints = synthetic_faces(rows, seed=3)
    keypoints[:, 2:] = np.nan if complete_only else keypoints[:, 2:]
    if missing:
        keypoints[:] = np.nan
    path = write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    config = with_overrides(PRESETS["quick"], arch="original-5", complete_only=complete_only)
    with pytest.raises(DataError, match=f"training.csv: {message}"):
        train(path, tmp_path / "m.keras", config, verbose=0)
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("field, value", [("max_rows", -1), ("batch_size", 0), ("epochs", 0),
                                          ("val_fraction", 1.0), ("loss", "l1")])
def test_settings_out_of_range_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        with_overrides(TrainConfig(), **{field: value})


def test_budget_learning_rate_warms_up_then_decays_to_one_percent_at_the_end():
    spent = np.linspace(0, 1.5, 301)
    rates = np.array([budget_learning_rate(share, 2e-3) for share in spent])
    peak_at = spent[np.argmax(rates)]
    assert np.isclose(rates.max(), 2e-3) and np.isclose(peak_at, 0.05)
    assert np.all(np.diff(rates[spent <= 0.05]) > 0) and np.all(np.diff(rates[spent >= 0.05]) <= 0)
    assert np.allclose(rates[spent >= 1], 2e-5)


def test_a_time_budget_stops_training_and_the_cosine_follows_it(small_data, tmp_path):
    # 10 s: more than the first epoch's compilation takes on a slow 2-core host.
    config = with_overrides(PRESETS["quick"], arch="original-5", epochs=500, batch_size=32,
                            time_budget_s=10)
    _, history = train(small_data, tmp_path / "b.keras", config, verbose=0)
    assert 1 < len(history) < 500  # stopped by the budget, not by the epochs
    rates = [row["learning_rate"] for row in history]
    assert rates[-1] < 0.05 * config.learning_rate  # the decay reached its end with the budget
    assert max(rates) > 0.3 * config.learning_rate


def test_original_preset_uses_complete_rows_and_early_stopping(small_data, tmp_path):
    config = with_overrides(PRESETS["original"], arch="original-5", epochs=3, patience=1,
                            min_delta=10.0)  # no epoch can improve by 10: stops after 2
    _, history = train(small_data, tmp_path / "o.keras", config, verbose=0)
    assert len(history) == 2
    saved = json.loads(history_path_for(tmp_path / "o.keras").read_text())["config"]
    complete = kaggle_missing_pattern(96).all(axis=1)
    assert saved["train_rows"] + saved["val_rows"] == complete.sum()


def test_mirrored_strategy_over_two_cpu_devices(tmp_path):
    images, keypoints = synthetic_faces(64, seed=2)
    write_kaggle_csv(tmp_path / "training.csv", images, keypoints)
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from facial_keypoints.config import PRESETS, with_overrides
        from facial_keypoints.training import train, get_strategy
        assert get_strategy("mirrored").num_replicas_in_sync == 2
        config = with_overrides(PRESETS["quick"], arch="original-5", epochs=1, batch_size=8,
                                strategy="mirrored")
        model, history = train(r"{tmp_path / 'training.csv'}", r"{tmp_path / 'd.keras'}", config,
                               verbose=0)
        print("REPLICAS", 2, "EPOCHS", len(history), "LOSS", history[0]["loss"])
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(PROJECT_DIR)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EPOCHS 1" in result.stdout and (tmp_path / "d.keras").exists()


def test_extra_files_add_training_faces_but_never_a_validation_person(tmp_path):
    from facial_keypoints.data import concatenate, load_groups, split, without_people

    images, keypoints = synthetic_faces(60, seed=2)
    main_dir, extra_dir = tmp_path / "main", tmp_path / "extra"
    main_dir.mkdir(), extra_dir.mkdir()
    main = load_dataset(write_kaggle_csv(main_dir / "training.csv", images[:40], keypoints[:40]))
    people = [f"person{i % 10}" for i in range(40)]
    (main_dir / "training_sources.csv").write_text("row,group\n" + "".join(
        f"{i},{p}\n" for i, p in enumerate(people)))
    extra_points = keypoints[40:].copy()
    extra_points[:, 4:20] = np.nan  # an extra file with some keypoints missing everywhere
    extra = load_dataset(write_kaggle_csv(extra_dir / "training.csv", images[40:], extra_points))
    (extra_dir / "training_sources.csv").write_text("row,group,name_group\n" + "".join(
        f"{i},mtfl_lfw:person{i % 20},mtfl_lfw:person{i % 20}\n" for i in range(20)))
    _, val = split(main, groups=load_groups(main))
    val_people = set(load_groups(val))
    kept = without_people(extra, val_people)
    kept_people = {f"person{row % 20}" for row in kept.rows}
    assert kept_people and not kept_people & val_people
    assert len(kept) == sum(f"person{i % 20}" not in val_people for i in range(20))
    assert len(concatenate([main, kept])) == 40 + len(kept)
    # train() takes both files, splits the first and adds the rest, aligned crops included.
    config = with_overrides(PRESETS["quick"], epochs=1, batch_size=16, align=True,
                            extra_ignore=("nose_tip",))
    _, history = train([main_dir / "training.csv", extra_dir / "training.csv"], tmp_path / "m.keras",
                       config, verbose=0)
    saved = json.loads(history_path_for(tmp_path / "m.keras").read_text())["config"]
    assert saved["train_rows"] == 40 - saved["val_rows"] + len(kept) and len(history) == 1


def test_extra_ignore_masks_keypoints_of_extra_files_only(tmp_path):
    from facial_keypoints.data import without_keypoints
    from facial_keypoints.errors import InputError
    from facial_keypoints.keypoints import KEYPOINT_INDEX

    images, keypoints = synthetic_faces(8, seed=3)
    data = load_dataset(write_kaggle_csv(tmp_path / "training.csv", images, keypoints))
    nose = [2 * KEYPOINT_INDEX["nose_tip"], 2 * KEYPOINT_INDEX["nose_tip"] + 1]
    masked = without_keypoints(data, ["nose_tip"])
    assert np.isnan(masked.keypoints[:, nose]).all() and not masked.mask[:, nose].any()
    others = np.setdiff1d(np.arange(30), nose)
    np.testing.assert_array_equal(masked.keypoints[:, others], data.keypoints[:, others])
    assert data.mask[:, nose].all()  # the original is not changed
    with pytest.raises(InputError, match="no keypoint named nose"):
        with_overrides(PRESETS["default"], extra_ignore=("nose",))


def test_augmentation_ranges_reach_the_batches(tmp_path):
    from facial_keypoints.augment import Augmentation
    from facial_keypoints.keypoints import NUM_COORDS
    from facial_keypoints.training import Batches

    images, keypoints = synthetic_faces(16, seed=4)
    data = load_dataset(write_kaggle_csv(tmp_path / "training.csv", images, keypoints))
    still = Augmentation(flip=0, rotation=0, scale=0, shift=0)
    _, targets = Batches(data, 16, True, seed=0, shuffle=False, settings=still)[0]
    np.testing.assert_allclose(targets[:, :NUM_COORDS], data.keypoints, atol=1e-5)
    turning = Augmentation(flip=0, rotation=30, scale=0, shift=0)
    _, targets = Batches(data, 16, True, seed=0, shuffle=False, settings=turning)[0]
    moved = np.abs(targets[:, :NUM_COORDS] - data.keypoints).max(axis=1) * 48
    assert (moved > 0.5).mean() > 0.8  # most faces turned by more than a few degrees
    with pytest.raises(ValueError, match="rotation must be at least 0"):
        with_overrides(PRESETS["default"], rotation=-1)


def test_the_augmentation_probabilities_are_checked_and_reach_training_from_the_command_line():
    from facial_keypoints.cli import build_parser

    train = build_parser().parse_args(["train", "--flip", "0"])
    assert train.flip == 0.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--flip", "1.5"])
    with pytest.raises(ValueError, match="flip is a probability"):
        with_overrides(PRESETS["default"], flip=2.0)
    assert with_overrides(PRESETS["default"], flip=train.flip).flip == 0.0
    train = build_parser().parse_args(["train", "--occlusion", "0.5", "--blur", "0.3"])
    assert (train.occlusion, train.blur) == (0.5, 0.3)
    for name in ("occlusion", "blur"):
        with pytest.raises(ValueError, match=f"{name} is a probability"):
            with_overrides(PRESETS["default"], **{name: 1.5})
