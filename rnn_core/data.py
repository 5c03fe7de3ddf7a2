"""MNIST as tensors: find the files, check them, load them once.

Sources, tried in order (the result says which one it used):
  1. the files already extracted under `<root>/MNIST/raw` (torchvision's layout);
  2. a local folder of the four IDX files, gzipped or not (`MNIST_DIR` or an argument),
     extracted into the root;
  3. torchvision's download, when there is internet;
  4. the small sample of real MNIST bundled in this package, flagged as a sample.

The IDX files are parsed here rather than by torchvision so that a damaged file is named
in the error together with what is wrong with it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = tuple(name for pair in SPLIT_FILES.values() for name in pair)
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
SAMPLE_DIR = Path(__file__).with_name("sample_data")
SOURCES = ("existing", "local", "download", "sample")


class MnistFileError(ValueError):
    """A data file that is missing, truncated or not an MNIST IDX file."""


class MnistUnavailable(RuntimeError):
    """No source gave usable data (only possible when the bundled sample is turned off)."""


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # float32 [N, 28, 28] in [0, 1], as ToTensor gives
    train_labels: torch.Tensor  # int64 [N]
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str  # one of SOURCES
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


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """Check and decode one IDX file's bytes (uint8 images [N, 28, 28] or labels [N])."""
    if len(raw) < 8:
        raise MnistFileError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise MnistFileError(
            f"{name}: wrong magic number {magic:#010x}; expected {IMAGE_MAGIC:#010x} (images) "
            f"or {LABEL_MAGIC:#010x} (labels). This is not an MNIST IDX file."
        )
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistFileError(f"{name}: truncated inside its header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise MnistFileError(f"{name}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise MnistFileError(
            f"{name}: {len(raw)} bytes, expected {expected} for {dims[0]} items "
            "(the file is truncated or has extra bytes)"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.size and array.max() > 9:
        raise MnistFileError(f"{name}: label {array.max()} is not a digit 0-9")
    return array


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise MnistFileError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as err:
        raise MnistFileError(f"{path}: cannot be decompressed ({err})") from None
    return parse_idx(raw, str(path))


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


def extract_folder(folder: Path, root: Path) -> None:
    """Check the four IDX files in `folder` and place them, uncompressed, under the root."""
    folder = Path(folder)
    found = {name: find_idx_file(folder, name) for name in ALL_FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MnistFileError(f"{folder}: missing {', '.join(missing)} (gzipped or not)")
    for name, path in found.items():
        array = read_idx(path)  # validates before anything lands in the root
        atomic_write_bytes(raw_dir(root) / name, encode_idx(array))


def _download(root: Path) -> None:
    """torchvision's download into a scratch folder; only checked files reach the root."""
    from torchvision import datasets

    raw_dir(root).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=Path(root) / "MNIST", prefix=".download-"))
    try:
        datasets.MNIST(scratch, train=True, download=True)
        datasets.MNIST(scratch, train=False, download=True)
        extract_folder(raw_dir(scratch), root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _to_tensors(folder: Path, files: dict[str, tuple[str, str]]) -> dict[str, torch.Tensor]:
    tensors = {}
    for split, (images_name, labels_name) in files.items():
        images = read_idx(folder / images_name)
        labels = read_idx(folder / labels_name)
        if len(images) != len(labels):
            raise MnistFileError(
                f"{folder}: {split} has {len(images)} images but {len(labels)} labels"
            )
        tensors[f"{split}_images"] = torch.from_numpy(images.astype(np.float32) / 255.0)
        tensors[f"{split}_labels"] = torch.from_numpy(labels.astype(np.int64))
    return tensors


def load_sample() -> MnistData:
    files = {split: (f"{a}.gz", f"{b}.gz") for split, (a, b) in SPLIT_FILES.items()}
    tensors = _to_tensors(SAMPLE_DIR, files)
    n_train, n_test = len(tensors["train_labels"]), len(tensors["test_labels"])
    return MnistData(
        **tensors,
        source="sample",
        description=(
            f"offline sample: {n_train:,} train / {n_test:,} test images bundled with the "
            "package, not the full MNIST"
        ),
    )


def load_mnist(
    root: str | Path = "data",
    mnist_dir: str | Path | None = None,
    allow_download: bool = True,
    allow_sample: bool = True,
) -> MnistData:
    """Load MNIST from the first source that has it. `mnist_dir` defaults to $MNIST_DIR.

    A damaged file in the root or the local folder raises MnistFileError naming it, rather
    than silently falling back to other data.
    """
    root = Path(root)
    mnist_dir = mnist_dir or os.environ.get("MNIST_DIR") or None
    tried = []
    folder = raw_dir(root)
    if all((folder / name).is_file() for name in ALL_FILES):
        source, description = "existing", f"files already in {folder}"
    elif mnist_dir:
        extract_folder(Path(mnist_dir), root)
        source, description = "local", f"local folder {mnist_dir} (extracted into {folder})"
    else:
        source = None
        tried.append("no files under the root and MNIST_DIR is not set")
        if allow_download:
            try:
                _download(root)
                source, description = "download", f"downloaded by torchvision into {folder}"
            except Exception as err:  # no network, server down, bad response: try the sample
                tried.append(f"download failed ({type(err).__name__}: {err})")
    if source is not None:
        return MnistData(**_to_tensors(folder, SPLIT_FILES), source=source, description=description)
    if allow_sample:
        return load_sample()
    raise MnistUnavailable(
        "MNIST could not be loaded: " + "; ".join(tried) + ". Connect to the internet, or set "
        "MNIST_DIR to a folder holding the four MNIST IDX files."
    )
