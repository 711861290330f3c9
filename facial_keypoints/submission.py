"""Kaggle submission files: the keypoints that ``IdLookupTable.csv`` asks for, in crop pixels.

``IdLookupTable.csv`` lists ``RowId, ImageId, FeatureName, Location`` (Location empty): for each
test image, the keypoint coordinates Kaggle wants. The submission is ``RowId, Location`` with the
location in pixels of the 96x96 image, clipped to [0, 96].
"""

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .keypoints import COLUMNS, IMAGE_SIZE, to_pixels


def make_submission(image_ids, keypoints, lookup_path, out_path):
    """Write a submission for predicted normalised keypoints ``(N, 30)`` of test ``image_ids``.

    Raises ValueError naming the lookup file and row when it asks for an unknown feature or an
    image that was not predicted. Returns the number of rows written.
    """
    lookup_path = Path(lookup_path)
    if not lookup_path.is_file():
        raise FileNotFoundError(f"lookup table not found: {lookup_path} (Kaggle's IdLookupTable.csv)")
    lookup = pd.read_csv(lookup_path)
    missing = {"RowId", "ImageId", "FeatureName"} - set(lookup.columns)
    if missing:
        raise InputError(f"{lookup_path}: missing column(s) {sorted(missing)}")
    row_of_image = {int(image_id): i for i, image_id in enumerate(image_ids)}
    column_of_feature = {name: i for i, name in enumerate(COLUMNS)}
    pixels = np.clip(to_pixels(keypoints), 0, IMAGE_SIZE)

    locations = np.empty(len(lookup), np.float64)
    for i, (image_id, feature) in enumerate(zip(lookup["ImageId"], lookup["FeatureName"])):
        if feature not in column_of_feature:
            raise InputError(f"{lookup_path}: row {i}, FeatureName {feature!r} is not a Kaggle keypoint")
        if int(image_id) not in row_of_image:
            raise InputError(f"{lookup_path}: row {i} asks for ImageId {image_id}, "
                             "which is not in the test file")
        locations[i] = pixels[row_of_image[int(image_id)], column_of_feature[feature]]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"RowId": lookup["RowId"], "Location": locations}).to_csv(out_path, index=False)
    return len(lookup)
