"""Models to and from the teaching notebook's own class.

The notebook's `LSTMnist` keeps its recurrent layer in `self.lstm` and its output layer in
`self.hidden2digits`; `torch.save(model.state_dict(), path)` then holds `lstm.weight_ih_l0`,
`lstm.weight_hh_l0`, `lstm.bias_ih_l0`, `lstm.bias_hh_l0`, `hidden2digits.weight` and
`hidden2digits.bias`. The architecture is this app's `RowClassifier`; only the names differ
(`recurrent.*`, `classifier.*`). A student who swaps in `nn.GRU` or `nn.RNN`, renames the
attribute or stacks layers gets the same shape of file, so the reading goes by the tensors:

- the recurrent layer is the one prefix with `weight_ih_l0`; its layers are `_l0`, `_l1`, ...
- the hidden size is `weight_hh_l0`'s second dimension, and the number of gate blocks in its
  first (4 x hidden: LSTM, 3 x hidden: GRU, 1 x hidden: RNN) names the cell;
- the output layer is the other prefix, a `weight` of 10 x hidden and a `bias` of 10.

With stacked layers the output layer is taken to read the top layer's last hidden state, as
`RowClassifier` does (the notebook's one-layer `h_last[0]` is that same state).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_from_payload,
    is_ours,
    load_checkpoint,
    read_payload,
)
from .config import ModelConfig, TrainConfig
from .data import MnistData
from .evaluate import evaluate
from .history import EpochRecord

GATE_BLOCKS = {4: "LSTM", 3: "GRU", 1: "RNN"}
# The attribute names the code written by `rnn_core.export` gives the layers: the notebook's
# `lstm` for an LSTM, so that its own class loads the file.
NOTEBOOK_LAYER = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
NOTEBOOK_OUTPUT = "hidden2digits"
OURS_LAYER, OURS_OUTPUT = "recurrent", "classifier"
LAYER_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l([0-9]+)")


def is_notebook_state_dict(payload: Any) -> bool:
    """A plain mapping of names to tensors with a recurrent layer's first weight: what
    `model.state_dict()` of a notebook-style class is (and no checkpoint of this app)."""
    return (
        isinstance(payload, dict)
        and bool(payload)
        and all(isinstance(key, str) for key in payload)
        and any(key.endswith(".weight_ih_l0") for key in payload)
    )


def _split_prefixes(state_dict: dict[str, Any]) -> tuple[str, str]:
    """(recurrent layer's prefix, output layer's prefix), or ValueError saying what is odd."""
    prefixes = {key.rsplit(".", 1)[0] for key in state_dict if "." in key}
    recurrent = sorted(prefix for prefix in prefixes if f"{prefix}.weight_ih_l0" in state_dict)
    others = sorted(prefixes - set(recurrent))
    if len(recurrent) != 1 or len(others) != 1:
        raise ValueError(
            "expected one recurrent layer (nn.LSTM, nn.GRU or nn.RNN) and one linear layer, "
            f"found the parts {', '.join(sorted(prefixes))[:200]}"
        )
    return recurrent[0], others[0]


def _tensor(state_dict: dict[str, Any], key: str) -> torch.Tensor:
    value = state_dict.get(key)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{key} is missing" if value is None else f"{key} is not a tensor")
    return value


def read_notebook_model(state_dict: dict[str, Any]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The model config a notebook-style state_dict describes, and its weights under this
    app's names. ValueError, in words for the user, when the file does not fit the shape."""
    recurrent, output = _split_prefixes(state_dict)
    layer_keys = {key.split(".", 1)[1] for key in state_dict if key.startswith(f"{recurrent}.")}
    odd = sorted(key for key in layer_keys if not LAYER_KEY.fullmatch(key))
    if odd:
        # weight_hr (an LSTM with proj_size) or *_reverse (bidirectional): not this model
        raise ValueError(f"the recurrent layer has parts this app's model has not: {', '.join(odd)[:200]}")
    first_hh = _tensor(state_dict, f"{recurrent}.weight_hh_l0")
    if first_hh.dim() != 2 or first_hh.shape[1] == 0 or first_hh.shape[0] % first_hh.shape[1]:
        raise ValueError(f"{recurrent}.weight_hh_l0 has shape {tuple(first_hh.shape)}, not (gates x hidden, hidden)")
    hidden = first_hh.shape[1]
    cell_type = GATE_BLOCKS.get(first_hh.shape[0] // hidden)
    if cell_type is None:
        raise ValueError(
            f"{recurrent}.weight_hh_l0 has {first_hh.shape[0] // hidden} blocks of {hidden} rows: "
            "an LSTM has 4, a GRU 3, a plain RNN 1"
        )
    layers = 1 + max(int(match.group(2)) for key in layer_keys if (match := LAYER_KEY.fullmatch(key)))
    model_config = ModelConfig(cell_type=cell_type, hidden_size=hidden, num_layers=layers)  # checks the limits
    weights = {
        f"{OURS_LAYER}.{key}": _tensor(state_dict, f"{recurrent}.{key}")
        for key in sorted(layer_keys)  # a missing bias or layer is found by the shape checks
    }
    weights[f"{OURS_OUTPUT}.weight"] = _tensor(state_dict, f"{output}.weight")
    weights[f"{OURS_OUTPUT}.bias"] = _tensor(state_dict, f"{output}.bias")
    return model_config, weights


def load_model_file(source: Any) -> Checkpoint:
    """A model file as an upload may bring it: a checkpoint of this app, or a state_dict saved
    from the teaching notebook's class (LSTM, GRU or RNN, any size and layers)."""
    payload = read_payload(source)
    if is_ours(payload):
        return checkpoint_from_payload(payload)
    if is_notebook_state_dict(payload):
        return checkpoint_from_notebook(payload)
    raise CheckpointError(
        "a PyTorch file, but neither a checkpoint saved by this app nor a state_dict of the notebook's model"
    )


def checkpoint_from_notebook(state_dict: dict[str, Any]) -> Checkpoint:
    """A notebook-style state_dict as a checkpoint of this app: the notebook's training
    settings, no optimizer state and no history yet (`scored` adds it). It goes once through
    `load_checkpoint`, so its weights get every check a checkpoint's get (names, shapes: 28
    pixels in, 10 digits out; NaN or infinite values)."""
    try:
        model_config, weights = read_notebook_model(state_dict)
        return load_checkpoint(Checkpoint(model_config, TrainConfig(), weights).to_bytes())
    except (ValueError, CheckpointError) as err:
        raise CheckpointError(f"a model saved from the notebook's class, but {err}") from None


def scored(checkpoint: Checkpoint, data: MnistData) -> Checkpoint:
    """A checkpoint without a history (a notebook's model) with one: the test set scored
    now. How long it trained is not known; it is counted as one epoch."""
    if checkpoint.history:
        return checkpoint
    result = evaluate(checkpoint.build_model(), data.test_images, data.test_labels)
    record = EpochRecord(
        epoch=1,
        train_loss=None,
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        train_seconds=0.0,
        images_per_second=None,
    )
    return Checkpoint(checkpoint.model_config, checkpoint.train_config, checkpoint.state_dict, (record,))


def notebook_state_dict(checkpoint: Checkpoint) -> dict[str, torch.Tensor]:
    """The checkpoint's weights under the names the exported code's class (for an LSTM the
    notebook's `LSTMnist`) gives them: `lstm.weight_ih_l0`, ..., `hidden2digits.weight`."""
    layer = NOTEBOOK_LAYER[checkpoint.model_config.cell_type]
    renamed = {}
    for key, value in checkpoint.state_dict.items():
        module, name = key.split(".", 1)
        prefix = {OURS_LAYER: layer, OURS_OUTPUT: NOTEBOOK_OUTPUT}[module]
        renamed[f"{prefix}.{name}"] = value.detach().cpu().clone()
    return renamed
