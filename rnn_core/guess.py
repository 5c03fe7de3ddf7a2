"""The model's answer with its runner-up, and whether it is sure enough to be believed.

On drawn digits (`bench/bench_drawings.py`, the pen set of 7,500 redrawn test digits) every
preset's answers given with a top probability under 80% were right only about half the time
(47-58%), against 95-98% for the rest; between 80% and 95% they were right 68-87% of the time,
and above 95%, 89-100%. Under `UNSURE_BELOW` the canvas says the model is unsure and shows its
second guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

UNSURE_BELOW = 0.8


@dataclass(frozen=True)
class Guess:
    digit: int
    probability: float
    second: int  # the runner-up
    second_probability: float

    @property
    def unsure(self) -> bool:
        return self.probability < UNSURE_BELOW


def best_two(probabilities: torch.Tensor) -> Guess:
    """The two likeliest digits of one image's 10 probabilities."""
    top = torch.topk(probabilities, 2)
    (first, second), (p_first, p_second) = top.indices.tolist(), top.values.tolist()
    return Guess(first, p_first, second, p_second)
