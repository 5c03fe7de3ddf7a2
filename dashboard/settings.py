"""The settings panel: a control per setting, the presets, and the shareable page link.

Everything here is derived from the declarations in `rnn_core.config`: a setting added there
gets its control, its link key and its place in the presets without a change here. The page
link carries only what differs from the defaults (or from the preset named in it), so a link
stays short and a teacher can share `?preset=strong&lr=0.01`. Reading a link never fails: a
value that is not allowed is left out and explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import streamlit as st

from rnn_core.config import DEFAULTS, PRESETS, SETTINGS, ModelConfig, Setting, TrainConfig, configs

CUSTOM = "custom"
DEFAULT_PRESET = "notebook"
PRESET_CHOICES = (*PRESETS, CUSTOM)
PRESET_PARAM = "preset"
TRAIN_PANEL = "train"  # the Train page's panel: its controls are keyed train_<setting>


Control = Literal["slider", "radio", "number", "select"]
FEW = 3  # choices or whole numbers few enough to show side by side as buttons


def control_kind(declared: Setting) -> Control:
    """How a person sets it, from what the setting is: a few choices side by side, more in a
    list; fractions, and values spread over orders of magnitude, on a slider of the offered ones;
    a small range of whole numbers as buttons; any other whole number typed."""
    if declared.choices is not None:
        return "radio" if len(declared.choices) <= FEW else "select"
    if declared.log_scale or declared.kind is float:
        return "slider"
    low, high = declared.bounds
    return "radio" if declared.offered is None and high - low < FEW else "number"


def preset_values(name: str) -> dict[str, Any]:
    """What picking a preset sets: how the model is built and learns. The incidental settings
    (seed, device) stay the user's, and so does an optional one the preset leaves at "all"."""
    values = PRESETS[name].values()
    return {
        s.name: values[s.name] for s in SETTINGS if not s.incidental and not (s.optional and values[s.name] is None)
    }


def matching_preset(values: Mapping[str, Any]) -> str:
    """The preset these settings are, or CUSTOM."""
    for name in PRESETS:
        if all(values[field] == value for field, value in preset_values(name).items()):
            return name
    return CUSTOM


def read(declared: Setting, raw: str) -> Any:
    """A setting's value from a link: what its control can show, since a slider or a radio
    cannot hold a value it does not offer."""
    value = declared.parse(raw)
    if control_kind(declared) in ("slider", "radio") and value not in declared.values:
        raise ValueError(f"must be one of {', '.join(map(declared.show, declared.values))}")
    return value


def from_query(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Settings from a page link: the defaults, then its preset, then its own values.

    Returns the settings and one message per value that was left out, as plain text: the
    values come from whoever wrote the link, so the page must escape them.
    """
    values, problems = dict(DEFAULTS), []
    preset = params.get(PRESET_PARAM)
    if preset is not None:
        if preset in PRESETS:
            values.update(preset_values(preset))
        elif preset != CUSTOM:
            problems.append(f"{PRESET_PARAM}={preset[:40]} must be one of {', '.join(PRESET_CHOICES)}: ignored.")
    for declared in SETTINGS:
        raw = params.get(declared.key)
        if raw is None:
            continue
        try:
            values[declared.name] = read(declared, raw)
        except ValueError as err:
            problems.append(f"{declared.key}={raw[:40]} {err}: using {declared.format(values[declared.name])}.")
    return values, problems


def to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The page link for these settings: the preset they match, and what differs from it."""
    preset = matching_preset(values)
    base = {**DEFAULTS, **preset_values(preset)} if preset != CUSTOM else DEFAULTS
    params = {PRESET_PARAM: preset} if preset not in (CUSTOM, DEFAULT_PRESET) else {}
    for declared in SETTINGS:
        if values[declared.name] != base[declared.name]:
            params[declared.key] = declared.format(values[declared.name])
    return params


# ----- the panel ---------------------------------------------------------------------------


def widget_key(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def current_values(prefix: str) -> dict[str, Any]:
    """The panel's settings as they stand (the defaults where a control was never drawn)."""
    return {s.name: st.session_state.get(widget_key(prefix, s.name), s.default) for s in SETTINGS}


def read_link_once(prefix: str) -> list[str]:
    """The controls start from the page link the first time this tab opens the page; after
    that they keep their own values, also across page switches. Returns the link's problems
    (plain text), once."""
    if st.session_state.get(widget_key(prefix, "link_read")):
        return []
    values, problems = from_query(st.query_params.to_dict())
    for name, value in values.items():
        st.session_state[widget_key(prefix, name)] = value
    st.session_state[widget_key(prefix, "preset")] = matching_preset(values)
    st.session_state[widget_key(prefix, "link_read")] = True
    return problems


def _apply_preset(prefix: str) -> None:
    name = st.session_state[widget_key(prefix, "preset")]
    if name != CUSTOM:
        for field, value in preset_values(name).items():
            st.session_state[widget_key(prefix, field)] = value


def _name_preset(prefix: str) -> None:
    st.session_state[widget_key(prefix, "preset")] = matching_preset(current_values(prefix))


def control(declared: Setting, prefix: str, label: str | None = None, **options: Any) -> None:
    """The widget for one setting, keyed `<prefix>_<name>`, with its label and help."""
    key, label = widget_key(prefix, declared.name), label or declared.label
    shared = {"key": key, "help": declared.help, "persist_state": "session", **options}
    kind = control_kind(declared)
    if kind == "number":
        st.number_input(label, int(declared.bounds[0]), int(declared.bounds[1]), step=1, **shared)
    elif kind == "radio":
        st.radio(label, declared.values_here(), horizontal=True, format_func=declared.show, **shared)
    elif kind == "select":
        st.selectbox(label, declared.values_here(), format_func=declared.show, **shared)
    else:
        st.select_slider(label, declared.values, format_func=declared.show, **shared)


def panel(prefix: str) -> tuple[ModelConfig, TrainConfig]:
    """Every setting's control under a preset picker; returns the configs they make. Moving a
    control names the preset the settings now match (or custom)."""
    presets = " ".join(f"**{name}**: {preset.description}" for name, preset in PRESETS.items())
    st.selectbox(
        "Preset",
        PRESET_CHOICES,
        key=widget_key(prefix, "preset"),
        persist_state="session",
        on_change=_apply_preset,
        args=(prefix,),
        help=f"{presets} Picking one fills the controls below; changing a control makes it custom.",
    )
    for declared in SETTINGS:
        if not declared.incidental:
            control(declared, prefix, on_change=_name_preset, args=(prefix,))
    incidental = [declared for declared in SETTINGS if declared.incidental]
    with st.expander(" and ".join(declared.label for declared in incidental)):
        for declared in incidental:
            control(declared, prefix, on_change=_name_preset, args=(prefix,))
    return configs(current_values(prefix))
