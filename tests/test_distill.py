"""benchmarks/distill.py, which writes the training files the shipped model learned from: the main
file's labels moved halfway to the teachers' keypoints (validation faces untouched), and an extra
file labelled wholly by the teachers, without the faces they disagree on."""

import sys

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_DIR, SUBSTITUTE_ZIP, write_kaggle_csv

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))

TEACHER = PROJECT_DIR / "models" / "keypoints.int8.onnx"
FIVE = [0, 1, 2, 3, 20, 21, 22, 23, 24, 25]  # eye centres, nose tip, mouth corners (x, y)

needs_data = pytest.mark.skipif(not (SUBSTITUTE_ZIP.exists() and TEACHER.exists()),
                                reason="needs the substitute data and the shipped model")


def test_disagreement_is_measured_after_each_keypoints_offset_over_the_keypoints_present():
    """Crop pixels: the file marks the nose tip 6 px lower than the models on every face (another
    definition, taken away), one face's left eye 3 px off besides (what is left: 3 px over its
    two present keypoints), and one face has none of its own keypoints (nothing to disagree
    with)."""
    from distill import disagreement_px
    from facial_keypoints.keypoints import to_normalised

    teacher = np.tile(np.linspace(20, 76, 30), (4, 1))
    own = teacher.copy()
    own[:, 21] += 6.0  # nose_tip y
    own[1, 0] += 3.0  # left_eye_center x
    mask = np.zeros((4, 30), bool)
    mask[:, [0, 1, 20, 21]] = True  # left eye centre and nose tip present
    mask[3] = False
    own[~mask] = np.nan
    # The mean offset of left_eye_center x over the three faces that have it is 1 px.
    expected = np.array([np.sqrt(1 / 2), np.sqrt(4 / 2), np.sqrt(1 / 2), 0.0])
    np.testing.assert_allclose(disagreement_px(to_normalised(teacher), to_normalised(own), mask),
                               expected, atol=1e-4)


@pytest.fixture(scope="module")
def faces():
    """24 real face crops (uint8) and the teacher's keypoints in them, crop pixels ``(24, 30)``,
    found as distill.py finds them (two passes)."""
    from facial_keypoints import data as datasets
    from facial_keypoints.evaluation import predict_refined
    from facial_keypoints.keypoints import to_pixels
    from facial_keypoints.predictor import OnnxPredictor

    data = datasets.load_dataset(SUBSTITUTE_ZIP, cache=False).subset(np.arange(24))
    teacher = to_pixels(predict_refined(OnnxPredictor(TEACHER).predict, data.images))
    return np.round(data.images[..., 0] * 255).astype(np.uint8), teacher


def write_sources(folder, groups):
    pd.DataFrame({"row": range(len(groups)), "group": groups,
                  "name_group": [f"extra:{g}" for g in groups]}).to_csv(
        folder / "training_sources.csv", index=False)


@needs_data
def test_an_extra_file_is_labelled_by_the_teachers_and_faces_they_disagree_on_are_left_out(
        faces, tmp_path):
    """Five keypoints present, marked 8 px lower at the nose than the teacher marks it (another
    definition: 3.6 px RMS over the five, over the 3-px limit unless taken away) with a little
    noise; one face's labels 12 px off. Every other face gets all 15 of the teacher's keypoints;
    the 12-px face is left out, from the sources file too."""
    import distill

    images, teacher = faces
    rng = np.random.default_rng(0)
    labels = np.full_like(teacher, np.nan)
    labels[:, FIVE] = teacher[:, FIVE] + rng.normal(0, 0.3, (len(teacher), len(FIVE)))
    labels[:, 21] += 8.0  # nose_tip y: another definition, the same for every face
    labels[7, FIVE] += 12.0
    extra = tmp_path / "extra"
    extra.mkdir()
    write_kaggle_csv(extra / "training.csv", images, labels)
    write_sources(extra, [f"p{i}" for i in range(len(images))])

    out = tmp_path / "taught" / "training.csv"
    assert distill.main([str(TEACHER), "--data", str(extra / "training.csv"), "--extra",
                         "--out", str(out)]) == 0
    written = pd.read_csv(out)
    kept = [i for i in range(len(images)) if i != 7]
    assert written.drop(columns="Image").notna().all().all()  # all 15 keypoints, every row
    np.testing.assert_allclose(written.drop(columns="Image").to_numpy(), teacher[kept], atol=1e-3)
    assert len(written) == len(images) - 1
    sources = pd.read_csv(out.parent / "training_sources.csv")
    assert sources["source_row"].tolist() == kept  # each line: its face's line in the input
    assert sources["row"].tolist() == list(range(len(kept)))
    pixels = np.stack([np.array(p.split(), np.uint8) for p in written["Image"]])
    np.testing.assert_array_equal(pixels, images[kept].reshape(len(kept), -1))

    before = out.read_bytes()
    with pytest.raises(SystemExit):  # an existing --out is never replaced
        distill.main([str(TEACHER), "--data", str(extra / "training.csv"), "--extra",
                      "--out", str(out)])
    assert out.read_bytes() == before
    sources_before = (extra / "training_sources.csv").read_bytes()
    with pytest.raises(SystemExit):  # nor the sources file of the folder it would go to
        distill.main([str(TEACHER), "--data", str(extra / "training.csv"), "--extra",
                      "--out", str(extra / "taught.csv")])
    assert (extra / "training_sources.csv").read_bytes() == sources_before
    assert not (extra / "taught.csv").exists()


@needs_data
def test_the_main_file_moves_training_labels_halfway_and_keeps_validation_labels(faces, tmp_path):
    """Twelve people, two faces each: the people of the usual grouped split's validation side
    keep their labels; every other face's label is the mean of its own and the teacher's."""
    import distill
    from facial_keypoints import data as datasets
    from facial_keypoints.keypoints import to_pixels

    images, teacher = faces
    labels = teacher + np.random.default_rng(1).normal(0, 2.0, teacher.shape)
    main = tmp_path / "main"
    main.mkdir()
    write_kaggle_csv(main / "training.csv", images, labels)
    write_sources(main, [f"person{i // 2}" for i in range(len(images))])

    out = tmp_path / "taught" / "training.csv"
    assert distill.main([str(TEACHER), "--data", str(main / "training.csv"),
                         "--out", str(out)]) == 0
    written = datasets.load_dataset(out, cache=False)
    _, val = datasets.split(written, groups=datasets.load_groups(written))
    is_val = np.isin(written.rows, val.rows)
    assert 0 < is_val.sum() < len(images)
    relabelled = to_pixels(written.keypoints)
    np.testing.assert_allclose(relabelled[is_val], labels[is_val], atol=1e-3)
    np.testing.assert_allclose(relabelled[~is_val], (labels[~is_val] + teacher[~is_val]) / 2,
                               atol=1e-3)
