"""Rebuild the offline sample bundled in rnn_core/sample_data from the full MNIST.

    .venv/bin/python scripts/make_sample.py ../shared/data/mnist

Takes the first images of each class in file order (500 per class from train, 100 per class
from test), so the sample is balanced and the same every time it is rebuilt.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnn_core.data import SAMPLE_DIR, SPLIT_FILES, atomic_write_bytes, encode_idx, find_idx_file, read_idx  # noqa: E402

PER_CLASS = {"train": 500, "test": 100}


def balanced_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    picked = [np.flatnonzero(labels == digit)[:per_class] for digit in range(10)]
    return np.sort(np.concatenate(picked))


def idx_file(folder: Path, name: str) -> Path:
    path = find_idx_file(folder, name)
    if path is None:
        sys.exit(f"error: {folder} has no {name} (or {name}.gz): give the folder holding the four MNIST files")
    return path


def main(folder: Path) -> None:
    for split, (images_name, labels_name) in SPLIT_FILES.items():
        images = read_idx(idx_file(folder, images_name))
        labels = read_idx(idx_file(folder, labels_name))
        keep = balanced_indices(labels, PER_CLASS[split])
        for name, array in ((images_name, images[keep]), (labels_name, labels[keep])):
            # mtime=0 keeps the bytes identical from one rebuild to the next
            atomic_write_bytes(SAMPLE_DIR / f"{name}.gz", gzip.compress(encode_idx(array), 9, mtime=0))
        print(f"{split}: {len(keep)} images, {np.bincount(labels[keep]).tolist()} per class")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=Path("../shared/data/mnist"),
        help="folder with the four MNIST IDX files, gzipped or not (default: %(default)s)",
    )
    main(parser.parse_args().folder)
