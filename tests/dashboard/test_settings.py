"""The Train page's settings: presets, choices and the shareable page link."""

import pytest

from dashboard.settings import CUSTOM, control_kind, from_query, matching_preset, preset_values, to_query
from rnn_core.config import DEFAULTS, PRESETS, SETTING, SETTINGS, configs


def test_the_defaults_are_the_notebook_and_train_on_every_image():
    assert matching_preset(DEFAULTS) == "notebook"
    model, train = configs(DEFAULTS)
    assert model == PRESETS["notebook"].model
    assert train == PRESETS["notebook"].train and train.train_limit is None


def test_every_preset_is_one_of_the_offered_choices():
    for name in PRESETS:
        values = {**DEFAULTS, **preset_values(name)}
        for declared in SETTINGS:
            if control_kind(declared) in ("slider", "radio"):
                assert values[declared.name] in declared.values, (name, declared.name)
        assert matching_preset(values) == name


def test_changing_a_preset_setting_makes_it_custom_but_seed_and_data_size_do_not():
    assert matching_preset({**DEFAULTS, "hidden_size": 64}) == CUSTOM
    assert matching_preset({**DEFAULTS, "seed": 7, "train_limit": 1000}) == "notebook"


def test_the_quick_preset_names_its_data_size_so_another_size_makes_it_custom():
    quick = {**DEFAULTS, **preset_values("quick")}
    assert quick["train_limit"] == 10_000 and matching_preset(quick) == "quick"
    assert matching_preset({**quick, "train_limit": 20_000}) == CUSTOM
    assert to_query(quick) == {"preset": "quick"}
    assert from_query({"preset": "quick"}) == (quick, [])


def test_an_empty_link_gives_the_defaults_and_the_defaults_give_an_empty_link():
    assert from_query({}) == (DEFAULTS, [])
    assert to_query(DEFAULTS) == {}


def test_a_link_names_its_preset_and_what_differs_from_it():
    values = {**DEFAULTS, **preset_values("strong"), "learning_rate": 0.01, "seed": 3}
    link = to_query(values)
    assert link == {"lr": "0.01", "seed": "3", "hidden": "128", "layers": "2", "batch": "64", "optimizer": "Adam"}
    strong = {**DEFAULTS, **preset_values("strong"), "train_limit": 2000}
    assert to_query(strong) == {"preset": "strong", "images": "2000"}


@pytest.mark.parametrize(
    "changes",
    [
        {"hidden_size": 8, "train_limit": 500, "epochs": 2},
        {"learning_rate": 100.0, "optimizer": "Adam", "cell_type": "GRU", "num_layers": 3},
        {**preset_values("strong"), "seed": 2**31 - 1, "device": "cpu"},
        {"learning_rate": 1e-4, "batch_size": 1000},
    ],
)
def test_a_link_reproduces_the_settings(changes):
    values = {**DEFAULTS, **changes}
    assert from_query(to_query(values)) == (values, [])


def test_a_preset_in_a_link_fills_the_settings_and_its_own_values_win():
    values, problems = from_query({"preset": "strong", "lr": "0.003"})
    assert problems == []
    assert values == {**DEFAULTS, **preset_values("strong"), "learning_rate": 0.003}


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"lr": "abc"}, "learning_rate", "must be a number"),
        ({"lr": "0.05"}, "learning_rate", "must be one of"),
        ({"hidden": "24"}, "hidden_size", "must be one of"),
        ({"epochs": "0"}, "epochs", "from 1 to 200"),
        ({"epochs": "2.5"}, "epochs", "whole number"),
        ({"seed": "-1"}, "seed", "from 0 to"),
        ({"images": "lots"}, "train_limit", "all"),
        ({"cell": "Transformer"}, "cell_type", "LSTM"),
        ({"device": "tpu"}, "device", "cpu"),
    ],
)
def test_a_bad_value_in_a_link_falls_back_with_a_message(params, field, words):
    values, problems = from_query(params)
    assert values[field] == DEFAULTS[field]
    assert len(problems) == 1 and words in problems[0] and list(params)[0] in problems[0]


def test_an_unknown_preset_in_a_link_is_reported_and_the_rest_still_applies():
    values, problems = from_query({"preset": "huge", "hidden": "64"})
    assert values["hidden_size"] == 64 and values["num_layers"] == 1
    assert len(problems) == 1 and "huge" in problems[0]


def test_each_setting_gets_the_control_its_values_call_for():
    kinds = {declared.name: control_kind(declared) for declared in SETTINGS}
    assert kinds == {
        "cell_type": "radio",
        "hidden_size": "slider",
        "num_layers": "radio",
        "reading_order": "select",
        "order_seed": "number",
        "optimizer": "radio",
        "learning_rate": "slider",
        "batch_size": "slider",
        "epochs": "number",
        "average_from": "number",
        "train_limit": "slider",
        "seed": "number",
        "device": "select",
        "augment": "slider",
    }


def test_only_devices_this_machine_has_are_offered():
    devices = SETTING["device"].values_here()
    assert devices[:2] == ("auto", "cpu")
    assert all(device in ("cuda", "mps") for device in devices[2:])


def test_the_drawing_presets_link_sets_its_augmentation_and_leaving_it_off_is_the_strong_preset():
    drawing, errors = from_query({"preset": "drawing"})
    assert errors == [] and drawing["augment"] == PRESETS["drawing"].train.augment > 0
    assert matching_preset(drawing) == "drawing" and to_query(drawing) == {"preset": "drawing"}
    assert matching_preset({**drawing, **preset_values("strong")}) == "strong"
