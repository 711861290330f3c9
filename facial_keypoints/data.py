"""Reading Kaggle's "Facial Keypoints Detection" CSV files, with checks, a cache and splits.

Kaggle ships ``training.csv`` (30 keypoint columns in crop pixels, then ``Image``) and
``test.csv`` (``ImageId``, ``Image``), each also as a ``.zip``. ``Image`` holds 9216
space-separated grey values 0-255: a 96x96 image, row-major. Missing keypoints are empty cells.

:func:`load_dataset` returns everything in file order (:class:`KeypointData`); :func:`load_data`
is the original project's interface: shuffled images and normalised keypoints, complete rows only.
"""

import hashlib
import io
import os
import warnings
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .keypoints import COLUMNS, IMAGE_COLUMN, IMAGE_SIZE, KEYPOINT_INDEX, NUM_COORDS, to_normalised

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_DIR / "data"
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
DOWNLOAD_HINT = (
    "Download training.zip and test.zip from "
    "https://www.kaggle.com/c/facial-keypoints-detection/data into the data/ folder "
    "(or set FACIAL_KEYPOINTS_DATA to the folder that holds them)."
)


class DataError(InputError):
    """A data file that cannot be used; the message names the file, row and column."""


@dataclass
class KeypointData:
    """A Kaggle CSV, parsed, in file order.

    images: float32 ``(N, 96, 96, 1)`` grey values in [0, 1].
    keypoints: float32 ``(N, 30)`` normalised coordinates in [-1, 1], NaN where missing
        (all NaN for test files, which have no keypoints).
    mask: bool ``(N, 30)``, True where a keypoint value is present.
    rows: int ``(N,)`` 0-based data-row index in the CSV (line ``rows + 2`` of the file).
    image_ids: int ``(N,)`` Kaggle's ``ImageId`` for test files, else ``rows + 1``.
    """

    images: np.ndarray
    keypoints: np.ndarray
    mask: np.ndarray
    rows: np.ndarray
    image_ids: np.ndarray
    path: Path

    def __len__(self):
        return len(self.images)

    def subset(self, index):
        """The rows at ``index`` (an index array or boolean mask), as a new KeypointData."""
        return KeypointData(self.images[index], self.keypoints[index], self.mask[index],
                            self.rows[index], self.image_ids[index], self.path)

    @property
    def complete(self):
        """Boolean ``(N,)``: rows with all 30 keypoint values present."""
        return self.mask.all(axis=1)


def data_dir():
    """The folder where Kaggle's files are looked for: $FACIAL_KEYPOINTS_DATA or ``data/``."""
    return Path(os.environ.get("FACIAL_KEYPOINTS_DATA", DEFAULT_DATA_DIR))


def find_data_file(path=None, test=False):
    """Resolve ``path`` (a CSV, a zip, a folder, or None for the data folder) to an existing file.

    In a folder, ``training.csv`` (``test.csv``) is preferred, then ``training.zip``
    (``test.zip``). Raises FileNotFoundError with a hint on where to get the data.
    """
    stem = "test" if test else "training"
    folder_or_file = Path(path) if path is not None else data_dir()
    if folder_or_file.is_dir():
        for name in (f"{stem}.csv", f"{stem}.zip"):
            if (folder_or_file / name).is_file():
                return folder_or_file / name
        raise FileNotFoundError(f"no {stem}.csv or {stem}.zip in {folder_or_file}. {DOWNLOAD_HINT}")
    if not folder_or_file.is_file():
        raise FileNotFoundError(f"data file not found: {folder_or_file}. {DOWNLOAD_HINT}")
    return folder_or_file


