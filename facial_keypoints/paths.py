"""Where the project's own files are: the shipped model, the face detectors and the pictures.

In a clone (and an editable install) they sit beside the package, in ``models/``,
``detector_architectures/`` and ``images/``. A regular ``pip install .`` copies them to
``<prefix>/share/facial-keypoints/`` (see ``pyproject.toml``); :func:`project_folder` finds
either.
"""

import sys
from pathlib import Path

BESIDE_PACKAGE = Path(__file__).resolve().parent.parent
INSTALLED = Path(sys.prefix) / "share" / "facial-keypoints"


def project_folder(name):
    """The folder ``name`` (``"models"``, ``"detector_architectures"``, ``"images"``) beside the
    package, else where an install put it; the one beside the package when neither exists."""
    for root in (BESIDE_PACKAGE, INSTALLED):
        if (root / name).is_dir():
            return root / name
    return BESIDE_PACKAGE / name
