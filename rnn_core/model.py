"""The row-by-row classifier: each 28x28 image is a sequence of 28 rows of 28 pixels.

The recurrent layer reads one row per time step; after the last row, a linear layer maps the
final hidden state to 10 digit scores, turned into log-probabilities (many-to-one). A model
configured with another reading order (`rnn_core.reading_order`) cuts the image into its
steps instead: columns, or 784 single pixels; every "row" below is then a step.

`trace` also opens the top recurrent layer: it recomputes the LSTM's or GRU's gates and the
LSTM's cell state from the layer's own weights, one step at a time, following PyTorch's
equations (gate order i, f, g, o for LSTM and r, z, n for GRU in `weight_ih_l{k}`).
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
LSTM_GATES = ("input", "forget", "candidate", "output")
GRU_GATES = ("reset", "update", "candidate")


@dataclass
class RowTrace:
    """What the network thinks after every row, for one batch."""

    log_probs: torch.Tensor  # [batch, steps, 10]: the output layer applied to each h_t
    hidden: torch.Tensor  # [batch, steps, hidden]: h_t of the top layer
    cell: torch.Tensor | None  # [batch, steps, hidden]: c_t of the top layer (LSTM only)
    gates: dict[str, torch.Tensor]  # name -> [batch, steps, hidden], top layer; LSTM_GATES, GRU_GATES or none


@dataclass
class _LayerSteps:
    """One recurrent layer recomputed step by step."""

    hidden: torch.Tensor  # [batch, steps, hidden]
    cell: torch.Tensor | None
    gates: dict[str, torch.Tensor]


def _lstm_layer(inputs: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> _LayerSteps:
    # The input projection of all 28 rows is one matrix product; only h_{t-1} must wait.
    projected = inputs @ w_ih.T + b_ih
    h = c = inputs.new_zeros(inputs.shape[0], w_hh.shape[1])
    hidden, cells = [], []
    gates: dict[str, list[torch.Tensor]] = {name: [] for name in LSTM_GATES}
    for t in range(inputs.shape[1]):
        i, f, g, o = (projected[:, t] + h @ w_hh.T + b_hh).chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        hidden.append(h)
        cells.append(c)
        for name, gate in zip(LSTM_GATES, (i, f, g, o)):
            gates[name].append(gate)
    return _LayerSteps(_stack(hidden), _stack(cells), {name: _stack(v) for name, v in gates.items()})


def _gru_layer(inputs: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> _LayerSteps:
    projected = inputs @ w_ih.T + b_ih
    h = inputs.new_zeros(inputs.shape[0], w_hh.shape[1])
    hidden = []
    gates: dict[str, list[torch.Tensor]] = {name: [] for name in GRU_GATES}
    for t in range(inputs.shape[1]):
        x_r, x_z, x_n = projected[:, t].chunk(3, dim=1)
        h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)  # the reset gate scales only the recurrent part
        h = (1 - z) * n + z * h
        hidden.append(h)
        for name, gate in zip(GRU_GATES, (r, z, n)):
            gates[name].append(gate)
    return _LayerSteps(_stack(hidden), None, {name: _stack(v) for name, v in gates.items()})


def _stack(steps: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(steps, dim=1)


STEPPED_LAYERS = {"LSTM": _lstm_layer, "GRU": _gru_layer}


class RowClassifier(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.order = config.order
        self.recurrent = RECURRENT_LAYERS[config.cell_type](
            input_size=self.order.features,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
        )
        self.classifier = nn.Linear(config.hidden_size, NUM_CLASSES)

    def sequences(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 28, 28] (or [B, 1, 28, 28], ToTensor's channel) as the model reads them:
        [B, steps, pixels per step] in its reading order."""
        return self.order.sequences(images)

    def _scores(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.classifier(hidden), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, 10] after the last row."""
        return self.read(self.sequences(images))

    def read(self, sequences: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, 10] after the last step of sequences already in order."""
        outputs, _ = self.recurrent(sequences)
        return self._scores(outputs[:, -1])

    def row_log_probs(self, images: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [batch, steps, 10] after each row (step), from the fused kernel
        alone: the cheap way to score a whole test set row by row."""
        outputs, _ = self.recurrent(self.sequences(images))
        return self._scores(outputs)

    def trace(self, images: torch.Tensor) -> RowTrace:
        """Log-probabilities and hidden state after each row (step), and the top layer's cell
        state and gates (recomputed step by step: several times slower than forward)."""
        rows = self.sequences(images)
        outputs, _ = self.recurrent(rows)  # the fused kernel's h_t is what the model answers with
        top = self._top_layer_steps(rows)
        cell, gates = (None, {}) if top is None else (top.cell, top.gates)
        return RowTrace(self._scores(outputs), outputs, cell, gates)

    def _top_layer_steps(self, rows: torch.Tensor) -> _LayerSteps | None:
        """Every layer recomputed step by step, each fed the one below; the top one returned.
        None for a plain RNN: it has no gates or cell state to show."""
        step_layer = STEPPED_LAYERS.get(self.config.cell_type)
        if step_layer is None:
            return None
        layer_input = rows
        for k in range(self.config.num_layers):
            steps = step_layer(layer_input, *self._layer_weights(k))
            layer_input = steps.hidden
        return steps

    def _layer_weights(self, k: int) -> list[torch.Tensor]:
        return [getattr(self.recurrent, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
