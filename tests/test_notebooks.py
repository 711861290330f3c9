"""The four notebooks run top to bottom in quick mode, without a cell error, and show what they
are there to show (each notebook's key table, checked for sane values).

Each notebook is read into memory and executed by a fresh ``python3`` kernel (ipykernel provides
that kernel spec when it is installed in the same environment) with the notebooks' folder as the
working directory, as a user would run it. The executed copy is thrown away: the notebook files
are never written. Quick mode (``FACIAL_KEYPOINTS_QUICK=1``) shrinks the data and the epochs, and
the models and videos the notebooks make go to ``runs/notebooks-quick/`` (ignored by git).

Notebook 4 needs no training data, only a keypoint model: the shipped one in ``models/``, or, when
there is none yet, an untrained model (the pipeline runs the same; the glasses just land badly).
"""

import pytest

from conftest import PROJECT_DIR, SUBSTITUTE_ZIP

NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"
SHIPPED_MODELS = [PROJECT_DIR / "models" / name
                  for name in ("keypoints.int8.onnx", "keypoints.onnx", "keypoints.keras")]
NEEDS_DATA = {"1_data.ipynb", "2_train.ipynb", "3_compare_models.ipynb"}
NOTEBOOKS = ["1_data.ipynb", "2_train.ipynb", "3_compare_models.ipynb", "4_sunglasses.ipynb"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One parse cache for all notebooks, so the training file is parsed only once."""
    return tmp_path_factory.mktemp("notebook-cache")


def untrained_model(folder):
    from facial_keypoints.architectures import get_model

    path = folder / "untrained.keras"
    get_model("vgg-bn").save(path)
    return path


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_quick_mode(name, shared_cache, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if name in NEEDS_DATA and not SUBSTITUTE_ZIP.exists():
        pytest.skip(f"substitute Kaggle data not found at {SUBSTITUTE_ZIP}")
    if name == "4_sunglasses.ipynb" and not any(path.exists() for path in SHIPPED_MODELS):
        monkeypatch.setenv("FACIAL_KEYPOINTS_MODEL", str(untrained_model(tmp_path)))

    # The kernel inherits this process's environment.
    monkeypatch.setenv("FACIAL_KEYPOINTS_QUICK", "1")
    monkeypatch.setenv("FACIAL_KEYPOINTS_DATA", str(SUBSTITUTE_ZIP.parent))
    monkeypatch.setenv("FACIAL_KEYPOINTS_CACHE", str(shared_cache))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.delenv("DISPLAY", raising=False)

    committed = (NOTEBOOKS_DIR / name).read_bytes()
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{name}: a cell failed in quick mode:\n{error}", pytrace=False)
    assert (NOTEBOOKS_DIR / name).read_bytes() == committed  # the notebook file is untouched
    CHECKS[name](notebook)


def cell_text(notebook, marker, kind="text/plain"):
    """The outputs (printed text, or results as ``kind``) of the first code cell whose source
    contains ``marker``."""
    cell = next(c for c in notebook.cells if c.cell_type == "code" and marker in c.source)
    return "\n".join(output.get("text", "") or output.get("data", {}).get(kind, "")
                     for output in cell.outputs)


def check_data_notebook(notebook):
    """Notebook 1 shows every keypoint's statistics and a split that shares no person."""
    from facial_keypoints.keypoints import KEYPOINT_NAMES

    table = cell_text(notebook, "table.astype(float)")
    assert all(name in table for name in KEYPOINT_NAMES), table
    split = cell_text(notebook, "train_groups, val_groups")
    assert "0 on both sides" in split, split


def check_training_notebook(notebook):
    """Notebook 2 measures the original recipe beside the average face, in pixels."""
    table = cell_text(notebook, '"average face": summary(average_result)')
    rows = {line.split("  ")[0].strip(): line.split()[-3:] for line in table.splitlines()[1:]}
    for row in ("average face", "original recipe"):
        rmse = float(rows[row][0])
        assert 0 < rmse < 48, table  # pixels of the 96-pixel crop


def check_comparison_notebook(notebook):
    """Notebook 3's table has a row for each of the original's models and the project's."""
    from facial_keypoints.architectures import ORIGINAL_TABLE

    table = cell_text(notebook, "results[columns].sort_values", kind="text/html")
    for name in list(ORIGINAL_TABLE) + ["heatmap", "vgg-bn", "resnet", "average face"]:
        assert f">{name}<" in table, name


def check_detector_comparison(notebook):
    """Notebook 4 is there to show that YuNet finds turned faces where Haar finds the upright
    one only: its comparison table says so (all four heads, the one at 45 degrees included)."""
    table = cell_text(notebook, "comparison, found_by")
    rows = {}
    for line in table.splitlines():
        for detector in ("Haar", "YuNet"):
            if "heads at" in line and f" {detector} " in line:
                rows[detector] = int(line.split(detector)[1].split()[0])  # the faces column
    assert rows["YuNet"] == 4 and rows["Haar"] < 4, table


CHECKS = {"1_data.ipynb": check_data_notebook, "2_train.ipynb": check_training_notebook,
          "3_compare_models.ipynb": check_comparison_notebook,
          "4_sunglasses.ipynb": check_detector_comparison}
