"""The Train page's sentences: durations, what Continue will do with a run, and what to change
when a finished run learned next to nothing."""

from __future__ import annotations

import math

from rnn_core.config import describe
from rnn_core.registry import RunView

NEAR_CHANCE = 20.0  # test accuracy (%) at or below which a finished run learned next to nothing
# Train's label while this browser's run trains: a label of its own, so a button of its own.
ALONGSIDE = "Start another run alongside"
STRIP_UNTRAINED = "Twenty test digits: their guesses show once a model has trained an epoch."


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# A run stopped before it had a model: in line for a slot, or while its untrained model was scored.
NO_MODEL_TO_CONTINUE = "It has no model to go on from: **Train** starts a new run."


def continue_plan(view: RunView) -> str:
    """What Continue does with this run, in words: an epoch a stop cut short is finished first,
    so that epochs stay whole."""
    if not view.has_model:
        return NO_MODEL_TO_CONTINUE
    trained = view.history[-1].epoch if view.history else 0
    if float(trained).is_integer():
        return "**Continue** trains it *More epochs* further."
    return (
        f"It has trained {trained:g} epochs: **Continue** first finishes epoch {math.ceil(trained)}, "
        "then trains *More epochs* more."
    )


def learned_little(view: RunView) -> bool:
    return bool(view.history) and view.history[-1].test_accuracy <= NEAR_CHANCE


def near_chance_advice(view: RunView) -> str:
    """Why a finished run is near chance, and what to change: small quick runs otherwise end
    at 10% without a word."""
    train, last = view.record.train_config, view.history[-1]
    sgd = (
        " SGD needs many batches to get going: the notebook's model is at about 33% after one epoch of all "
        "60,000 images."
        if train.optimizer == "SGD"
        else ""
    )
    return (
        f"but it learned next to nothing: {last.test_accuracy:.1f}% on the test set is what guessing gives (10%), "
        f"trained as {describe(view.record.model_config, train)}.{sgd} To learn more, give it more images or "
        "epochs, a higher learning rate, "
        "or **Adam**: the **quick** preset gets over 90% from 10,000 images in 3 epochs."
    )


def grid_near_chance_advice() -> str:
    """For a sweep whose every finished run ended at chance: the grid, not the luck, is at fault."""
    return (
        f"Every finished run of this sweep ended at {NEAR_CHANCE:.0f}% or less, what guessing gives: none of these "
        "settings learned in the budget given. Try more images or epochs, a higher learning rate, or **Adam** "
        "(the **quick** preset gets over 90% from 10,000 images in 3 epochs)."
    )


def train_help(alongside: bool, at_limit: bool, limit: int) -> str:
    """What Train will do: a new run, or, while this browser's run trains, a second one."""
    if not alongside:
        return "Train a new model with the training settings, as a new run."
    if at_limit:
        return (
            f"You have {limit} runs training or waiting, as many as this server allows one browser: "
            "stop one, or wait until one ends, to start another."
        )
    return (
        "Your run on show is still training. This starts a second run with the training settings, "
        "beside it; both share the server's cores, so each trains slower."
    )
