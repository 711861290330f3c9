"""The helpers the notebooks import: ``from utils import *``.

A thin, seed-compatible entry point onto the ``facial_keypoints`` package: ``load_data`` and
``plot_data`` keep the original project's signatures and return values, and everything else the
notebooks use comes along. The code itself lives in ``facial_keypoints/``.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from facial_keypoints import *  # noqa: E402,F401,F403
