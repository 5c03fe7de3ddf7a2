"""Train every reading order with the same cell, size and budget, beside the papers' figures.

    python bench/bench_orders.py                        # the CPU budget: about 10 minutes on 2 cores
    python bench/bench_orders.py --budget papers --device cuda   # all of MNIST, for a GPU

Each order (rows top to bottom, rows bottom to top, columns, pixel by pixel, a fixed random
pixel order) trains one LSTM of the same size on the same images for the same epochs; its test
accuracy and seconds per epoch are printed beside the figures published for sequential
(pixel by pixel) and permuted MNIST. Before each training, `estimate_epoch_cost` times a few
batches, as a page does before a run starts; its estimate is printed beside the measured epoch.

The CPU budget is small, and the output says so: a 784-step epoch costs about 30 rows epochs,
so every order gets a subset of the training images and is scored on a subset of the test
images. The papers trained for hundreds of epochs of all 60,000 images; `--budget papers`
gives all of them to each order, for a GPU. Torch runs on one thread by default: on a shared
machine two threads made each 784-step batch many times slower, not faster.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import load_mnist  # noqa: E402
from rnn_core.config import ModelConfig, TrainConfig  # noqa: E402
from rnn_core.data import MnistData  # noqa: E402
from rnn_core.epoch_cost import estimate_epoch_cost  # noqa: E402
from rnn_core.reading_order import ORDERS, PERMUTED, PIXEL_BY_PIXEL, ReadingOrder  # noqa: E402
from rnn_core.trainer import Trainer  # noqa: E402

# Test accuracy (%) as reported: Le, Jaitly & Hinton 2015 (arXiv:1504.00941), Arjovsky, Shah &
# Bengio 2016 (arXiv:1511.06464). Sequential MNIST is the pixel-by-pixel order.
PAPERS = {
    PIXEL_BY_PIXEL: "LSTM 65, IRNN 97 (Le 2015); LSTM 98.2, uRNN 95.1 (Arjovsky 2016)",
    PERMUTED: "LSTM 36, IRNN 82 (Le 2015); LSTM 88.0, uRNN 91.4 (Arjovsky 2016)",
}


@dataclass(frozen=True)
class Budget:
    """What every order gets: the model, how it learns, and how many images."""

    hidden_size: int
    learning_rate: float
    batch_size: int
    epochs: int
    train_images: int | None  # None: all 60,000
    test_images: int | None  # None: all 10,000


BUDGETS = {
    # the quick preset's model and learning (LSTM 64, Adam lr 0.01, batch 64) on 10,000 images
    "cpu": Budget(64, 0.01, 64, 2, 10_000, 2_000),
    # all of MNIST, the papers' sizes of model (100-128 units) and a learning rate for Adam that
    # 784-step LSTMs stand; still far fewer epochs than the papers trained
    "papers": Budget(128, 1e-3, 100, 20, None, None),
}


def test_subset(data: MnistData, count: int | None) -> MnistData:
    """The data with a fixed random subset of the test images (all of them for None)."""
    if count is None or count >= len(data.test_labels):
        return data
    keep = torch.randperm(len(data.test_labels), generator=torch.Generator().manual_seed(0))[:count]
    return dataclasses.replace(data, test_images=data.test_images[keep], test_labels=data.test_labels[keep])


def train_order(data: MnistData, order: str, budget: Budget, device: str, seed: int) -> dict:
    model = ModelConfig(hidden_size=budget.hidden_size, reading_order=order)
    train = TrainConfig(
        optimizer="Adam",
        learning_rate=budget.learning_rate,
        batch_size=budget.batch_size,
        epochs=budget.epochs,
        train_limit=budget.train_images,
        seed=seed,
        device=device,
    )
    cost = estimate_epoch_cost(data, model, train)
    trainer = Trainer(data, model, train)
    end = trainer.run()
    scored = [row for row in trainer.history if row.epoch > 0 and not row.partial]
    return {
        "order": order,
        "accuracy": trainer.history[-1].test_accuracy,
        "by_epoch": [round(row.test_accuracy, 1) for row in trainer.history],
        "train_seconds": sum(row.train_seconds for row in scored) / max(1, len(scored)),
        "estimate": cost.training_seconds(cost.train_images),
        "status": end.status.value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=list(BUDGETS), default="cpu")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--epochs", type=int, help="override the budget's epochs")
    parser.add_argument("--train-images", type=int, help="override the budget's training images")
    parser.add_argument("--learning-rate", type=float, help="override the budget's learning rate (Adam)")
    parser.add_argument("--orders", default=",".join(ORDERS), help="comma-separated (default: all five)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    budget = BUDGETS[args.budget]
    budget = dataclasses.replace(
        budget,
        epochs=args.epochs or budget.epochs,
        train_images=args.train_images or budget.train_images,
        learning_rate=args.learning_rate or budget.learning_rate,
    )
    data = test_subset(
        load_mnist(args.data_dir, args.mnist_dir, allow_download=False, allow_sample=False), budget.test_images
    )
    images = "all 60,000" if budget.train_images is None else f"{budget.train_images:,} of the 60,000"
    print(
        f"budget '{args.budget}', the same for every order: LSTM hidden {budget.hidden_size}, Adam lr "
        f"{budget.learning_rate:g}, batch {budget.batch_size}, {budget.epochs} epochs of {images} training "
        f"images, scored on {len(data.test_labels):,} test images (fixed random subset)"
    )
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}"
    )
    print(f"{'order':<12} {'steps':>5} {'accuracy':>9} {'s/epoch':>8} {'estimate':>9}  by epoch; papers (%)")
    start = time.perf_counter()
    for order in args.orders.split(","):
        result = train_order(data, order, budget, args.device, args.seed)
        print(
            f"{order:<12} {ReadingOrder(order).steps:>5} {result['accuracy']:>8.1f}% {result['train_seconds']:>8.1f} "
            f"{result['estimate']:>9.1f}  {result['by_epoch']} {result['status']}; {PAPERS.get(order, '-')}",
            flush=True,
        )
    print(f"whole bench {time.perf_counter() - start:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")
    print(
        "s/epoch: training only (whole epochs, measured); estimate: the same, from estimate_epoch_cost's "
        "timing of a few batches before the training"
    )


if __name__ == "__main__":
    main()
