"""Accuracy on MNIST's test digits redrawn with thin to thick pens: old vs new preprocessing.

    .venv/bin/python bench/bench_pens.py [--digits 1500] [--seed 0] [--checkpoint run.pt]

Trains the `quick` preset on the CPU (or loads a checkpoint saved by the app), then scores
it on test digits picked at random (`--seed`): as they are, and redrawn on a 280 px
canvas-like picture by `rnn_core.pen_digits` (each digit once with every pen in PENS,
the sizes taking turns, at a random place). Every redrawn picture is read through the old
preprocessing (crop, scale, centre: `mnist_style(picture, restroke=False)`) and the new one,
which first brings the strokes to MNIST's usual thickness. Also times `mnist_style` on the
280 px pictures.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rnn_core import PRESETS, Trainer, load_checkpoint, load_mnist  # noqa: E402
from rnn_core.evaluate import predict_log_probs  # noqa: E402
from rnn_core.pen_digits import PENS, SIZES, pen_digits  # noqa: E402
from rnn_core.preprocess import mnist_style  # noqa: E402


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predict_log_probs(model, images).argmax(1) == labels).float().mean().item() * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1500, help="test digits to redraw (default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="picks the digits and their places")
    parser.add_argument("--checkpoint", default=None, help="a .pt saved by the app, instead of training")
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()

    data = load_mnist(args.data_dir, allow_download=False, allow_sample=False)
    if args.checkpoint:
        model, described = load_checkpoint(args.checkpoint).build_model(), args.checkpoint
    else:
        preset = PRESETS["quick"]
        start = time.perf_counter()
        trainer = Trainer(data, preset.model, dataclasses.replace(preset.train, device="cpu"))
        trainer.run()
        model = trainer.scored_model.cpu()
        described = f"the quick preset, seed 0, trained in {time.perf_counter() - start:.0f} s"
    pick = torch.randperm(len(data.test_labels), generator=torch.Generator().manual_seed(args.seed))[: args.digits]
    images, labels = data.test_images[pick], data.test_labels[pick]
    threads = torch.get_num_threads()
    print(f"model: {described}; {len(labels)} test digits, torch {torch.__version__}, {threads} threads", flush=True)
    whole = accuracy(model, data.test_images, data.test_labels)
    plain = accuracy(model, images, labels)
    styled = accuracy(model, torch.stack([mnist_style(image.numpy()) for image in images]), labels)
    print(
        f"plain MNIST test digits: {plain:.1f}% on these {len(labels)} ({whole:.2f}% on all 10,000); "
        f"through the new mnist_style {styled:.1f}%",
        flush=True,
    )

    seen: dict[str, list[torch.Tensor]] = {"old": [], "new": []}
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    drawn = []
    start = time.perf_counter()
    for digit in pen_digits(images, labels, seed=args.seed):
        for name, restroke in (("old", False), ("new", True)):
            begin = time.perf_counter()
            seen[name].append(mnist_style(digit.picture, restroke=restroke))
            seconds[name].append(time.perf_counter() - begin)
        drawn.append(digit)
    print(f"{len(drawn)} redrawn pictures, {time.perf_counter() - start:.0f} s with drawing and both preprocessings")

    right = {
        name: predict_log_probs(model, torch.stack(seen[name])).argmax(1) == torch.tensor([d.label for d in drawn])
        for name in seen
    }
    groups: dict[tuple[str, float], list[int]] = defaultdict(list)
    for position, digit in enumerate(drawn):
        groups["pen", digit.pen].append(position)
        groups["size", digit.size].append(position)

    def row(title: str, positions: list[int]) -> str:
        old, new = (right[name][positions].float().mean().item() * 100 for name in ("old", "new"))
        return f"| {title} | {len(positions)} | {old:.1f}% | {new:.1f}% | {new - plain:+.1f} |"

    print(f"\n| pen (of the digit's height) | pictures | old | new | new - plain ({plain:.1f}%) |")
    print("|---|---:|---:|---:|---:|")
    for pen in PENS:
        print(row(f"{pen:.0%}", groups["pen", pen]))
    print(row("all", list(range(len(drawn)))))
    print(f"\n| digit size (of the canvas) | pictures | old | new | new - plain ({plain:.1f}%) |")
    print("|---|---:|---:|---:|---:|")
    for size in SIZES:
        print(row(f"{size:.0%}", groups["size", size]))

    print("\nmnist_style on a 280x280 RGBA picture, ms: median / 95th percentile / slowest")
    for name in ("old", "new"):
        times = sorted(1000 * s for s in seconds[name])
        print(f"  {name}: {statistics.median(times):.1f} / {times[int(0.95 * len(times))]:.1f} / {times[-1]:.1f}")


if __name__ == "__main__":
    main()
