"""Time one training epoch at the notebook's settings: the notebook's own loop vs rnn_core.

    python bench/bench_epoch.py [--rounds 3] [--device cpu|cuda]

The reference is the teaching notebook's pipeline: a DataLoader (batch 100, shuffled) over
torchvision's MNIST with ToTensor, feeding the same LSTM, NLL loss and SGD. rnn_core's
Trainer holds the split as one tensor and gathers batches by index. The two alternate in one
process so that both see the same machine state; the ratio of medians is the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F
from torchvision import datasets, transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import PRESETS, RowClassifier, Trainer, load_mnist  # noqa: E402
from rnn_core.checkpoint import build_optimizer  # noqa: E402
from rnn_core.trainer import resolve_device  # noqa: E402


def notebook_epoch(loader: torch.utils.data.DataLoader, device: torch.device) -> float:
    preset = PRESETS["notebook"]
    model = RowClassifier(preset.model).to(device)
    optimizer = build_optimizer(model, preset.train)
    start = time.perf_counter()
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        loss = F.nll_loss(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def core_epoch(data, device_name: str) -> float:
    preset = PRESETS["notebook"]
    trainer = Trainer(data, preset.model, dataclasses.replace(preset.train, device=device_name))
    trainer.run(epochs=1)
    return trainer.history[-1].train_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()

    device = resolve_device(args.device)
    data = load_mnist(args.data_dir, allow_download=False, allow_sample=False)
    dataset = datasets.MNIST(Path(args.data_dir), train=True, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, PRESETS["notebook"].train.batch_size, shuffle=True)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, data: {data.description}")

    reference, ours = [], []
    for round_index in range(1, args.rounds + 1):
        reference.append(notebook_epoch(loader, device))
        ours.append(core_epoch(data, args.device))
        print(f"round {round_index}: notebook loop {reference[-1]:.2f} s, rnn_core {ours[-1]:.2f} s")
    ratio = statistics.median(reference) / statistics.median(ours)
    print(
        f"median epoch: notebook loop {statistics.median(reference):.2f} s, "
        f"rnn_core {statistics.median(ours):.2f} s, speed-up {ratio:.1f}x"
    )


if __name__ == "__main__":
    main()
