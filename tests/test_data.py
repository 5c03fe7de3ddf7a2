import gzip
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnn_core import data as data_module
from rnn_core.data import (
    ALL_FILES,
    MnistFileError,
    MnistUnavailable,
    encode_idx,
    load_mnist,
    parse_idx,
    raw_dir,
    read_idx,
)


def write_fake_mnist(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        raw = encode_idx(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def test_idx_round_trip():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    assert np.array_equal(parse_idx(encode_idx(images), "x"), images)


def test_wrong_magic_number_names_the_file_and_the_problem(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(MnistFileError, match=r"train-images-idx3-ubyte: wrong magic number"):
        read_idx(path)


def test_truncated_file_names_the_file_and_the_expected_length(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(encode_idx(np.zeros(10, dtype=np.uint8))[:-3])
    with pytest.raises(MnistFileError, match=r"t10k-labels-idx1-ubyte: 15 bytes, expected 18 for 10 items"):
        read_idx(path)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros(50, dtype=np.uint8)))[:-20])
    with pytest.raises(MnistFileError, match=r"train-labels-idx1-ubyte.gz: cannot be decompressed"):
        read_idx(path)


def test_labels_outside_0_to_9_are_refused():
    with pytest.raises(MnistFileError, match="not a digit"):
        parse_idx(encode_idx(np.array([3, 12], dtype=np.uint8)), "labels")


@pytest.mark.parametrize("gz", [True, False])
def test_local_folder_is_checked_extracted_and_then_reused(tmp_path, gz):
    write_fake_mnist(tmp_path / "idx", gz=gz)
    first = load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    assert first.source == "local" and not first.is_sample
    assert first.train_images.shape == (30, 28, 28) and first.test_labels.shape == (10,)
    assert first.train_images.min() >= 0.0 and first.train_images.max() <= 1.0
    assert all((raw_dir(tmp_path / "root") / name).is_file() for name in ALL_FILES)
    second = load_mnist(tmp_path / "root", None, allow_download=False)
    assert second.source == "existing"
    assert (second.train_images == first.train_images).all()


def test_a_damaged_file_in_the_local_folder_is_named_and_nothing_half_lands(tmp_path):
    write_fake_mnist(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(40)))
    with pytest.raises(MnistFileError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    folder = raw_dir(tmp_path / "root")
    assert not (folder / "t10k-images-idx3-ubyte").exists()
    assert not list(folder.glob(".*.tmp"))


def test_an_interrupted_extraction_leaves_no_file_a_later_start_takes_for_good(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "idx")
    real_replace = data_module.os.replace
    calls = []

    def crash_on_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(data_module.os, "replace", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    monkeypatch.undo()
    folder = raw_dir(tmp_path / "root")
    assert not list(folder.glob(".*.tmp"))
    assert sum((folder / name).exists() for name in ALL_FILES) == 2
    # a later start sees an incomplete root, so it goes back to the local folder
    assert load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False).source == "local"


def test_without_any_source_the_bundled_sample_is_used_and_flagged(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    sample = load_mnist(tmp_path, allow_download=False)
    assert sample.is_sample and "sample" in sample.description
    assert sample.train_images.shape == (5000, 28, 28) and sample.test_images.shape == (1000, 28, 28)
    assert np.bincount(sample.train_labels.numpy()).tolist() == [500] * 10


def test_a_failed_download_falls_back_to_the_sample(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)

    def no_network(root):
        raise OSError("network unreachable")

    monkeypatch.setattr(data_module, "_download", no_network)
    assert load_mnist(tmp_path).is_sample


def test_without_any_source_and_no_sample_the_error_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(MnistUnavailable, match="MNIST_DIR"):
        load_mnist(tmp_path, allow_download=False, allow_sample=False)


def test_real_mnist_has_the_known_sizes_labels_and_class_counts(real_mnist):
    assert real_mnist.train_images.shape == (60000, 28, 28)
    assert real_mnist.test_images.shape == (10000, 28, 28)
    assert real_mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert real_mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    counts = np.bincount(real_mnist.train_labels.numpy()).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_a_damaged_extracted_file_is_replaced_from_the_local_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    write_fake_mnist(tmp_path / "idx")
    load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    labels = raw_dir(tmp_path / "root") / "t10k-labels-idx1-ubyte"
    labels.write_bytes(encode_idx(np.arange(9, dtype=np.uint8)))  # one label short
    with pytest.raises(MnistFileError, match="the test split has 10 images but 9 labels"):
        load_mnist(tmp_path / "root", None, allow_download=False)
    data = load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    assert data.source == "local" and "replacing damaged files" in data.description
    assert len(read_idx(labels)) == 10
    assert load_mnist(tmp_path / "root", None, allow_download=False).source == "existing"


def test_images_and_labels_swapped_are_refused_and_nothing_lands(tmp_path):
    folder = tmp_path / "idx"
    write_fake_mnist(folder)
    images, labels = folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    images_bytes = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(images_bytes)
    with pytest.raises(MnistFileError, match=r"train-images-idx3-ubyte.gz: holds labels where images belong"):
        load_mnist(tmp_path / "root", folder, allow_download=False)
    assert not raw_dir(tmp_path / "root").exists()


def test_an_empty_split_is_refused(tmp_path):
    write_fake_mnist(tmp_path / "idx", n_test=0)
    with pytest.raises(MnistFileError, match=r"t10k-images-idx3-ubyte.gz: its header announces 0 images"):
        load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)


def test_a_header_announcing_more_than_mnist_is_refused_before_the_body_is_read(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes((2049).to_bytes(4, "big") + (10**9).to_bytes(4, "big") + bytes(100))
    with pytest.raises(MnistFileError, match=r"announces 1,000,000,000 labels; MNIST has 1 to 60,000"):
        read_idx(path)


def test_a_gzip_bomb_is_refused_without_being_inflated(tmp_path):
    """A valid labels file followed by 256 MiB of zeros (256 gzip members, ~260 KB on disk)."""
    write_fake_mnist(tmp_path / "idx")
    bomb = tmp_path / "idx" / "train-labels-idx1-ubyte.gz"
    zeros = gzip.compress(bytes(2**20), 9)
    bomb.write_bytes(gzip.compress(encode_idx((np.arange(30) % 10).astype(np.uint8))) + zeros * 256)
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(MnistFileError, match="train-labels-idx1-ubyte.gz: longer than the 38 bytes"):
            load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.0f} MiB held while refusing the bomb"


def test_a_local_folder_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(MnistFileError, match=r"the MNIST folder .*nowhere does not exist"):
        load_mnist(tmp_path / "root", tmp_path / "nowhere", allow_download=False)


def denied(*args, **kwargs):
    raise PermissionError(13, "Permission denied", "/srv/data/MNIST/raw")


def test_a_data_root_that_cannot_be_written_is_reported_as_that(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "idx")
    monkeypatch.setattr(data_module, "atomic_write_bytes", denied)
    with pytest.raises(MnistFileError, match=r"cannot read or write /srv/data/MNIST/raw: Permission denied") as refused:
        load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    assert "MNIST_DIR" not in str(refused.value)


def test_a_download_stopped_by_permissions_does_not_suggest_setting_mnist_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(data_module, "_download", denied)
    with pytest.raises(MnistFileError, match="Permission denied") as refused:
        load_mnist(tmp_path, allow_sample=False)
    assert "MNIST_DIR" not in str(refused.value)


def test_an_unreadable_local_file_is_reported_as_that(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "idx")
    monkeypatch.setattr(data_module.gzip, "open", denied)
    with pytest.raises(MnistFileError, match="Permission denied") as refused:
        load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    assert "decompressed" not in str(refused.value)


def test_temporary_files_of_killed_extractions_are_cleaned_up_but_not_a_live_ones(tmp_path):
    write_fake_mnist(tmp_path / "idx")
    folder = raw_dir(tmp_path / "root")
    folder.mkdir(parents=True)
    stale, live = folder / ".train-images-idx3-ubyte.k1ll3d.tmp", folder / ".t10k-images-idx3-ubyte.l1v3.tmp"
    for leftover in (stale, live):
        leftover.write_bytes(bytes(1000))
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    load_mnist(tmp_path / "root", tmp_path / "idx", allow_download=False)
    assert not stale.exists() and live.exists()
