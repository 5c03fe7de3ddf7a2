"""The row-by-row classifier: each 28x28 image is a sequence of 28 rows of 28 pixels.

The recurrent layer reads one row per time step; after the last row, a linear layer maps the
final hidden state to 10 digit scores, turned into log-probabilities (many-to-one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import ModelConfig

ROWS = PIXELS_PER_ROW = 28
NUM_CLASSES = 10
RECURRENT_LAYERS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


@dataclass
class RowTrace:
    """What the network thinks after every row, for one batch."""

    log_probs: torch.Tensor  # [batch, 28, 10]: the output layer applied to each h_t
    hidden: torch.Tensor  # [batch, 28, hidden]: h_t of the top layer


class RowClassifier(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.recurrent = RECURRENT_LAYERS[config.cell_type](
            input_size=PIXELS_PER_ROW,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
        )
        self.classifier = nn.Linear(config.hidden_size, NUM_CLASSES)

    @staticmethod
    def _as_rows(images: torch.Tensor) -> torch.Tensor:
        # Accept [B, 1, 28, 28] (ToTensor's channel) as well as [B, 28, 28].
        return images.reshape(images.shape[0], ROWS, PIXELS_PER_ROW)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, 10] after the last row."""
        outputs, _ = self.recurrent(self._as_rows(images))
        return F.log_softmax(self.classifier(outputs[:, -1]), dim=1)

    def trace(self, images: torch.Tensor) -> RowTrace:
        """Log-probabilities and hidden state after each of the 28 rows."""
        outputs, _ = self.recurrent(self._as_rows(images))
        return RowTrace(F.log_softmax(self.classifier(outputs), dim=-1), outputs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