def load_dataset(path=None, test=False, cache=True):
    """Read a Kaggle CSV (or a zip holding one) into a :class:`KeypointData`, in file order.

    The parsed arrays are cached (see :func:`cache_dir`) under a key made of the file's path, size
    and modification time, so a second load takes a fraction of a second and an edited file is
    parsed again. Raises DataError naming the file, row and column of the first problem found.
    """
    path = find_data_file(path, test)
    cache_file = _cache_file(path) if cache else None
    arrays = _read_cache(cache_file) if cache_file is not None else None
    if arrays is None:
        arrays = _parse(path)
        if cache_file is not None:
            _atomic_savez(cache_file, arrays)
    if test and not arrays["is_test"]:
        raise DataError(f"{path}: a training file (it has keypoint columns), not a test file: "
                        "a submission needs Kaggle's test.csv (ImageId, Image)")
    if not test and arrays["is_test"]:
        raise DataError(f"{path}: a test file (ImageId, Image: no keypoints), not a training "
                        "file: training and evaluation need Kaggle's training.csv")
    pixels, keypoint_pixels = arrays["pixels"], arrays["keypoints"]
    return KeypointData(
        images=(pixels.astype(np.float32) / 255.0).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1),
        keypoints=to_normalised(keypoint_pixels),
        mask=~np.isnan(keypoint_pixels),
        rows=np.arange(len(pixels)),
        image_ids=arrays["image_ids"],
        path=path,
    )


def load_data(path=None, test=False, complete_only=True, seed=42):
    """The original project's loader: shuffled images and normalised keypoints.

    Returns ``X``, float32 ``(N, 96, 96, 1)`` in [0, 1], and ``y``, float32 ``(N, 30)`` in
    [-1, 1] (``(v - 48) / 48`` of the crop pixels), rows shuffled with ``seed``. For test files
    ``y`` is None. With ``complete_only=False`` rows with missing keypoints are kept, ``y`` holds
    NaN there, and a third value ``mask`` (bool ``(N, 30)``, True where present) is returned.
    """
    data = load_dataset(path, test)
    if complete_only and not test:
        data = data.subset(data.complete)
    order = np.random.default_rng(seed).permutation(len(data))
    data = data.subset(order)
    if test:
        return data.images, None
    if complete_only:
        return data.images, data.keypoints
    return data.images, data.keypoints, data.mask


# ----------------------------------------------------------------------------- parsing and checks

def _read_text(path):
    if path.suffix.lower() != ".zip":
        return _decode(path.read_bytes(), path)
    try:
        with zipfile.ZipFile(path) as archive:
            # macOS Finder adds __MACOSX/._name entries (file metadata, not data): skip them.
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")
                       and not m.startswith("__MACOSX/") and not Path(m).name.startswith("._")]
            if len(members) != 1:
                raise DataError(f"{path}: expected one .csv inside the zip, found {members or 'none'}")
            return _decode(archive.read(members[0]), f"{path} ({members[0]})")
    except (zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable zip file ({error})") from None


def _decode(raw, name):
    """CSV bytes -> text: UTF-8 (with or without a byte-order mark), or UTF-16 with its mark
    (as some spreadsheet programs save); DataError naming the file otherwise."""
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataError(f"{name}: not {encoding.upper().replace('-SIG', '')} text (byte "
                        f"{raw[error.start]:#04x} at offset {error.start}); save it as UTF-8 "
                        "CSV") from None


def _quote(value, limit=40):
    """A cell for an error message: quoted, and cut short when long (an Image cell that slid into
    a keypoint column holds 30,000 characters)."""
    text = str(value)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def _parse(path):
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty (expected a header and data rows)")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: not a valid CSV ({error})") from None
    if len(frame) == 0:
        raise DataError(f"{path}: has a header but no data rows")
    if IMAGE_COLUMN not in frame.columns:
        raise DataError(f"{path}: no '{IMAGE_COLUMN}' column (columns found: {list(frame.columns)[:5]}...)")

    is_test = "ImageId" in frame.columns
    if is_test:
        image_ids = _numbers(frame["ImageId"], path, "ImageId", allow_missing=False).astype(np.int64)
        keypoints = np.full((len(frame), NUM_COORDS), np.nan, np.float32)
    else:
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: missing keypoint column(s) {missing}; a Kaggle training file "
                            f"has the 30 columns {COLUMNS[0]} ... {COLUMNS[-1]}, then Image")
        keypoints = np.stack([_numbers(frame[c], path, c) for c in COLUMNS], axis=1)
        image_ids = np.arange(1, len(frame) + 1)
    if is_test:
        _check_unique_ids(image_ids, path)
    pixels = _pixels(frame[IMAGE_COLUMN].to_numpy(), path)
    return {"pixels": pixels, "keypoints": keypoints.astype(np.float32), "image_ids": image_ids,
            "is_test": np.array(is_test)}


def _check_unique_ids(image_ids, path):
    values, counts = np.unique(image_ids, return_counts=True)
    if (counts > 1).any():
        image_id = values[np.argmax(counts > 1)]
        rows = np.flatnonzero(image_ids == image_id)[:2]
        raise DataError(f"{path}: ImageId {image_id} appears more than once (rows {rows[0]} and "
                        f"{rows[1]}, lines {rows[0] + 2} and {rows[1] + 2})")


def _numbers(column, path, name, allow_missing=True):
    """A column of strings -> float64 array, NaN for empty cells; DataError on anything else."""
    stripped = column.str.strip()
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & ((stripped != "") | (not allow_missing))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: row {row} (line {row + 2}), column '{name}': "
                        f"{_quote(column.iloc[row])} is not a number")
    return values


def _pixels(strings, path):
    """``Image`` strings -> uint8 ``(N, 9216)``, checking count and range row by row on failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            flat = np.fromstring(" ".join(strings), dtype=np.float64, sep=" ")
        ok = flat.size == len(strings) * NUM_PIXELS and np.all((flat >= 0) & (flat <= 255))
    except ValueError:  # a token that is not a number
        ok = False
    if not ok:  # find and name the first bad row
        for row, text in enumerate(strings):
            _check_image(text, path, row)
        # Every row passed on its own (numpy's row parser takes spellings such as "1_0" that the
        # fast one refuses): use what it read.
        flat = np.concatenate([np.array(text.split(), dtype=np.float64) for text in strings])
    if flat.max() <= 1.0 and np.any(flat != np.round(flat)):
        # Written as floats in [0, 1] (as by a numpy or torch pipeline): scale, and say so.
        warnings.warn(f"{path}: pixel values are in [0, 1], not Kaggle's 0-255: scaled by 255")
        flat = flat * 255.0
    return np.rint(flat).reshape(len(strings), NUM_PIXELS).astype(np.uint8)


def _check_image(text, path, row):
    where = f"{path}: row {row} (line {row + 2}), column '{IMAGE_COLUMN}'"
    tokens = text.split()
    if len(tokens) != NUM_PIXELS:
        raise DataError(f"{where}: {len(tokens)} pixel values, expected {NUM_PIXELS} (96x96)")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise DataError(f"{where}: pixel value {_quote(bad)} is not a number") from None
    out_of_range = (values < 0) | (values > 255) | np.isnan(values)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise DataError(f"{where}: pixel {i} is {tokens[i]}, outside 0-255")


def _is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- cache

def cache_dir():
    """Where parsed arrays are cached: $FACIAL_KEYPOINTS_CACHE, else ~/.cache/facial_keypoints."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "facial_keypoints"
    return Path(os.environ.get("FACIAL_KEYPOINTS_CACHE", default))


def _cache_file(path):
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v2"
    return cache_dir() / f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


CACHED_ARRAYS = {"pixels": 2, "keypoints": 2, "image_ids": 1, "is_test": 0}  # name: dimensions


def _read_cache(cache_file):
    """The cached arrays, or None when there is no cache. A damaged cache (cut short, empty,
    holding other arrays) is never fatal: it is reported and None returned, so it gets rebuilt."""
    if not cache_file.exists():
        return None
    try:
        with np.load(cache_file) as cached:
            arrays = {key: cached[key] for key in CACHED_ARRAYS}
        if any(arrays[key].ndim != ndim for key, ndim in CACHED_ARRAYS.items()):
            raise ValueError("arrays of the wrong shape")
        if arrays["pixels"].shape[1:] != (NUM_PIXELS,) or not (
                len(arrays["pixels"]) == len(arrays["keypoints"]) == len(arrays["image_ids"])):
            raise ValueError("arrays of the wrong size")
        return arrays
    except Exception as error:  # whatever np.load raises on a damaged file: the cache is disposable
        warnings.warn(f"the data cache {cache_file} is damaged ({type(error).__name__}: {error}); "
                      "rebuilding it")
        return None


