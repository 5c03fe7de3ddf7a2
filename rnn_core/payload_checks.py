"""Checks on what a checkpoint file unpacked to, one function per part, before any of it is used.

`torch.load(weights_only=True)` keeps code out, but not cost: a 9 KB pickle can unpack to a
list that refers to itself thousands of times (which torch's optimizer loading then walks as a
tree, 2^depth items), or to a one-byte storage seen as a tensor of 2^28 elements (which becomes
a GiB once anything copies it). So the whole payload is walked first, with a bound on depth and
on the number of items visited (shared references are counted each time they are met, so the
walk itself never costs more than its bound), and every tensor is measured by what it becomes,
`numel() * element_size()`, as well as by its storage. Then each part is checked against what
this app would have written there.
"""

from __future__ import annotations

import math
from typing import Any

import torch

# payload -> optimizer_state -> param_groups -> group -> betas -> number is 5 levels deep; the
# margin leaves room for new parts of the format, not for anything recursive.
MAX_DEPTH = 8
# A 25,000-epoch history is 200,000 values (keys not counted); everything else in a checkpoint
# is a few hundred.
MAX_ITEMS = 400_000
PLAIN_TYPES = (str, int, float, bool, type(None))
# Adam's step counter: 2^31 steps is 35,000 epochs of all of MNIST at batch size 1.
MAX_OPTIMIZER_STEPS = 2**31


def check_zip_start(raw: bytes) -> None:
    """A file torch.save wrote starts with its zip archive. Bytes before it (which zip readers
    skip) make torch read the whole file as an old-style pickle, with a misleading error."""
    if not raw.startswith(b"PK\x03\x04"):
        raise ValueError("not a checkpoint file: it has other data before the zip archive a checkpoint is")


def check_tensor(where: str, tensor: torch.Tensor, max_bytes: int) -> int:
    """A dense, real tensor no larger than `max_bytes` once materialised; returns that size."""
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_nested:
        kind = "quantized" if tensor.is_quantized else str(tensor.layout).removeprefix("torch.")
        raise ValueError(f"{where} is a {kind} tensor; a checkpoint holds dense ones")
    if tensor.is_complex():
        raise ValueError(f"{where} holds complex numbers; a checkpoint holds real ones")
    size = tensor.numel() * tensor.element_size()
    storage = tensor.untyped_storage().nbytes()
    if max(size, storage) > max_bytes:
        raise ValueError(
            f"{where} would take {max(size, storage) / 2**20:,.1f} MB, more than any tensor of this app "
            f"({max_bytes / 2**20:g} MB)"
        )
    return size


def check_plain_values(payload: Any, max_tensor_bytes: int, max_total_bytes: int) -> None:
    """Only mappings, lists, numbers, text and bounded tensors, nested at most MAX_DEPTH deep,
    at most MAX_ITEMS of them, and at most `max_total_bytes` of tensors in all."""
    stack: list[tuple[Any, str, int]] = [(payload, "", 0)]
    items = total = 0
    while stack:
        value, path, depth = stack.pop()
        where = path or "the file"
        items += 1
        if items > MAX_ITEMS:
            raise ValueError(f"it holds more than {MAX_ITEMS:,} values, more than any checkpoint of this app")
        if depth > MAX_DEPTH:
            raise ValueError(f"{where} is nested deeper than anything in a checkpoint of this app")
        if isinstance(value, torch.Tensor):
            total += check_tensor(where, value, max_tensor_bytes)
            if total > max_total_bytes:
                raise ValueError(
                    f"its tensors would take more than {max_total_bytes / 2**20:g} MB, "
                    "more than any checkpoint of this app"
                )
        elif isinstance(value, dict):
            stack.extend((item, f"{path}/{str(key)[:40]}".lstrip("/"), depth + 1) for key, item in value.items())
            if not all(isinstance(key, (str, int)) for key in value):
                raise ValueError(f"{where} has a key that is neither text nor a number")
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{path}/{index}".lstrip("/"), depth + 1) for index, item in enumerate(value))
        elif not isinstance(value, PLAIN_TYPES):
            raise ValueError(f"{where} is a {type(value).__name__}, which a checkpoint never holds")


def check_floating(where: str, tensor: Any) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{where} is a {type(tensor).__name__}, not a tensor")
    if not tensor.is_floating_point():
        raise ValueError(f"{where} holds {str(tensor.dtype).removeprefix('torch.')} values, not real numbers")
    return tensor


def check_optimizer_shape(state: Any, reference: dict[str, Any], optimizer: str) -> None:
    """What the optimizer state may hold: exactly the parts `reference` (the state_dict of the
    same optimizer, built for the same model, after one step) has, with its hyperparameters
    and tensor shapes. Checked before torch's own loading walks it."""
    try:
        if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
            raise ValueError("it must hold state and param_groups only")
        _check_param_groups(state["param_groups"], reference["param_groups"], optimizer)
        _check_param_states(state["state"], reference["state"], optimizer)
    except ValueError as err:
        raise ValueError(f"the optimizer state is not that of {optimizer} for this model ({err})") from None


def _check_param_groups(groups: Any, reference: list[dict[str, Any]], optimizer: str) -> None:
    if not isinstance(groups, list) or len(groups) != len(reference):
        raise ValueError(f"it must hold {len(reference)} parameter group")
    for group, expected in zip(groups, reference, strict=True):
        if not isinstance(group, dict):
            raise ValueError("a parameter group is not a mapping")
        unknown = sorted(str(key) for key in group if key not in expected)
        if unknown:
            raise ValueError(f"{optimizer} has no setting {', '.join(unknown)[:80]}")
        for key, value in group.items():
            if not _same_setting(value, expected[key]):
                wanted = "its train config's" if key == "lr" else "this app's"
                raise ValueError(f"its {key} is {value!r:.40}, not {wanted} {expected[key]!r:.40}")


def _same_setting(value: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isclose(value, expected, rel_tol=1e-9)
    if isinstance(expected, tuple) and isinstance(value, (tuple, list)) and len(value) == len(expected):
        return all(_same_setting(item, want) for item, want in zip(value, expected, strict=True))
    return type(value) is type(expected) and value == expected


def _check_param_states(states: Any, reference: dict[int, dict[str, Any]], optimizer: str) -> None:
    if not isinstance(states, dict):
        raise ValueError("its per-weight state is not a mapping")
    for index, entry in states.items():
        if index not in reference or not isinstance(entry, dict):
            raise ValueError(f"it has a state for weight {index!r:.30}, which {optimizer} here has not")
        for key, value in entry.items():
            if key not in reference[index]:
                raise ValueError(f"it holds {str(key)[:40]!r}, which {optimizer} never holds")
            where = f"its {key} of weight {index}"
            if key == "step":
                _check_step(where, value)
            elif check_floating(where, value).shape != reference[index][key].shape:
                raise ValueError(f"{where} does not have the shape of the weight")


def _check_step(where: str, value: Any) -> None:
    """A whole number of steps, as a number or a one-value tensor (torch has stored both)."""
    if isinstance(value, torch.Tensor):
        value = check_floating(where, value).item() if value.numel() == 1 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} is not a number")
    if not (math.isfinite(value) and value == int(value) and 0 <= value <= MAX_OPTIMIZER_STEPS):
        raise ValueError(f"{where} is {value:g}, a step count no training here can reach")
