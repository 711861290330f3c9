"""The helpers the notebooks import: ``from utils import *``.

A thin, seed-compatible entry point onto the ``facial_keypoints`` package: ``load_data`` and
``plot_data`` keep the original project's signatures and return values, and everything else the
notebooks use comes along, with ``np``, ``plt``, ``display``, ``Markdown`` and ``PROJECT`` (the
project folder), so that each notebook's setup is one short cell. The code itself lives in
``facial_keypoints/``.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT = Path(__file__).resolve().parent
sys.path.insert(0, str(PROJECT))

import matplotlib.pyplot as plt  # noqa: E402,F401
import numpy as np  # noqa: E402,F401
from IPython.display import Markdown, display  # noqa: E402,F401

from facial_keypoints import *  # noqa: E402,F401,F403
from facial_keypoints.data import find_data_file  # noqa: E402

KAGGLE_DATA_PAGE = "https://www.kaggle.com/c/facial-keypoints-detection/data"


def training_data_file(data):
    """The training file in ``data`` (a folder or a file). When there is none, show the reader
    how to get Kaggle's file, and stop the notebook with FileNotFoundError."""
    try:
        return find_data_file(data)
    except FileNotFoundError:
        display(Markdown(f"""
**No training data in `{data}`.** This notebook needs the training file of Kaggle's
*Facial Keypoints Detection* competition.

1. Download `training.zip` from <{KAGGLE_DATA_PAGE}>
   (free Kaggle account; accept the competition's rules first).
2. Put it, unzipped or not, in the project's data folder `{PROJECT / "data"}`, or point `DATA`
   in the parameters cell (or the environment variable `FACIAL_KEYPOINTS_DATA`) at the folder
   that holds it.
3. Run the notebook again from the top."""))
        raise FileNotFoundError(f"no training.zip or training.csv in {data}: see the note above") \
            from None
