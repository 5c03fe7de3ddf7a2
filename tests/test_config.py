import dataclasses

import pytest

from rnn_core.config import (
    ALL,
    DEFAULTS,
    PRESETS,
    SETTING,
    SETTINGS,
    ModelConfig,
    TrainConfig,
    config_from_dict,
    configs,
    describe,
    flat,
)


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: ModelConfig(hidden_size=0), "hidden_size"),
        (lambda: ModelConfig(cell_type="TRANSFORMER"), "cell_type"),
        (lambda: ModelConfig(num_layers=2.5), "num_layers"),
        (lambda: TrainConfig(learning_rate=0), "learning_rate"),
        (lambda: TrainConfig(batch_size=-5), "batch_size"),
        (lambda: TrainConfig(optimizer="RMSprop"), "optimizer"),
        (lambda: TrainConfig(device="tpu"), "device"),
        (lambda: TrainConfig(train_limit=0), "train_limit"),
        (lambda: TrainConfig(epochs=True), "epochs"),
    ],
)
def test_out_of_range_values_raise_value_error_naming_the_field(build, field):
    with pytest.raises(ValueError, match=f"^{field} must be"):
        build()


def test_every_config_field_is_declared_once_as_a_setting_with_its_default():
    fields = [f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)]
    assert [s.name for s in SETTINGS] == fields
    assert flat(ModelConfig(), TrainConfig()) == DEFAULTS
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)  # link keys never collide


def test_defaults_are_the_notebook_settings():
    assert PRESETS["notebook"].model == ModelConfig(hidden_size=20, num_layers=1, cell_type="LSTM")
    train = PRESETS["notebook"].train
    assert (train.optimizer, train.learning_rate, train.batch_size, train.epochs) == ("SGD", 0.1, 100, 10)


@pytest.mark.parametrize("declared", SETTINGS, ids=lambda s: s.name)
def test_every_value_a_setting_offers_is_valid_and_reads_back_from_its_text(declared):
    for value in declared.values:
        declared.check(value)
        assert declared.parse(declared.format(value)) == value


@pytest.mark.parametrize(
    "name, text, reason",
    [
        ("learning_rate", "fast", "must be a number"),
        ("hidden_size", "9999", "must be a whole number from 1 to 512"),
        ("optimizer", "rmsprop", "must be one of SGD, Adam"),
        ("num_layers", "1.5", "must be a whole number"),
    ],
)
def test_parsing_a_bad_text_says_what_is_allowed(name, text, reason):
    with pytest.raises(ValueError, match=reason):
        SETTING[name].parse(text)


def test_only_an_optional_setting_reads_all_as_none():
    assert SETTING["train_limit"].parse(ALL) is None
    with pytest.raises(ValueError):
        SETTING["batch_size"].parse(ALL)


def test_describe_names_a_model_and_its_training_the_same_way_everywhere():
    assert describe(ModelConfig()) == "LSTM, hidden 20, 1 layer"
    assert describe(ModelConfig(num_layers=2, hidden_size=1000 // 8)) == "LSTM, hidden 125, 2 layers"
    quick = PRESETS["quick"]
    assert (
        describe(quick.model, quick.train)
        == "LSTM, hidden 64, 1 layer, Adam, lr 0.01, batch 64, 3 epochs, 10,000 images, seed 0"
    )
    assert "all images" in describe(ModelConfig(), TrainConfig())
    # an extra most runs leave off is named only when a run uses it
    assert describe(ModelConfig(), TrainConfig(augment=0.5)).endswith("seed 0, augment 0.5")


def test_augmentation_is_off_by_default_and_in_every_preset_but_the_drawing_one():
    assert TrainConfig().augment == 0
    assert [name for name, preset in PRESETS.items() if preset.train.augment > 0] == ["drawing"]
    assert SETTING["augment"].parse("0.5") == 0.5 and SETTING["augment"].problem(1.5)


def test_weight_averaging_is_off_by_default_and_only_the_drawing_preset_averages():
    assert TrainConfig().average_from == 0
    assert [name for name, preset in PRESETS.items() if preset.train.average_from] == ["drawing"]
    assert "10 epochs, weights averaged from epoch 7" in describe(ModelConfig(), TrainConfig(average_from=7))
    assert SETTING["average_from"].parse("7") == 7 and SETTING["average_from"].problem(-1)


def test_configs_split_one_flat_dict_and_fill_in_defaults():
    model, train = configs({"hidden_size": 7, "epochs": 2, "unknown": 1})
    assert model == ModelConfig(hidden_size=7) and train == TrainConfig(epochs=2)


def test_config_from_dict_ignores_unknown_keys_and_still_validates():
    assert config_from_dict(ModelConfig, {"hidden_size": 7, "future_field": 1}).hidden_size == 7
    with pytest.raises(ValueError, match="hidden_size"):
        config_from_dict(ModelConfig, {"hidden_size": -1})


def test_the_reading_order_is_read_from_a_link_and_named_only_when_it_is_not_rows():
    assert SETTING["reading_order"].parse("rows-upward") == "rows-upward"
    with pytest.raises(ValueError, match="must be one of rows, rows-upward, columns, pixels, permuted"):
        SETTING["reading_order"].parse("spiral")
    assert "order" not in describe(ModelConfig())  # the notebook's model is described as before
    assert describe(ModelConfig(reading_order="permuted", order_seed=7)) == (
        "LSTM, hidden 20, 1 layer, permuted order, permutation 7"
    )
    assert all(preset.model.reading_order == "rows" for preset in PRESETS.values())
    assert ModelConfig(reading_order="columns").order.steps == 28


def test_a_value_read_back_from_a_table_column_is_shown_as_a_person_writes_it():
    train_limit = SETTING["train_limit"]
    assert train_limit.show(float("nan")) == "all"  # a run on every image, in a column with others
    assert train_limit.show(10000.0) == "10,000" and train_limit.show(3000.0) == "3000"
    assert train_limit.show(None) == "all" and train_limit.show(60_000) == "60,000"
