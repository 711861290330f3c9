"""Reading and writing photos: as they are meant to be seen, and never half-written.

* :func:`read_image` honours the EXIF orientation tag and brings 16-bit and float pixels to 8 bits,
  refusing values it cannot place, so that no photo is processed sideways or black.
* :func:`write_image` checks the file name first, writes through a side file and a rename, and
  says what is wrong (extension, folder, permission) when it cannot.
* :func:`image_paths` expands folders; :func:`fresh_path` finds a name that replaces nothing.
"""

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, reason
from .paths import project_folder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
ALPHA_SUFFIXES = {".png", ".tif", ".tiff", ".webp"}  # formats that may carry an alpha channel
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

SAMPLE_PHOTO = project_folder("images") / "grace_hopper.jpg"


def sample_photo():
    """Path of the photo used when none is given: Grace Hopper (a US Navy photo, public domain;
    the copy matplotlib ships), in ``images/``. Raises FileNotFoundError naming the path."""
    if not SAMPLE_PHOTO.is_file():
        raise FileNotFoundError(f"the bundled sample photo is missing: {SAMPLE_PHOTO}")
    return SAMPLE_PHOTO


def image_paths(paths):
    """Expand files and folders into image files: a folder gives its images (not its subfolders),
    sorted by name, as ``folder/name``; files are kept as given, in order."""
    for path in paths:
        path = str(path)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    yield os.path.join(path, name)
        else:
            yield path


def read_image(path):
    """A photo as it is meant to be seen: BGR (or BGRA, or grey) uint8.

    Like ``cv2.imread``, but it raises a clear error naming the path instead of returning None,
    and it turns the pixels as the photo's EXIF orientation tag says (phones store portrait photos
    sideways and set that tag). PNG, TIFF and WebP files keep their alpha channel (and are read
    as stored). 16-bit pixels are scaled to 8 bits; float pixels in [0, 1] (or [0, 255]) too, and
    floats outside both ranges are refused rather than clipped into a wrong picture.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    if Path(path).suffix.lower() in ALPHA_SUFFIXES:  # may have an alpha channel: keep it
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    else:  # these flags keep 16 bits and grey, and honour the EXIF orientation
        image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    # The file is read a second time for this check: cv2.imdecode, which could share one read,
    # refuses a cut-short JPEG that cv2.imread reads in part.
    if _cut_short_jpeg(Path(path).read_bytes()):
        warnings.warn(f"{path}: the JPEG file is cut short; the bottom of the picture is missing")
    return to_uint8(image, path)


def _cut_short_jpeg(data):
    """True for the bytes of a JPEG file whose picture has no end marker (OpenCV reads what is there and fills
    the rest with grey, with no error). The marker is looked for after the main picture's start
    of scan, found by walking the segments (so an EXIF thumbnail's markers do not count), and
    anywhere after it (phones append videos and other data after the picture)."""
    if not data.startswith(b"\xff\xd8"):
        return False
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: the compressed picture follows
            return data.find(b"\xff\xd9", position) < 0
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return True  # the segments end before the picture starts: cut short there


def to_uint8(image, name="the image"):
    """An image of any depth -> uint8, scaled by what its type and values say (see
    :func:`read_image`); InputError naming ``name`` for values that fit no known range."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    values = image.astype(np.float64)
    if not np.isfinite(values).all():
        raise InputError(f"{name}: pixel values include NaN or infinity")
    low, high = float(values.min()), float(values.max())
    if image.dtype.kind == "f" and low >= 0 and high <= 1:
        return np.round(values * 255).astype(np.uint8)
    if low >= 0 and high <= 255:
        return np.round(values).astype(np.uint8)
    raise InputError(f"{name}: {image.dtype} pixels from {low:g} to {high:g} fit neither [0, 1] "
                     "nor [0, 255]")


OUTPUT_SUFFIXES = IMAGE_SUFFIXES - {".pgm"}  # PGM holds grey only; the sunglasses are colour


def check_output(path, suffixes=OUTPUT_SUFFIXES, kind="image"):
    """Refuse, before any work, an output path that cannot be written: a folder, a name whose
    extension is not a ``kind`` type, a parent that is a file. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: name a file in it, such as {path / 'out.jpg'}"
                         if kind == "image" else f"{path} is a folder: name a {kind} file in it")
    if not path.suffix:
        raise InputError(f"{path}: has no extension; {kind} files end in one of "
                         f"{', '.join(sorted(suffixes))}")
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: {path.suffix} is not among the {kind} file extensions "
                         f"({', '.join(sorted(suffixes))})")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{path}: {parent} is a file, not a folder")
            break
    return path


def write_image(path, image):
    """Write ``image`` to ``path`` (its extension picks the format) through a side file and a
    rename, so that a failure never leaves half a picture or a damaged earlier file. Raises
    InputError naming the problem: the extension, the folder, or the permission."""
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if not cv2.imwrite(str(partial), image):
            if not os.access(path.parent, os.W_OK):
                raise InputError(f"{path}: no permission to write in {path.parent}")
            raise InputError(f"{path}: OpenCV could not write this image as {path.suffix}")
        os.replace(partial, path)
    except cv2.error as error:
        raise InputError(f"{path}: {reason(error, last=True)}") from error
    finally:
        partial.unlink(missing_ok=True)
    return path


def fresh_path(path):
    """``path`` if nothing is there, else the first free ``stem-2.ext``, ``stem-3.ext``, ...: for
    outputs whose name the user did not choose, so that nothing of theirs is ever replaced."""
    path = Path(path)
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate
