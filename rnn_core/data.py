"""MNIST as tensors: find the files, check them, load them once.

Sources, tried in order (the result says which one it used):
  1. the files already extracted under `<root>/MNIST/raw` (torchvision's layout);
  2. a local folder of the four IDX files, gzipped or not (`MNIST_DIR` or an argument),
     extracted into the root;
  3. torchvision's download, when there is internet;
  4. the small sample of real MNIST bundled in this package, flagged as a sample.

The IDX files are parsed here rather than by torchvision so that a damaged file is named
in the error together with what is wrong with it. Each file is read only as far as its header
announces, so a gzip bomb is never inflated past the size of a real MNIST file. Files already
extracted are checked at every start; damaged ones are replaced from a local folder when one
is given. A file that cannot be read or written (permissions, a full disk) is reported as
such, never papered over with other data.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = tuple(name for pair in SPLIT_FILES.values() for name in pair)
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
KINDS = {IMAGE_MAGIC: "images", LABEL_MAGIC: "labels"}
SLOT_MAGIC = {name: IMAGE_MAGIC if "-images-" in name else LABEL_MAGIC for name in ALL_FILES}
# The largest MNIST split. A header announcing more is not MNIST, and refusing it before the
# body is read keeps a crafted file from making this process inflate gigabytes.
MAX_ITEMS = 60_000
# An extraction writes a file in about a second; a temporary file this old was left by one
# that was killed. Younger ones may belong to another process extracting right now.
STALE_TMP_SECONDS = 600
SAMPLE_DIR = Path(__file__).with_name("sample_data")
MnistSource = Literal["existing", "local", "download", "sample"]


class MnistFileError(ValueError):
    """A data file that is missing, truncated, not an MNIST IDX file, or cannot be read or
    written; the message names it."""


class MnistUnavailable(RuntimeError):
    """No source gave usable data (only possible when the bundled sample is turned off)."""


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # float32 [N, 28, 28] in [0, 1], as ToTensor gives
    train_labels: torch.Tensor  # int64 [N]
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: MnistSource
    description: str  # for people: where the data came from

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name == "train":
            return self.train_images, self.train_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"split must be 'train' or 'test', got {name!r}")


def parse_idx(raw: bytes, name: str, expect: int | None = None) -> np.ndarray:
    """Check and decode one IDX file's bytes (uint8 images [N, 28, 28] or labels [N])."""
    return read_idx_stream(io.BytesIO(raw), name, expect)


def read_idx_stream(stream: io.BufferedIOBase, name: str, expect: int | None = None) -> np.ndarray:
    """Check and decode one IDX file, reading no further than its header announces (and one
    byte more, to notice extra data). `expect` is the magic the file's slot needs."""
    head = stream.read(4)
    if len(head) < 4:
        raise MnistFileError(f"{name}: only {len(head)} bytes, too short for an IDX header")
    magic = int.from_bytes(head, "big")
    if magic not in KINDS:
        raise MnistFileError(
            f"{name}: wrong magic number {magic:#010x}; expected {IMAGE_MAGIC:#010x} (images) "
            f"or {LABEL_MAGIC:#010x} (labels). This is not an MNIST IDX file."
        )
    kind = KINDS[magic]
    if expect is not None and magic != expect:
        raise MnistFileError(f"{name}: holds {kind} where {KINDS[expect]} belong (are the files swapped?)")
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise MnistFileError(f"{name}: truncated inside its header")
    dims = [int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise MnistFileError(f"{name}: images are {dims[1]}x{dims[2]}, expected 28x28")
    if not 0 < dims[0] <= MAX_ITEMS:
        raise MnistFileError(f"{name}: its header announces {dims[0]:,} {kind}; MNIST has 1 to {MAX_ITEMS:,}")
    size = int(np.prod(dims))
    body = stream.read(size + 1)
    if len(body) > size:
        raise MnistFileError(
            f"{name}: longer than the {header + size} bytes its header announces for {dims[0]} items (extra bytes)"
        )
    if len(body) < size:
        raise MnistFileError(
            f"{name}: {header + len(body)} bytes, expected {header + size} for {dims[0]} items (the file is truncated)"
        )
    array = np.frombuffer(body, dtype=np.uint8).reshape(dims)
    if ndim == 1 and array.max() > 9:
        raise MnistFileError(f"{name}: label {array.max()} is not a digit 0-9")
    return array


def read_idx(path: Path, expect: int | None = None) -> np.ndarray:
    path = Path(path)
    compressed = path.suffix == ".gz"
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
            return read_idx_stream(stream, str(path), expect)
    except FileNotFoundError:
        raise MnistFileError(f"{path}: file not found") from None
    except PermissionError:
        raise  # the user's to fix; load_mnist reports it without suggesting other data
    except (OSError, EOFError, zlib.error) as err:
        raise MnistFileError(f"{path}: cannot be {'decompressed' if compressed else 'read'} ({err})") from None


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 image stack [N, 28, 28] or label vector [N]."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def raw_dir(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def find_idx_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_set(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """The four files, each checked for its slot, and one label per image in each split."""
    arrays = {name: read_idx(path, SLOT_MAGIC[name]) for name, path in paths.items()}
    for split, (images, labels) in SPLIT_FILES.items():
        if len(arrays[images]) != len(arrays[labels]):
            raise MnistFileError(
                f"{paths[labels].parent}: the {split} split has {len(arrays[images])} images "
                f"but {len(arrays[labels])} labels"
            )
    return arrays


def extract_folder(folder: Path, root: Path) -> dict[str, np.ndarray]:
    """Check the four IDX files in `folder` and place them, uncompressed, under the root."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MnistFileError(f"the MNIST folder {folder} does not exist")
    looked_for = {name: find_idx_file(folder, name) for name in ALL_FILES}
    found = {name: path for name, path in looked_for.items() if path is not None}
    if missing := [name for name in ALL_FILES if name not in found]:
        raise MnistFileError(f"{folder}: missing {', '.join(missing)} (gzipped or not)")
    arrays = read_set(found)  # all four checked before anything lands in the root
    for name, array in arrays.items():
        atomic_write_bytes(raw_dir(root) / name, encode_idx(array))
    return arrays


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files of extractions that were killed part-way."""
    for leftover in Path(folder).glob(".*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TMP_SECONDS:
                leftover.unlink()
        except OSError:  # gone already, or not ours to delete: either way harmless
            pass


def _download(root: Path) -> dict[str, np.ndarray]:
    """torchvision's download into a scratch folder; only checked files reach the root."""
    from torchvision import datasets

    raw_dir(root).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=Path(root) / "MNIST", prefix=".download-"))
    try:
        datasets.MNIST(scratch, train=True, download=True)
        datasets.MNIST(scratch, train=False, download=True)
        return extract_folder(raw_dir(scratch), root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _to_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    tensors = {}
    for split, (images_name, labels_name) in SPLIT_FILES.items():
        tensors[f"{split}_images"] = torch.from_numpy(arrays[images_name].astype(np.float32) / 255.0)
        tensors[f"{split}_labels"] = torch.from_numpy(arrays[labels_name].astype(np.int64))
    return tensors


def load_sample() -> MnistData:
    tensors = _to_tensors(read_set({name: SAMPLE_DIR / f"{name}.gz" for name in ALL_FILES}))
    n_train, n_test = len(tensors["train_labels"]), len(tensors["test_labels"])
    return MnistData(
        **tensors,
        source="sample",
        description=(
            f"offline sample: {n_train:,} train / {n_test:,} test images bundled with the package, not the full MNIST"
        ),
    )


def load_mnist(
    root: str | Path = "data",
    mnist_dir: str | Path | None = None,
    allow_download: bool = True,
    allow_sample: bool = True,
) -> MnistData:
    """Load MNIST from the first source that has it: the root, the folder `mnist_dir`, a
    download, the bundled sample.

    A damaged file in the root (when no local folder can replace it) or in the local folder
    raises MnistFileError naming it, rather than silently falling back to other data; so does
    a file or folder that cannot be read or written.
    """
    try:
        return _load(Path(root), mnist_dir, allow_download, allow_sample)
    except OSError as err:  # permissions, a full disk: nothing another source would fix
        raise MnistFileError(f"cannot read or write {err.filename or root}: {err.strerror or err}") from None


def _load(root: Path, mnist_dir: str | Path | None, allow_download: bool, allow_sample: bool) -> MnistData:
    folder = raw_dir(root)
    remove_stale_temporaries(folder)
    replaced = ""
    if all((folder / name).is_file() for name in ALL_FILES):
        try:
            arrays = read_set({name: folder / name for name in ALL_FILES})
        except MnistFileError as err:
            if not mnist_dir:
                raise
            replaced = f", replacing damaged files there ({err})"
        else:
            return MnistData(**_to_tensors(arrays), source="existing", description=f"files already in {folder}")
    if mnist_dir:
        arrays = extract_folder(Path(mnist_dir), root)
        description = f"local folder {mnist_dir} (extracted into {folder}{replaced})"
        return MnistData(**_to_tensors(arrays), source="local", description=description)
    tried = ["no files under the root and MNIST_DIR is not set"]
    if allow_download:
        try:
            arrays = _download(root)
            description = f"downloaded by torchvision into {folder}"
            return MnistData(**_to_tensors(arrays), source="download", description=description)
        except PermissionError:
            raise  # a data root this process may not write: reported as that, not as no network
        except Exception as err:  # no network, server down, bad response: try the sample
            tried.append(f"download failed ({type(err).__name__}: {err})")
    if allow_sample:
        return load_sample()
    raise MnistUnavailable(
        "MNIST could not be loaded: " + "; ".join(tried) + ". Connect to the internet, or set "
        "MNIST_DIR to a folder holding the four MNIST IDX files."
    )