def _atomic_savez(target, arrays):
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, target)
    except OSError as error:  # a read-only cache folder costs speed, never the load
        warnings.warn(f"could not write the data cache {target}: {error}")


# ----------------------------------------------------------------------------- splits

def sources_table(data, path=None):
    """The ``training_sources.csv`` that describes ``data``'s file, one line per CSV row (where
    each face came from, its person or photo), as text columns; or None when there is none (the
    substitute data sets have one, Kaggle's own files do not). ``path``: another such file. The
    file is read once per process, and again only if it changes."""
    path = Path(path) if path is not None else data.path.parent / "training_sources.csv"
    if not path.is_file():
        return None
    return _read_sources(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _read_sources(path, modified):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def load_groups(data, sources=None):
    """Group labels (person or photo) for each row of ``data``, or None when none are known.

    ``sources``: a ``training_sources.csv`` with a ``group`` column (default: the one beside the
    data file, see :func:`sources_table`).
    """
    table = sources_table(data, sources)
    if table is None:
        return None
    where = sources if sources is not None else data.path.parent / "training_sources.csv"
    if "group" not in table.columns:
        raise DataError(f"{where}: no 'group' column")
    if len(table) <= data.rows.max():
        raise DataError(f"{where}: {len(table)} lines, but the data has row {data.rows.max()}")
    return table["group"].to_numpy()[data.rows]


def load_sources(data):
    """Where each row of ``data`` came from (the ``source_dataset`` column of its
    ``training_sources.csv``, e.g. ``udacity_p1_train``), or None when unknown."""
    table = sources_table(data)
    if table is None or "source_dataset" not in table.columns or len(table) <= data.rows.max():
        return None
    return table["source_dataset"].to_numpy()[data.rows]


def concatenate(parts):
    """Several KeypointData as one, in order (``path`` and ``rows`` stay those of each part's
    file; ``path`` is the first part's)."""
    if len(parts) == 1:
        return parts[0]
    return KeypointData(*(np.concatenate([getattr(p, field) for p in parts])
                          for field in ("images", "keypoints", "mask", "rows", "image_ids")),
                        parts[0].path)


def without_people(extra, people):
    """The rows of an extra training file (e.g. the MTFL one) that show none of ``people`` (the
    main file's validation groups), so that no validation person is trained on.

    Its ``training_sources.csv`` names each row's person in ``name_group``, as
    ``mtfl_lfw:<person>``, the same ``<person>`` as the main file's ``group``. Without such a
    file every row is kept.
    """
    table = sources_table(extra)
    if table is None:
        return extra
    names = table["name_group" if "name_group" in table.columns else "group"]
    person = names.str.replace(r"^[a-z_]+:", "", regex=True).to_numpy()[extra.rows]
    return extra.subset(~np.isin(person, np.asarray(list(people), dtype=str)))


def without_keypoints(data, names):
    """``data`` with the keypoints ``names`` (e.g. ``("nose_tip",)``) marked missing in every row:
    for an extra training file whose labels define those points otherwise than the main file, so
    that they pull the model towards neither definition."""
    columns = [2 * KEYPOINT_INDEX[name] + axis for name in names for axis in (0, 1)]
    if not columns:
        return data
    keypoints, mask = data.keypoints.copy(), data.mask.copy()
    keypoints[:, columns], mask[:, columns] = np.nan, False
    return KeypointData(data.images, keypoints, mask, data.rows, data.image_ids, data.path)


def split(data, val_fraction=0.2, seed=42, groups=None):
    """Deterministic train/validation split: ``(train, val)`` KeypointData.

    With ``groups`` (one label per row, e.g. from :func:`load_groups`) whole groups go to one
    side, so near-duplicate video frames of one person never straddle the split; otherwise rows
    are split at random. The same seed always gives the same split.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(len(data))
        n_val = int(round(val_fraction * len(data)))
        is_val = np.zeros(len(data), bool)
        is_val[order[:n_val]] = True
    else:
        unique = np.unique(groups)
        chosen = rng.permutation(len(unique))[: int(round(val_fraction * len(unique)))]
        is_val = np.isin(groups, unique[chosen])
    return data.subset(~is_val), data.subset(is_val)
